"""Registrations, recurrences, groups and group events land through the same machinery."""

from __future__ import annotations

import uuid

import pytest
from airflow.sdk import DAG, ObjectStoragePath
from helpers import utc

from airflow_provider_intervals.operators.events import IntervalsGroupEventsOperator
from airflow_provider_intervals.operators.groups import IntervalsGroupsOperator
from airflow_provider_intervals.operators.recurrences import IntervalsRecurrencesOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.storage import iter_records, read_manifest


def _event_with_registrations(store):
    return next(
        e["_id"] for e in store.iter_events() if sum(1 for _ in store.iter_registrations(e["_id"])) > 5
    )


CASES = {
    "registrations": (
        IntervalsRegistrationsOperator,
        lambda store: {"event_id": _event_with_registrations(store), "personal_data": "keep"},
        lambda store, kw: store.iter_registrations(kw["event_id"]),
        lambda kw: f"/registrations/event_id={kw['event_id']}/snapshot=2025-06-10",
    ),
    "recurrences": (
        IntervalsRecurrencesOperator,
        lambda store: {"status": "active"},
        lambda store, kw: store.iter_recurrences(status="active"),
        lambda kw: "/recurrences/status=active/snapshot=2025-06-10",
    ),
    "groups": (
        IntervalsGroupsOperator,
        lambda store: {},
        lambda store, kw: store.iter_groups(),
        lambda kw: "/groups/snapshot=2025-06-10",
    ),
    "group-events": (
        IntervalsGroupEventsOperator,
        lambda store: {
            "group_slug": next(store.iter_groups())["slug"],
            "date_from": "2025-01-01",
            "concurrency": 1,
        },
        lambda store, kw: store.iter_events(
            group=kw["group_slug"], date_from="2025-01-01", date_to="2025-06-10"
        ),
        lambda kw: f"/group_events/group={kw['group_slug']}/type=all/date_from=2025-01-01/date_to=2025-06-10",
    ),
}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("case", list(CASES))
def test_resource_lands_equal_to_the_store(api, make_conn, run_dag, tmp_path, case, fmt, capfd):
    operator, arguments, expected, path = CASES[case]
    make_conn(api)
    kwargs = arguments(api.store)
    dag = DAG(f"{case}_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2020, 1, 1))
    with dag:
        operator(
            task_id="land", output_path=f"file://{tmp_path}/lake", format=fmt, records_per_part=40, **kwargs
        )
    run = run_dag(dag, utc(2025, 6, 10))
    assert run.state == "success"
    summary = run.xcom("land")
    want = list(expected(api.store, kwargs))
    prefix = ObjectStoragePath(summary["manifest"]).parent
    assert list(iter_records(prefix, verify=True)) == want
    assert summary["records"] == len(want) > 5
    assert summary["prefix"].endswith(path(kwargs))
    assert read_manifest(prefix)["resource"] == dag.task_dict["land"].resource
    if case == "registrations":  # personal data: no email or name in any log line
        logged = "".join(capfd.readouterr())
        assert "Published" in logged  # the task log was captured
        assert not any(r["email"] in logged or r.get("name", "\0") in logged for r in want)
