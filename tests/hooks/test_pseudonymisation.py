"""The pseudonymisation key's connection: read, checked, and never shown."""

from __future__ import annotations

import json

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.pseudonymisation import IntervalsPseudonymisationHook
from airflow_provider_intervals.personal import Pseudonymiser

KEY = "hook-test-key-" + "z" * 30


def _conn(monkeypatch, conn_id: str = "intervals_pseudonymisation", **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "generic", **fields}))


def test_the_key_and_its_version_come_from_the_default_connection(monkeypatch):
    _conn(monkeypatch, password=KEY, extra={"key_version": "v4"})
    pseudonymiser = IntervalsPseudonymisationHook().pseudonymiser
    assert pseudonymiser.version == "v4"
    assert pseudonymiser.token("email", "a@b.org") == Pseudonymiser(KEY, "v4").token("email", "a@b.org")


def test_another_connection_by_its_id(monkeypatch):
    _conn(monkeypatch, "keys_2026", password=KEY, extra={"key_version": "2026-01"})
    assert IntervalsPseudonymisationHook("keys_2026").pseudonymiser.version == "2026-01"


def test_a_missing_connection_names_it_and_every_way_out(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", raising=False)
    with pytest.raises(exc.IntervalsConfigurationError) as raised:
        _ = IntervalsPseudonymisationHook().pseudonymiser
    message = str(raised.value)
    assert "'intervals_pseudonymisation' does not exist" in message
    assert '"key_version": "v1"' in message
    assert 'personal_data="drop"' in message
    assert '"keep"' in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"extra": {"key_version": "v1"}}, "has no pseudonymisation key"),
        ({"password": "short-key", "extra": {"key_version": "v1"}}, "too short"),
        ({"password": KEY}, "key_version=None"),
        ({"password": KEY, "extra": {"key_version": "v 1"}}, "key_version='v 1'"),
    ],
    ids=["no-key", "short-key", "no-version", "bad-version"],
)
def test_a_bad_connection_fails_naming_what_to_fix_never_the_key(monkeypatch, fields, expected):
    _conn(monkeypatch, **fields)
    with pytest.raises(exc.IntervalsConfigurationError, match=expected) as raised:
        _ = IntervalsPseudonymisationHook().pseudonymiser
    assert "intervals_pseudonymisation" in str(raised.value)
    assert "short-key" not in str(raised.value)
    assert KEY not in str(raised.value)


def test_the_test_action_tells_the_version_not_the_key(monkeypatch):
    _conn(monkeypatch, password=KEY, extra={"key_version": "v1"})
    ok, message = IntervalsPseudonymisationHook().test_connection()
    assert ok
    assert "'v1'" in message
    assert KEY not in message
    _conn(monkeypatch, password="short", extra={"key_version": "v1"})
    assert IntervalsPseudonymisationHook().test_connection()[0] is False


def test_the_hook_reads_nothing_until_asked(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", raising=False)
    hook = IntervalsPseudonymisationHook()  # no connection: building it must not fail
    assert hook.pseudonymisation_conn_id == "intervals_pseudonymisation"
