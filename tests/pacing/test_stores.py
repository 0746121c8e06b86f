"""Stores: every kind changes a key's entry atomically across real processes; a failing store is
replaced by the process's memory with one warning per process and key."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid

import pytest
from pacing_child import run_children

from airflow_provider_intervals.pacing import stores
from airflow_provider_intervals.pacing.stores import Failover, FileStore, MemoryStore

PROCESSES, EACH = 4, 150


@pytest.mark.slow  # four processes and a store server, per store: 2 s to 10 s each
def test_every_store_changes_an_entry_atomically_across_processes(store_conn, fresh_pacing):
    """Four processes add 1 to one entry 150 times each, at once: no increment is lost."""
    conn_id, env = store_conn
    spec = {"job": "increment", "pacing_conn_id": conn_id, "count": EACH}
    results = run_children([spec] * PROCESSES, {**os.environ, **env})
    # Each process also made one increment while getting ready.
    assert max(r["n"] for r in results) == PROCESSES * (EACH + 1)


@pytest.mark.slow  # eight processes on a fresh PostgreSQL database: about 5 s
def test_workers_starting_at_once_on_a_fresh_postgres_database_all_share_its_store(postgres_port):
    """Eight processes reach a database without the table at the same moment: each creates the table
    or finds it, inserts the key's row or finds it, and none falls back to pacing alone (the suite in
    parallel once saw a process meet both races and fail over)."""
    import psycopg2

    database = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=postgres_port, user="airflow", dbname="airflow")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    admin.close()
    conn_id = f"pacing_{database}"
    conn = {"conn_type": "postgres", "host": "127.0.0.1", "port": postgres_port, "login": "airflow",
            "schema": database}  # fmt: skip
    env = {**os.environ, f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}
    spec = {"job": "increment", "pacing_conn_id": conn_id, "count": 20, "connect_at_start": True}
    results = run_children([spec] * 8, env)
    assert max(r["n"] for r in results) == 8 * 21  # every increment reached the one shared row


def test_a_damaged_entry_reads_as_a_fresh_one(tmp_path):
    store = FileStore(tmp_path / "pacing")
    store.update("key", lambda entry: entry.update(tokens=1.0))
    (tmp_path / "pacing" / "key.json").write_text('{"tokens": 17')  # a write cut short
    assert store.update("key", lambda entry: dict(entry)) == {}
    store.update("key", lambda entry: entry.update(tokens=1.5))
    assert store.update("key", lambda entry: dict(entry)) == {"tokens": 1.5}
    assert (tmp_path / "pacing").stat().st_mode & 0o777 == 0o700  # the user's only
    assert (tmp_path / "pacing" / "key.json").stat().st_mode & 0o777 == 0o600


def test_a_failing_store_is_replaced_by_memory_with_one_warning_per_key(tmp_path, caplog, monkeypatch):
    (tmp_path / "taken").write_text("a file where the directory should be")
    broken = FileStore(tmp_path / "taken" / "pacing")
    caplog.set_level(logging.DEBUG, logger="airflow_provider_intervals.pacing")
    stores.forget_failures()
    one, two = Failover(broken, "key-one"), Failover(broken, "key-two")
    for failover in (one, two, one):
        for _ in range(20):
            failover.update(lambda entry: entry.update(n=entry.get("n", 0) + 1))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per key, not one per change
    assert warnings[0].startswith(f"Pacing API key key-one: {broken.name} failed (NotADirectoryError")
    assert "this process paces the key alone" in warnings[0]
    assert stores.MEMORY.update("key-one", lambda entry: entry["n"]) == 40  # paced on, in memory
    stores.forget_failures()


def test_the_failover_starts_from_the_last_shared_state_and_returns_to_the_store(
    tmp_path, caplog, monkeypatch
):
    stores.forget_failures()
    directory = tmp_path / "shared"
    failover = Failover(FileStore(directory), "key")
    failover.update(lambda entry: entry.update(n=5))
    (directory / "key.json").unlink()
    directory.rmdir()
    directory.write_text("now a file: every change fails")
    failover.update(lambda entry: entry.update(n=entry["n"] + 1))  # from the last state seen: 6
    assert not failover.shared
    directory.unlink()
    monkeypatch.setattr(stores, "RETRY_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="airflow_provider_intervals.pacing")
    assert failover.update(lambda entry: entry.get("n", 0)) == 0  # the store again (a fresh entry)
    assert failover.shared
    assert any("again" in r.getMessage() for r in caplog.records)
    stores.forget_failures()


def test_a_memory_store_keeps_entries_per_digest():
    store = MemoryStore()
    store.update("a", lambda entry: entry.update(n=1))
    assert store.update("b", lambda entry: dict(entry)) == {}
    assert store.update("a", lambda entry: entry["n"]) == 1


class _DiesForEveryoneAtOnce:
    """A store that fails each caller only once all four callers are inside it (a server that dies
    while every stream of a task is asking it)."""

    name = "a store that dies"

    def __init__(self) -> None:
        self.barrier = threading.Barrier(4)

    def update(self, digest, change):
        self.barrier.wait(timeout=10)
        raise ConnectionError("gone")


def test_streams_that_meet_a_failing_store_together_book_on_from_one_copy_of_its_state():
    stores.forget_failures()
    failover = Failover(MemoryStore(), "key")
    failover.update(lambda entry: entry.update(n=10))  # the last state the store gave
    failover.store = _DiesForEveryoneAtOnce()

    def add() -> None:
        failover.update(lambda entry: entry.update(n=entry["n"] + 1))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stores.MEMORY.update("key", lambda entry: entry["n"]) == 14  # no booking overwritten
    stores.forget_failures()
