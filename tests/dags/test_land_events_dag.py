"""The example DAG in dags/ runs as documented: one day per run, landed and published."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk import ObjectStoragePath
from dagfiles import landed_asset_events, load

from airflow_provider_intervals.storage import iter_records


def test_example_dag_lands_the_previous_day(api, make_conn, run_dag, tmp_path, monkeypatch):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/landing")
    dag = load("intervals_land_events").dag

    run = run_dag(dag, dt.datetime(2025, 6, 2, tzinfo=dt.UTC))
    assert run.state == "success"
    summary = run.xcom("land_events")
    assert (summary["date_from"], summary["date_to"]) == ("2025-06-01", "2025-06-01")
    want = list(api.store.iter_events(date_from="2025-06-01", date_to="2025-06-01"))
    assert want, "the seeded data has events on 2025-06-01"
    assert list(iter_records(ObjectStoragePath(summary["manifest"]))) == want


def test_the_asset_is_a_logical_name_and_its_events_say_where_the_window_is(
    api, make_conn, run_dag, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/landing")
    dag = load("intervals_land_events").dag
    (asset,) = dag.task_dict["land_events"].outlets
    assert (asset.name, asset.uri) == ("intervals_landed_events", "intervals_landed_events")
    assert "://" not in asset.uri, "the asset must not pretend to be a location"

    run = run_dag(dag, dt.datetime(2025, 6, 3, tzinfo=dt.UTC))
    assert run.state == "success"
    manifest = run.xcom("land_events")["manifest"]
    assert (
        manifest
        == f"file://{tmp_path}/landing/events/type=all/date_from=2025-06-02/date_to=2025-06-02/_manifest.json"
    )
    assert landed_asset_events()[-1] == {
        "manifest": manifest, "date_from": "2025-06-02", "date_to": "2025-06-02",
        "records": len(list(api.store.iter_events(date_from="2025-06-02", date_to="2025-06-02"))),
    }  # fmt: skip


@pytest.mark.parametrize(
    "triggered_by_cli",
    [False, True],
    ids=["ui-rest-or-dags-test:interval-from-logical-date", "dags-trigger-cli:interval-from-trigger-time"],
)
def test_a_manual_run_for_a_past_logical_date_lands_the_day_before_it_however_it_was_triggered(
    api, make_conn, run_dag, tmp_path, monkeypatch, triggered_by_cli
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/lake")
    dag = load("intervals_land_events").dag

    run = run_dag(dag, dt.datetime(2025, 3, 10, tzinfo=dt.UTC), triggered_by_cli=triggered_by_cli)
    assert run.state == "success"
    assert str(run.dag_run.run_type) == "manual"
    summary = run.xcom("land_events")
    assert (summary["date_from"], summary["date_to"]) == ("2025-03-09", "2025-03-09")
    want = list(api.store.iter_events(date_from="2025-03-09", date_to="2025-03-09"))
    assert list(iter_records(ObjectStoragePath(summary["manifest"]))) == want != []
    if triggered_by_cli:  # Airflow inferred the interval from the trigger time: the DAG did not follow it
        assert run.dag_run.data_interval_end.date() > dt.date(2025, 3, 10)
    windows = sorted(p.name for p in (tmp_path / "lake" / "events" / "type=all").iterdir())
    assert windows == ["date_from=2025-03-09"]
