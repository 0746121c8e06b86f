"""The example events DAG lands on S3 (SeaweedFS on loopback) and the warehouse DAG loads from there.

Lives beside the S3 fixtures (``tests/operators/conftest.py``); the DAG files are loaded the
way Airflow does, with the DAGs folder on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import duckdb
import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.storage import iter_records

DAGS = Path(__file__).resolve().parents[2] / "dags"
if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))

pytestmark = pytest.mark.s3


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_s3_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_events_dag_lands_on_s3_and_the_warehouse_loads_it(
    api, make_conn, run_dag, s3_conn, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", "s3://lake/example-dag")
    monkeypatch.setenv("INTERVALS_LANDING_CONN", s3_conn)
    monkeypatch.setenv("INTERVALS_WAREHOUSE_PATH", str(tmp_path / "intervals.duckdb"))
    land, warehouse = load("intervals_land_events").dag, load("intervals_warehouse_load").dag
    assert [a.uri for a in land.task_dict["land_events"].outlets] == ["s3://lake/example-dag/events"]

    days = (dt.datetime(2025, 7, 2, tzinfo=dt.UTC), dt.datetime(2025, 7, 3, tzinfo=dt.UTC))
    for day in days:
        run = run_dag(land, day)
        assert run.state == "success"
        summary = run.xcom("land_events")
        assert summary["manifest"].startswith(f"s3://{s3_conn}@lake/example-dag/events/")
        landed = list(iter_records(ObjectStoragePath(summary["manifest"])))
        want = list(api.store.iter_events(date_from=summary["date_from"], date_to=summary["date_to"]))
        assert landed == want != []

    assert run_dag(warehouse, days[-1], run_conf={"reload_latest": 2}).state == "success"
    with duckdb.connect(str(tmp_path / "intervals.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT event_id FROM intervals_events ORDER BY event_id").fetchall()
    want = [
        e["_id"] for d in ("2025-07-01", "2025-07-02") for e in api.store.iter_events(date_from=d, date_to=d)
    ]
    assert [r[0] for r in rows] == sorted(want)
