"""Every example DAG parses cleanly and cheaply; the new-events DAG runs end to end."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from dagfiles import landed_asset_events

from airflow_provider_intervals.storage import iter_records

DAGS = Path(__file__).resolve().parents[2] / "dags"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_dag_parses_without_errors_and_documents_itself(api, make_conn):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    files = sorted(p.stem for p in DAGS.glob("*.py"))
    assert len(bag.dags) >= len(files) > 0
    for dag in bag.dags.values():
        assert dag.doc_md, f"{dag.dag_id} has no docstring"
        assert "connection" in dag.doc_md.lower(), f"{dag.dag_id} must say which connections it needs"
    assert api.stats["requests"] == 0, "parsing a DAG file must not call the API"


def test_new_events_dag_waits_deferred_then_lands_the_new_events_window(
    api, make_conn, run_dag, tmp_path, monkeypatch, post_events
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{tmp_path}/from-env")
    monkeypatch.setenv("INTERVALS_POLL_SECONDS", "0.2")
    module = load("intervals_new_events")
    assert module.dag.task_dict["wait_for_new_events"].deferrable is True
    # Read at run time, like the other DAGs: the Variable set after parsing wins.
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_LANDING_PATH", f"file://{tmp_path}/lake")

    posted = post_events(api, 3, date="2025-09-09")
    result = run_dag(module.dag, dt.datetime(2025, 9, 9, 12, tzinfo=dt.UTC))
    post_events.join()
    assert result.state == "success"
    assert sorted(result.xcom("wait_for_new_events")["new_event_ids"]) == sorted(posted)
    landed = result.xcom("land_new_events_window")
    assert (landed["date_from"], landed["date_to"]) == ("2025-09-09", "2025-09-09")
    assert landed["manifest"].startswith(f"file://{tmp_path}/lake/events/type=all/date_from=2025-09-09/")
    assert not (tmp_path / "from-env").exists()
    records = list(iter_records(ObjectStoragePath(landed["manifest"])))
    assert records == list(api.store.iter_events(date_from="2025-09-09", date_to="2025-09-09"))
    assert set(posted) <= {r["_id"] for r in records}
    # The sensor watched upcoming events only: its feed starts at the run's day.
    assert rendered(result.ti("wait_for_new_events"))["date_from"] == "2025-09-09"
    assert landed_asset_events()[-1]["manifest"] == landed["manifest"]


def rendered(ti) -> dict:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    return RenderedTaskInstanceFields.get_templated_fields(ti)


def test_watcher_dag_schedules_on_an_asset_watched_by_the_event_trigger():
    from airflow.triggers.base import BaseEventTrigger

    from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsEventTrigger

    module = load("intervals_new_events_watcher")
    (watcher,) = module.NEW_RACES.watchers
    assert isinstance(watcher.trigger, IntervalsNewEventsEventTrigger)
    assert isinstance(watcher.trigger, BaseEventTrigger)
    _, kwargs = watcher.trigger.serialize()
    assert kwargs["filters"] == {"event_type": "race"}
    assert "password" not in str(kwargs)


@pytest.mark.parametrize("name", sorted(p.stem for p in DAGS.glob("*.py")))
def test_example_dag_module_imports_no_provider_work_at_parse(name, api):
    load(name)
    assert api.stats["requests"] == 0
