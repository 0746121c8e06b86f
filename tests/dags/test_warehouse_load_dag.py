"""The warehouse DAG loads landed windows named by the events asset's events, idempotently."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from dagfiles import load

DAY1, DAY2 = dt.datetime(2025, 6, 2, tzinfo=dt.UTC), dt.datetime(2025, 6, 3, tzinfo=dt.UTC)


@pytest.fixture
def chain(api, make_conn, run_dag, tmp_path, monkeypatch):
    """The landing and warehouse DAGs on a fresh landing zone and DuckDB file."""
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/lake")
    monkeypatch.setenv("INTERVALS_WAREHOUSE_PATH", str(tmp_path / "wh" / "intervals.duckdb"))
    return load("intervals_land_events").dag, load("intervals_warehouse_load").dag


def table(path, sql="SELECT date::VARCHAR, event_id FROM intervals_events ORDER BY date, event_id"):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def expected(api, *days: str) -> list[tuple[str, str]]:
    return sorted((e["date"], e["_id"]) for d in days for e in api.store.iter_events(date_from=d, date_to=d))


def test_warehouse_dag_is_scheduled_on_the_landing_dags_asset(chain):
    land, load_dag = chain
    (outlet,) = land.task_dict["land_events"].outlets
    assert [a.uri for a in load_dag.timetable.asset_condition.objects] == [outlet.uri]
    assert load_dag.task_dict["load_windows"].inlets == [outlet]


def test_loads_the_landed_windows_from_the_asset_events_and_a_rerun_adds_no_duplicates(
    api, chain, run_dag, tmp_path
):
    land, load_dag = chain
    for day in (DAY1, DAY2):
        assert run_dag(land, day).state == "success"

    result = run_dag(load_dag, DAY2, run_conf={"reload_latest": 2})
    assert result.state == "success"
    want = expected(api, "2025-06-01", "2025-06-02")
    assert want, "the seeded data has events on both days"
    assert table(tmp_path / "wh" / "intervals.duckdb") == want
    windows = result.xcom("load_windows")["windows"]
    assert [(w["date_from"], w["rows"], w["distinct_ids"]) for w in windows] == [
        ("2025-06-01", len(expected(api, "2025-06-01")), len(expected(api, "2025-06-01"))),
        ("2025-06-02", len(expected(api, "2025-06-02")), len(expected(api, "2025-06-02"))),
    ]

    # Land day 2 again (a rerun) and load the latest event only: that window is replaced.
    assert run_dag(land, DAY2).state == "success"
    assert run_dag(load_dag, DAY2).state == "success"
    assert table(tmp_path / "wh" / "intervals.duckdb") == want


def test_a_window_load_is_one_transaction_a_failure_leaves_the_old_rows(api, chain, run_dag, tmp_path):
    land, load_dag = chain
    assert run_dag(land, DAY1).state == "success"
    assert run_dag(load_dag, DAY1).state == "success"
    before = table(tmp_path / "wh" / "intervals.duckdb")
    assert run_dag(land, DAY1).state == "success"
    # Corrupt the landed part: the reload fails after its delete, which must be rolled back.
    (part,) = (tmp_path / "lake").rglob("part-*")
    part.write_bytes(b"not gzip")
    assert run_dag(load_dag, DAY1).state == "failed"
    assert table(tmp_path / "wh" / "intervals.duckdb") == before != []


def test_targets_any_sql_warehouse_by_connection_chosen_by_a_variable_at_run_time(
    api, chain, run_dag, tmp_path, monkeypatch
):
    import sqlite3

    land, load_dag = chain
    db = tmp_path / "warehouse.sqlite"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    # A Variable from the environment, read by the task's template at run time (not at parse).
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_WAREHOUSE_CONN", "warehouse")
    assert run_dag(land, DAY1).state == "success"
    for _ in range(2):
        result = run_dag(load_dag, DAY1)
        assert result.state == "success"
    assert result.xcom("load_windows")["warehouse"] == "connection warehouse"
    with sqlite3.connect(db) as con:
        rows = sorted(con.execute("SELECT date, event_id FROM intervals_events").fetchall())
    assert rows == expected(api, "2025-06-01")
    assert not (tmp_path / "wh").exists(), "the DuckDB default was not used"
