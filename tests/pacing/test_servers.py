"""Stores on servers, through Airflow connections: the hooks share a key's allowance through Redis
or a SQL database, and a store that is unreachable or dies mid-run costs one warning, not a task."""

from __future__ import annotations

import json
import logging
import shutil
import threading

import pytest

from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.pacing import servers
from airflow_provider_intervals.supervisor import Child, free_port

MONTHS = [("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28"), ("2025-03-01", "2025-03-31"),
          ("2025-04-01", "2025-04-30")]  # fmt: skip


def _land_four_months(api) -> int:
    """List four months at once, one hook per thread (a landing's four sub-windows); return the count."""
    counts = [0] * len(MONTHS)

    def work(i: int) -> None:
        first, last = MONTHS[i]
        counts[i] = sum(1 for _ in IntervalsHook().iter_events(date_from=first, date_to=last, limit=20))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(MONTHS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def _want(api) -> int:
    return sum(api.store.count_events(date_from=a, date_to=b) for a, b in MONTHS)


def _warnings(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name.endswith("pacing") and r.levelno >= logging.WARNING
    ]


@pytest.fixture
def limited(api, make_conn, monkeypatch, fresh_pacing, caplog):
    """The sandbox at 20 requests/s (burst 5) for its key; ``connect(redis_conn)`` points the
    default connection's ``pacing_conn_id`` at a Redis connection of that definition.

    (The sandbox serves from this process: at a faster rate, a thread switch that delays a
    request makes the next ones arrive bunched, and a 429 says so.)"""
    api.rate_limits = {"enterprise": (20, 1.0, 5)}
    caplog.set_level(logging.INFO, logger="airflow_provider_intervals.pacing")

    def connect(conn: dict) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_PACING_STORE", json.dumps(conn))
        make_conn(api, pacing_conn_id="pacing_store", page_size=20)

    return connect


@pytest.mark.wallclock  # the 429s of four streams paced at 20/s (burst 5)
def test_an_unreachable_store_paces_the_process_alone_with_one_warning(api, limited, caplog):
    limited({"conn_type": "redis", "host": "127.0.0.1", "port": free_port()})  # nobody listens
    assert _land_four_months(api) == _want(api)
    (warning,) = _warnings(caplog)
    assert "the shared pacing store of connection 'pacing_store' (redis://127.0.0.1:" in warning
    assert "ConnectionError" in warning
    assert "this process paces the key alone" in warning
    assert api.stats["by_status"].get(429, 0) <= 2  # paced (unpaced, these four streams draw about 30)


@pytest.mark.wallclock  # the 429s of four streams paced at 20/s (burst 5)
def test_a_store_that_dies_mid_run_costs_one_warning_and_no_request(api, limited, caplog, tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with Child(["redis-server", *args], cwd=tmp_path, log=tmp_path / "redis.log") as server:
        import redis

        client = redis.Redis(port=port)
        server.wait_until("PONG", client.ping, 10, every=0.02)
        limited({"conn_type": "redis", "host": "127.0.0.1", "port": port})
        assert _land_four_months(api) == _want(api)
        assert [key.decode() for key in client.scan_iter()] == [
            servers.REDIS_PREFIX + IntervalsHook().bucket.digest
        ]
        assert _warnings(caplog) == []
    assert server.returncode is not None  # stopped: the store is gone
    api.reset_stats()
    assert _land_four_months(api) == _want(api)  # the same process, the store gone
    assert len(_warnings(caplog)) == 1
    assert api.stats["by_status"].get(429, 0) <= 2  # paced (unpaced, these four streams draw about 30)
