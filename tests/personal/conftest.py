"""Fixtures for the personal-data tests: pseudonymisation keys in connections, the sandbox's registrants."""

from __future__ import annotations

import json
import secrets

import pytest


@pytest.fixture
def key_conn(monkeypatch):
    """Return ``make(conn_id="intervals_pseudonymisation", version="v1") -> key``: a new key in a connection.

    The connection comes from the environment (``AIRFLOW_CONN_*``), as from any secrets backend;
    each key is random, so a test finds it in an artefact only if the provider put it there.
    """

    def make(conn_id: str = "intervals_pseudonymisation", version: str = "v1", key: str | None = None) -> str:
        key = key or f"pk_{secrets.token_urlsafe(32)}"
        conn = {"conn_type": "generic", "password": key, "extra": {"key_version": version}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return key

    return make


@pytest.fixture
def registrants(api):
    """Return ``(event_id, registrations)``: a seeded event with at least 6 registrations, bibs among them."""
    for event in api.store.iter_events():
        regs = list(api.store.iter_registrations(event["_id"]))
        if len(regs) >= 6 and all("bibIdentifier" in r for r in regs):
            return event["_id"], regs
    raise AssertionError("no seeded event with 6 registrations and bibs")
