"""The events DAG: a backfill's runs each land their own day; the landing zone is run-time config."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from airflow.sdk import ObjectStoragePath
from dagfiles import landed_asset_events, load

from airflow_provider_intervals.storage import iter_records


def test_consecutive_runs_like_a_backfill_each_land_their_own_day_and_a_rerun_replaces_it(
    api, make_conn, run_dag, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/lake")
    dag = load("intervals_land_events").dag
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    for day in days:
        logical = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
        assert run_dag(dag, logical).state == "success"
    again = run_dag(dag, dt.datetime(2025, 3, 3, tzinfo=dt.UTC))  # the run of 03-02, once more
    assert again.xcom("land_events")["date_from"] == "2025-03-02"
    windows = sorted(p.name for p in (tmp_path / "lake" / "events" / "type=all").iterdir())
    assert windows == [f"date_from={d}" for d in days]
    for day in days:
        prefix = tmp_path / "lake" / "events" / "type=all" / f"date_from={day}" / f"date_to={day}"
        manifests = list(prefix.rglob("_manifest.json"))
        assert len(manifests) == 1, "a rerun replaces its window's output"
        landed = list(iter_records(ObjectStoragePath(f"file://{manifests[0]}")))
        assert landed == list(api.store.iter_events(date_from=day, date_to=day)) != []


def test_a_variable_moves_the_landing_zone_at_run_time_and_the_asset_event_says_where(
    api, make_conn, run_dag, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/from-env")
    dag = load("intervals_land_events").dag  # parsed: nothing about the landing zone is fixed yet
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_LANDING_PATH", f"file://{tmp_path}/from-variable")
    run = run_dag(dag, dt.datetime(2025, 6, 2, tzinfo=dt.UTC))
    assert run.state == "success"
    manifest = run.xcom("land_events")["manifest"]
    assert manifest.startswith(f"file://{tmp_path}/from-variable/events/")
    assert not (tmp_path / "from-env").exists()
    extras = [e for e in landed_asset_events() if e["manifest"] == manifest]
    assert [(e["date_from"], e["date_to"]) for e in extras] == [("2025-06-01", "2025-06-01")]


@pytest.mark.parametrize(
    ("run_type", "logical", "interval_start", "day"),
    [
        ("scheduled", "2025-06-01T00:00", "2025-06-01T00:00", "2025-06-01"),
        ("backfill", "2025-06-01T00:00", "2025-06-01T00:00", "2025-06-01"),
        ("manual", "2025-06-02T00:00", "2025-12-01T00:00", "2025-06-01"),
        ("manual", "2025-06-02T15:30", "2025-06-01T00:00", "2025-06-01"),
        ("manual", None, None, "2025-12-01"),
    ],
    ids=[
        "scheduled",
        "backfill",
        "manual-interval-from-trigger-time",
        "manual-midday",
        "manual-no-logical-date",
    ],
)
def test_landing_day_is_the_interval_for_scheduled_runs_and_the_day_before_the_logical_date_for_manual(
    run_type, logical, interval_start, day
):
    from include.landing_day import landing_day

    def at(text):
        return None if text is None else dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

    dag_run = types.SimpleNamespace(run_type=run_type, run_after=at("2025-12-02T09:00"))
    assert landing_day(dag_run, at(logical), at(interval_start)) == day
