"""The warehouse DAG loads every landed window it does not hold yet, idempotently, whatever triggered it."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from dagfiles import landed_asset_events, load

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
    assert outlet.name == "intervals_landed_events"
    assert list(load_dag.timetable.asset_condition.objects) == [outlet]
    assert load_dag.task_dict["load_windows"].inlets == [outlet]
    new_events = load("intervals_new_events").dag
    assert new_events.task_dict["land_new_events_window"].outlets == [outlet]


def ledger(path):
    return table(path, "SELECT date_from, date_to, write_id FROM intervals_events_windows ORDER BY 1")


def test_loads_every_landed_window_and_a_rerun_adds_no_duplicates(api, chain, run_dag, tmp_path):
    land, load_dag = chain
    for day in (DAY1, DAY2):
        assert run_dag(land, day).state == "success"

    result = run_dag(load_dag, DAY2)  # a manual run: no triggering asset event, it reconciles
    assert result.state == "success"
    want = expected(api, "2025-06-01", "2025-06-02")
    assert want, "the seeded data has events on both days"
    assert table(tmp_path / "wh" / "intervals.duckdb") == want
    windows = result.xcom("load_windows")["windows"]
    assert [(w["date_from"], w["rows"], w["distinct_ids"]) for w in windows] == [
        ("2025-06-01", len(expected(api, "2025-06-01")), len(expected(api, "2025-06-01"))),
        ("2025-06-02", len(expected(api, "2025-06-02")), len(expected(api, "2025-06-02"))),
    ]
    assert [row[:2] for row in ledger(tmp_path / "wh" / "intervals.duckdb")] == [
        ("2025-06-01", "2025-06-01"), ("2025-06-02", "2025-06-02"),
    ]  # fmt: skip

    # Nothing new: nothing loaded. Land day 2 again (a new write): only that window is replaced.
    assert run_dag(load_dag, DAY2).xcom("load_windows")["windows"] == []
    assert run_dag(land, DAY2).state == "success"
    again = run_dag(load_dag, DAY2)
    assert [w["date_from"] for w in again.xcom("load_windows")["windows"]] == ["2025-06-02"]
    assert table(tmp_path / "wh" / "intervals.duckdb") == want
    # reload_all reloads every published window, loaded or not.
    every = run_dag(load_dag, DAY2, run_conf={"reload_all": True})
    assert [w["date_from"] for w in every.xcom("load_windows")["windows"]] == ["2025-06-01", "2025-06-02"]
    assert table(tmp_path / "wh" / "intervals.duckdb") == want


def test_a_load_that_sees_one_asset_event_loads_every_window_landed_meanwhile(api, chain, run_dag, tmp_path):
    """Four landings finish together; the scheduler hands the load one asset event (Airflow #56050)."""
    land, load_dag = chain
    days = [dt.datetime(2025, 7, d, tzinfo=dt.UTC) for d in (2, 3, 4, 5)]
    for day in days:
        assert run_dag(land, day).state == "success"
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        last = session.scalars(
            select(AssetEvent.id).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "intervals_landed_events").order_by(AssetEvent.id.desc())
        ).first()  # fmt: skip
    assert landed_asset_events()[-1]["date_from"] == "2025-07-04"

    result = run_dag(load_dag, days[-1], consumed_asset_events=[last])
    assert result.state == "success"
    out = result.xcom("load_windows")
    assert out["asset_events"] == 1
    assert [w["date_from"] for w in out["windows"]] == [
        "2025-07-01",
        "2025-07-02",
        "2025-07-03",
        "2025-07-04",
    ]
    landed = ["2025-07-01", "2025-07-02", "2025-07-03", "2025-07-04"]
    assert table(tmp_path / "wh" / "intervals.duckdb") == expected(api, *landed) != []
    assert [row[0] for row in ledger(tmp_path / "wh" / "intervals.duckdb")] == landed

    # The next asset-triggered run (the scheduler may still make one) finds nothing left to load.
    assert run_dag(load_dag, days[-1], consumed_asset_events=[last]).xcom("load_windows")["windows"] == []


def test_a_manual_run_with_nothing_landed_fails_with_a_message(chain, run_dag, capfd):
    _, load_dag = chain
    assert run_dag(load_dag, DAY1).state == "failed"
    out, err = capfd.readouterr()
    assert "No landed window in file://" in out + err
    assert "run intervals_land_events first" in out + err


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
