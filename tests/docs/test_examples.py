"""The how-to guides' examples (``docs/examples/howto/``) run, against the sandbox, as the guides show them.

The guides include these files (``literalinclude``), so no snippet in the docs is untested.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

from airflow.sdk import ObjectStoragePath
from helpers import seeded_runs, utc

from airflow_provider_intervals.storage import iter_records

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "examples" / "howto"
DAY = utc(2025, 6, 10)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"howto_{name}", HOWTO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def _event_with_registrations(store) -> str:
    return next(e["_id"] for e in store.iter_events() if next(store.iter_registrations(e["_id"]), None))


def test_the_landing_how_to_lands_group_events_registrations_recurrences_and_groups(
    api, make_conn, run_dag, tmp_path
):
    make_conn(api)
    group, event = next(api.store.iter_groups())["slug"], _event_with_registrations(api.store)
    conf = {"landing": f"file://{tmp_path}/lake", "group_slug": group, "event_id": event}
    run = run_dag(_load("land_other_resources"), DAY, run_conf=conf)
    assert run.state == "success"
    expected = {
        "land_group_events": api.store.iter_events(group=group, date_from="2025-01-01", date_to="2025-06-10"),
        "land_registrations": api.store.iter_registrations(event),
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
