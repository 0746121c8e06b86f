"""The how-to guides' examples (``docs/examples/howto/``) run, against the sandbox, as the guides show them.

The guides include these files (``literalinclude``), so no snippet in the docs is untested.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

from airflow.sdk import ObjectStoragePath
from helpers import seeded_runs, utc

from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY
from airflow_provider_intervals.personal import PersonalData, Pseudonymiser
from airflow_provider_intervals.storage import iter_records
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS
from airflow_provider_intervals.windows import Window

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "examples" / "howto"
DAY = utc(2025, 6, 10)


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"howto_{name}", HOWTO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(name: str):
    return _module(name).dag


def _as_landed(listing, date_from: str, date_to: str, **filters) -> list[dict]:
    """A date-filtered listing as a landing at the default concurrency lands it: sub-window by sub-window."""
    subs = Window(date_from, date_to).sub_windows(DEFAULT_CONCURRENCY)
    return [item for sub in subs for item in listing(date_from=sub.date_from, date_to=sub.date_to, **filters)]


def _event_with_registrations(store) -> str:
    return next(e["_id"] for e in store.iter_events() if next(store.iter_registrations(e["_id"]), None))


def test_the_landing_how_to_lands_group_events_registrations_recurrences_and_groups(
    api, make_conn, run_dag, tmp_path, monkeypatch
):
    make_conn(api)
    key = "how-to-key-" + "k" * 32
    conn = {"conn_type": "generic", "password": key, "extra": {"key_version": "v1"}}
    monkeypatch.setenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", json.dumps(conn))
    tokens = PersonalData("pseudonymise", PERSONAL_FIELDS["registrations"], Pseudonymiser(key, "v1"))
    group, event = next(api.store.iter_groups())["slug"], _event_with_registrations(api.store)
    conf = {"landing": f"file://{tmp_path}/lake", "group_slug": group, "event_id": event}
    run = run_dag(_load("land_other_resources"), DAY, run_conf=conf)
    assert run.state == "success"
    expected = {
        "land_group_events": _as_landed(api.store.iter_events, "2025-01-01", "2025-06-10", group=group),
        "land_registrations": map(tokens.apply, api.store.iter_registrations(event)),
        "land_recurrences": api.store.iter_recurrences(status="active"),
        "land_groups": api.store.iter_groups(),
    }
    for task_id, want in expected.items():
        manifest = ObjectStoragePath(run.xcom(task_id)["manifest"])
        assert manifest.path.startswith(f"{tmp_path}/lake/"), task_id
        assert list(iter_records(manifest.parent, verify=True)) == list(want), task_id


def test_the_writes_how_to_creates_one_event_and_registers_one_participant(api, make_conn, run_dag):
    make_conn(api)
    slug, email = f"howto-{uuid.uuid4().hex[:6]}", f"howto.{uuid.uuid4().hex[:6]}@example.com"
    run_id = seeded_runs(api.store, 1)[0]
    run = run_dag(_load("write_single"), DAY, run_conf={"slug": slug, "event_run_id": run_id, "email": email})
    assert run.state == "success"
    event = api.store.get_event(run.xcom("create_event"))["event"]
    assert (event["slug"], event["date"]) == (f"{slug}-2025-06-10", "2025-06-10")
    registrations = api.store.registrations(api.store.run_event_index(run_id))
    registered = [r for r in registrations if r["email"] == email]
    assert [r["_id"] for r in registered] == [run.xcom("register")]


def test_the_first_dag_counts_the_races_of_its_day(api, make_conn, run_dag):
    make_conn(api)
    dag = _module("first_dag").intervals_races()
    run = run_dag(dag, DAY)
    assert run.state == "success"
    races = list(api.store.iter_events(event_type="race", date_from="2025-06-10", date_to="2025-06-10"))
    assert run.xcom("count_races") == len(races) > 0


def _window(landing: str, kind: str, date_from: str, date_to: str) -> ObjectStoragePath:
    return ObjectStoragePath(f"{landing}/events/type={kind}/date_from={date_from}/date_to={date_to}")


def test_the_events_how_to_lands_a_week_of_races_a_deferrable_day_and_mapped_days_then_reads_back(
    api, make_conn, run_dag, tmp_path
):
    from airflow.models.pool import Pool

    make_conn(api)
    Pool.create_or_update_pool("intervals_api", 1, "one Intervals API key", include_deferred=False)
    landing = f"file://{tmp_path}/lake"
    run = run_dag(_load("land_events"), DAY, run_conf={"landing": landing})
    assert run.state == "success"
    store = api.store
    week = _as_landed(store.iter_events, "2025-06-04", "2025-06-10", event_type="race")
    assert list(iter_records(_window(landing, "race", "2025-06-04", "2025-06-10"), verify=True)) == week
    assert run.xcom("count_landed") == len(week) > 0
    day = list(store.iter_events(date_from="2025-06-10", date_to="2025-06-10"))
    assert list(iter_records(_window(landing, "all", "2025-06-10", "2025-06-10"))) == day
    assert run.xcom("land_day_deferrable")["deferrals"] == 0  # the sandbox's plan never waits long
    for d in ("2025-06-01", "2025-06-02", "2025-06-03"):
        landed = list(iter_records(_window(landing, "all", d, d), verify=True))
        assert landed == list(store.iter_events(date_from=d, date_to=d)) != [], d


def test_the_bulk_writes_how_to_registers_each_row_of_an_export_once_across_reruns(
    api, make_conn, run_dag, tmp_path
):
    make_conn(api)
    runs = seeded_runs(api.store, 3)
    emails = [f"bulk.{uuid.uuid4().hex[:6]}@example.com" for _ in runs]
    export = tmp_path / "registrations.csv"
    rows = [f"{run},{email},free" for run, email in zip(runs, emails, strict=True)]
    export.write_text("eventRunId,email,registrationType\n" + "\n".join(rows) + "\n")
    dag = _load("write_bulk")
    first = run_dag(dag, DAY, run_conf={"export": f"file://{export}"})
    again = run_dag(dag, utc(2025, 6, 11), run_conf={"export": f"file://{export}"})
    assert (first.state, again.state) == ("success", "success")
    assert (first.xcom("register_export")["created"], again.xcom("register_export")["created"]) == (3, 0)
    for run_id, email in zip(runs, emails, strict=True):
        registered = api.store.registrations(api.store.run_event_index(run_id))
        assert [r["email"] for r in registered].count(email) == 1
    assert len((tmp_path / "registrations.csv.results.jsonl").read_text().splitlines()) == 3


def test_the_sandbox_how_to_test_passes(monkeypatch):
    _module("sandbox_direct").test_the_hook_lists_every_event_through_server_errors(monkeypatch)
