"""The example DAG in dags/ runs as documented: one day per run, landed and published."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.storage import iter_records

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "intervals_land_events.py"


def test_example_dag_lands_the_previous_day(api, make_conn, run_dag, tmp_path, monkeypatch):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/landing")
    spec = importlib.util.spec_from_file_location("example_intervals_land_events", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    run = run_dag(module.dag, dt.datetime(2025, 6, 2, tzinfo=dt.UTC))
    assert run.state == "success"
    summary = run.xcom("land_events")
    assert (summary["date_from"], summary["date_to"]) == ("2025-06-01", "2025-06-01")
    want = list(api.store.iter_events(date_from="2025-06-01", date_to="2025-06-01"))
    assert want, "the seeded data has events on 2025-06-01"
    assert list(iter_records(ObjectStoragePath(summary["manifest"]))) == want
    assert [a.uri for a in module.dag.task_dict["land_events"].outlets] == [
        f"file://{tmp_path}/landing/events"
    ]
