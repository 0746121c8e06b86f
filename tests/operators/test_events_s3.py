"""The example events DAG lands on S3 (SeaweedFS on loopback) and the warehouse DAG loads from there.

Lives beside the S3 fixtures (``tests/operators/conftest.py``); the DAG files are loaded the
way Airflow does, with the DAGs folder on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from airflow.sdk import ObjectStoragePath
from helpers import S3_SERVER

from airflow_provider_intervals.storage import iter_records

DAGS = Path(__file__).resolve().parents[2] / "dags"
if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))

pytestmark = [pytest.mark.s3, S3_SERVER]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_s3_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def landed_events() -> list[tuple[int, dict]]:
    """``(id, extra)`` of every event of the logical landing asset, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.id, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "intervals_landed_events")
            .order_by(AssetEvent.id)
        )
        return [(row.id, row.extra) for row in rows]


def test_events_dag_lands_on_s3_and_the_warehouse_reconciles_every_window_from_one_asset_event(
    api, make_conn, run_dag, s3_conn, seaweedfs, tmp_path, monkeypatch
):
    make_conn(api)
    # Where to land is a Variable, read at run time: nothing about S3 is known at parse time.
    land, warehouse = load("intervals_land_events").dag, load("intervals_warehouse_load").dag
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_LANDING_PATH", "s3://lake/example-dag")
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_LANDING_CONN", s3_conn)
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_WAREHOUSE_PATH", str(tmp_path / "intervals.duckdb"))
    (asset,) = land.task_dict["land_events"].outlets
    assert asset.uri == "intervals_landed_events", "a logical name, not a file:// path"

    days = [dt.datetime(2025, 7, d, tzinfo=dt.UTC) for d in (2, 3, 4)]
    before = len(landed_events())
    for day in days:
        run = run_dag(land, day)
        assert run.state == "success"
        summary = run.xcom("land_events")
        assert summary["manifest"].startswith(f"s3://{s3_conn}@lake/example-dag/events/type=all/")
        # The task's "Landed window" link: the manifest's path-style URL on the S3-compatible store.
        key = quote(summary["manifest"].split("@lake/", 1)[1])
        assert run.xcom("land_events", key="_link_LandedWindowLink") == f"{seaweedfs.rstrip('/')}/lake/{key}"
        landed = list(iter_records(ObjectStoragePath(summary["manifest"])))
        want = list(api.store.iter_events(date_from=summary["date_from"], date_to=summary["date_to"]))
        assert landed == want != []
    events = landed_events()[before:]
    # The asset events say where each window really is: on S3, through the aws connection.
    assert [(e["date_from"], e["manifest"].split("/date_to=")[0]) for _, e in events] == [
        (d, f"s3://{s3_conn}@lake/example-dag/events/type=all/date_from={d}")
        for d in ("2025-07-01", "2025-07-02", "2025-07-03")
    ]

    # One load run handed only the last asset event (the others consumed by none: Airflow #56050).
    result = run_dag(warehouse, days[-1], consumed_asset_events=[events[-1][0]])
    assert result.state == "success"
    assert result.xcom("load_windows")["asset_events"] == 1
    with duckdb.connect(str(tmp_path / "intervals.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT event_id FROM intervals_events ORDER BY event_id").fetchall()
        sources = con.execute("SELECT DISTINCT manifest FROM intervals_events ORDER BY 1").fetchall()
    want = [
        e["_id"]
        for d in ("2025-07-01", "2025-07-02", "2025-07-03")
        for e in api.store.iter_events(date_from=d, date_to=d)
    ]
    assert [r[0] for r in rows] == sorted(want)
    assert [s[0] for s in sources] == [e["manifest"] for _, e in events]
