"""The bulk write operators in real Airflow runs (dag.test, metadata DB) against the sandbox over HTTP.

Every test checks the sandbox's own store afterwards: what exists there is the truth.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from airflow.sdk import ObjectStoragePath
from helpers import (
    created_registrations,
    event_rows,
    events_with_prefix,
    read_lines,
    registration_rows,
    seed_failing_at,
    task_context,
    utc,
    write_csv,
    write_dag,
    write_jsonl,
)

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.writes import (
    IntervalsBulkCreateEventsOperator,
    IntervalsBulkRegisterParticipantsOperator,
    IntervalsInvalidRowsError,
    IntervalsRowsFailedError,
)
from airflow_provider_intervals.operators.writes.kinds import REGISTRATION
from airflow_provider_intervals.operators.writes.rows import canonical, content_digest

DAY = utc(2025, 6, 10)


# ----------------------------------------------------------------------------- bulk: exactly once


@pytest.mark.slow
def test_bulk_registrations_with_dropped_responses_and_500s_create_each_row_once(
    api, make_conn, run_dag, tmp_path
):
    make_conn(api)
    rows = registration_rows(api.store, 2000, uuid.uuid4().hex[:6])
    path = write_csv(ObjectStoragePath(f"file://{tmp_path}/exports/participants.csv"), rows)
    api.set_faults(drop_rate=0.03, error_rate=0.05, error_statuses=(500, 503), seed=11)
    dag = write_dag(IntervalsBulkRegisterParticipantsOperator, input_path=path, checkpoint_rows=300)
    run = run_dag(dag, DAY)
    assert run.state == "success"
    summary = run.xcom("write")
    assert summary == {
        "results": f"file://{tmp_path}/exports/participants.csv.results.jsonl",
        "rejects": None,
        "rows": 2000,
        "created": 2000,
        "existing": 0,
        "failed": 0,
        "rejected": 0,
    }
    stats = api.stats
    assert stats["dropped"] > 20
    assert stats["by_status"].get(500, 0) + stats["by_status"].get(503, 0) > 20
    assert stats["idempotent_replays"] == stats["dropped"]  # every lost response was replayed, not re-created
    found = created_registrations(api.store, rows)
    assert len(found) == 2000
    assert set(found.values()) == {1}
    results = read_lines(ObjectStoragePath(summary["results"]))
    assert [r["line"] for r in results] == list(range(2, 2002))
    assert {r["status"] for r in results} == {"created"}
    assert len({r["id"] for r in results}) == 2000
    assert all("@" not in json.dumps(r) for r in results)  # no email in the results
    assert not (tmp_path / "exports" / "participants.csv.results.parts").exists()


def test_bulk_events_jsonl_with_faults_create_each_slug_once(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    tag = uuid.uuid4().hex[:6]
    rows = event_rows(300, tag)
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/plans/season.jsonl"), rows)
    api.set_faults(drop_rate=0.05, error_rate=0.05, seed=3)
    run = run_dag(write_dag(IntervalsBulkCreateEventsOperator, input_path=path), DAY)
    assert run.state == "success"
    assert run.xcom("write")["created"] == 300
    slugs = [e["slug"] for e in events_with_prefix(api.store, f"bulk-{tag}-")]
    assert sorted(slugs) == sorted(r["slug"] for r in rows)
    by_slug = {r["key"]: r["id"] for r in read_lines(ObjectStoragePath(path + ".results.jsonl"))}
    assert all(api.store.get_event(by_slug[r["slug"]])["event"]["name"] == r["name"] for r in rows)


def test_task_retry_after_faults_outlast_the_retry_budget_creates_nothing_twice(
    api, make_conn, run_dag, tmp_path, capfd
):
    """Try 1 dies on the 41st request (created, response lost); try 2 skips 40 and replays 1."""
    make_conn(api, max_retries=0)
    rows = registration_rows(api.store, 300, uuid.uuid4().hex[:6])
    path = write_csv(ObjectStoragePath(f"file://{tmp_path}/participants.csv"), rows)
    api.set_faults(drop_rate=0.05, seed=seed_failing_at(40, 0.05))
    dag = write_dag(
        IntervalsBulkRegisterParticipantsOperator,
        input_path=path,
        retries=1,
        retry_delay=dt.timedelta(0),
        on_retry_callback=lambda context: api.set_faults(),
    )
    run = run_dag(dag, DAY)
    assert run.state == "success"
    assert run.ti("write").try_number == 2
    summary = run.xcom("write")
    assert (summary["created"], summary["existing"]) == (260, 40)  # 40 from try 1's checkpoint
    assert api.stats["requests"] == 41 + 260  # nothing re-sent but the one whose answer was lost
    assert api.stats["idempotent_replays"] == 1  # ... and that one was replayed, not created
    log = "".join(capfd.readouterr())  # the task logs, as the worker writes them
    assert "300/300 rows done, 260 created, 40 existing (skipped), 0 failed" in log
    assert "@bulk.example" not in log  # progress, never the rows
    found = created_registrations(api.store, rows)
    assert len(found) == 300
    assert set(found.values()) == {1}


def test_rerun_in_a_new_dag_run_creates_nothing_new(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    rows = registration_rows(api.store, 120, uuid.uuid4().hex[:6])
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/participants.jsonl"), rows)
    dag = write_dag(IntervalsBulkRegisterParticipantsOperator, input_path=path)
    first = run_dag(dag, DAY).xcom("write")
    ids = {r["line"]: r["id"] for r in read_lines(ObjectStoragePath(first["results"]))}
    api.reset_stats()
    rerun = run_dag(dag, DAY + dt.timedelta(days=1))  # another run: other keys, same results file
    assert rerun.state == "success"
    summary = rerun.xcom("write")
    assert (summary["created"], summary["existing"]) == (0, 120)
    assert api.stats["requests"] == 0
    assert {r["line"]: r["id"] for r in read_lines(ObjectStoragePath(summary["results"]))} == ids
    assert set(created_registrations(api.store, rows).values()) == {1}


def test_a_new_idempotency_namespace_creates_again_on_purpose(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    rows = registration_rows(api.store, 30, uuid.uuid4().hex[:6])
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/participants.jsonl"), rows)
    run_dag(write_dag(IntervalsBulkRegisterParticipantsOperator, input_path=path), DAY)
    again = write_dag(
        IntervalsBulkRegisterParticipantsOperator, input_path=path, idempotency_namespace="2025-reload"
    )
    assert run_dag(again, DAY).xcom("write")["created"] == 30
    assert set(created_registrations(api.store, rows).values()) == {2}


def test_identical_rows_are_distinct_rows(api, make_conn, run_dag, tmp_path):
    """Two identical lines are two registrations; a rerun matches each to its own id."""
    make_conn(api)
    row = registration_rows(api.store, 1, uuid.uuid4().hex[:6])[0]
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/twice.jsonl"), [row, row])
    dag = write_dag(IntervalsBulkRegisterParticipantsOperator, input_path=path)
    first = read_lines(ObjectStoragePath(run_dag(dag, DAY).xcom("write")["results"]))
    second = read_lines(ObjectStoragePath(run_dag(dag, utc(2025, 6, 11)).xcom("write")["results"]))
    assert [r["n"] for r in first] == [0, 1]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert created_registrations(api.store, [row]) == {row["email"]: 2}


def test_checkpoints_of_a_try_that_died_are_skipped_then_folded_into_the_results(
    api, make_conn, run_dag, tmp_path
):
    """A worker killed mid-load leaves only checkpoint objects; the next try skips what they record."""
    make_conn(api)
    rows = registration_rows(api.store, 40, uuid.uuid4().hex[:6])
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/people.jsonl"), rows)
    parts = tmp_path / "people.jsonl.results.parts"
    parts.mkdir()
    dead = [
        {
            "line": i + 1,
            "digest": content_digest("", REGISTRATION, canonical(r)),
            "n": 0,
            "status": "created",
            "id": f"pdead{i}",
        }
        for i, r in enumerate(rows[:15])
    ]
    (parts / "try1-dead-00000.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dead))
    run = run_dag(write_dag(IntervalsBulkRegisterParticipantsOperator, input_path=path), DAY)
    summary = run.xcom("write")
    assert (summary["existing"], summary["created"]) == (15, 25)
    assert api.stats["requests"] == 25
    results = read_lines(ObjectStoragePath(summary["results"]))
    assert [r["id"] for r in results[:15]] == [f"pdead{i}" for i in range(15)]
    assert not parts.exists()


# ----------------------------------------------------------------------------- bulk: bad rows


BAD_CSV = (
    "name,slug,type,date,lat,address\n"
    "Good One,good-{tag}-1,race,2026-01-01,41.5,\n"  # line 2
    "Bad Date,bad-{tag}-1,race,01/02/2026,,\n"  # line 3
    "Bad Type,bad-{tag}-2,Race,2026-01-02,,\n"  # line 4
    "Good Two,good-{tag}-2,race,2026-01-03,,\n"  # line 5
    "Bad Lat,bad-{tag}-3,race,2026-01-04,north,\n"  # line 6
    'Bad Address,bad-{tag}-4,race,2026-01-05,,"{{not json"\n'  # line 7
    ",bad-{tag}-5,race,2026-01-06,,\n"  # line 8: no name
    "Twice,good-{tag}-1,race,2026-01-07,,\n"  # line 9: slug of line 2
)
BAD_LINES = [(3, "date"), (4, "type"), (6, "lat"), (7, "address"), (8, "name"), (9, "slug")]


def test_bad_rows_fail_before_any_request_with_every_line_reported(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    tag = uuid.uuid4().hex[:6]
    (tmp_path / "season.csv").write_text(BAD_CSV.format(tag=tag))
    dag = write_dag(IntervalsBulkCreateEventsOperator, input_path=f"file://{tmp_path}/season.csv")
    assert run_dag(dag, DAY).state == "failed"
    assert api.stats["requests"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["season.csv"]  # no results, no rejects
    with pytest.raises(IntervalsInvalidRowsError) as raised:
        dag.task_dict["write"].execute(task_context())
    assert [(p.line, p.field) for p in raised.value.problems] == BAD_LINES
    assert (raised.value.bad_rows, raised.value.rows) == (6, 8)
    for line, field in BAD_LINES:
        assert f"line {line}, field {field}:" in str(raised.value)
    assert "already used on line 2" in str(raised.value)
    assert "'01/02/2026': expected a real date" in str(raised.value)  # event values are not personal: quoted
    assert api.stats["requests"] == 0


def test_bad_registration_rows_never_show_personal_data(api, make_conn, tmp_path):
    make_conn(api)
    rows = [
        {"eventRunId": "r1", "email": "jane.doe.at.example", "registrationType": "free", "name": "  "},
        {"eventRunId": "r1", "email": "ok@example.com", "registrationType": "gold", "notes": 7},
        {"eventRunId": "r1", "email": "ok@example.com", "registrationType": "free", "phone": "+1 555 0100"},
    ]
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/people.jsonl"), rows)
    op = IntervalsBulkRegisterParticipantsOperator(task_id="write", input_path=path)
    with pytest.raises(IntervalsInvalidRowsError) as raised:
        op.execute(task_context())
    problems = [(p.line, p.field) for p in raised.value.problems]
    assert problems == [(1, "email"), (1, "name"), (2, "registrationType"), (2, "notes"), (3, "phone")]
    assert "jane.doe" not in str(raised.value)
    assert "ok@example.com" not in str(raised.value)
    assert "555" not in str(raised.value)  # an unknown column of a personal export is not quoted either
    assert "'gold'" in str(raised.value)  # not personal: quoted to help the fix


def test_skip_invalid_writes_the_rejects_and_sends_the_rest(api, make_conn, run_dag, landing_zone):
    make_conn(api)
    root, conn_id = landing_zone
    tag = uuid.uuid4().hex[:6]
    path = ObjectStoragePath(f"{root}/plans/season.csv", conn_id=conn_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(BAD_CSV.format(tag=tag).encode())
    dag = write_dag(
        IntervalsBulkCreateEventsOperator,
        input_path=f"{root}/plans/season.csv",
        input_conn_id=conn_id,
        skip_invalid=True,
    )
    run = run_dag(dag, DAY)
    assert run.state == "success"
    summary = run.xcom("write")
    assert (summary["rows"], summary["created"], summary["rejected"], summary["failed"]) == (8, 2, 6, 0)
    rejects = read_lines(ObjectStoragePath(summary["rejects"], conn_id=conn_id))
    assert [(r["line"], r["errors"][0]["field"]) for r in rejects] == BAD_LINES
    assert rejects[0]["row"]["date"] == "01/02/2026"  # the row as read, to fix and reload
    results = read_lines(ObjectStoragePath(summary["results"], conn_id=conn_id))
    assert [(r["line"], r["status"]) for r in results] == [
        (2, "created"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "created"),
        (6, "rejected"),
        (7, "rejected"),
        (8, "rejected"),
        (9, "rejected"),
    ]
    assert sorted(e["slug"] for e in events_with_prefix(api.store, f"good-{tag}")) == [
        f"good-{tag}-1",
        f"good-{tag}-2",
    ]
    assert not events_with_prefix(api.store, f"bad-{tag}")


def test_csv_cells_follow_the_documented_rules(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    tag = uuid.uuid4().hex[:6]
    (tmp_path / "plan.csv").write_bytes(
        (
            "\ufeffname , slug,type,date,lat,lng,address,description,startTime\n"
            f'Track Night,track-{tag},timeTrial,2026-03-01, 41.88 ,-87,"{{""city"": ""Chicago""}}",,\n'
            f'Park Run,park-{tag},runClub,2026-03-02,,,,"Two\nlines",18:30\n'
            f"Plain,plain-{tag},other,2026-03-03\n"
        ).encode()
    )
    run = run_dag(write_dag(IntervalsBulkCreateEventsOperator, input_path=f"file://{tmp_path}/plan.csv"), DAY)
    assert run.state == "success"
    results = read_lines(ObjectStoragePath(run.xcom("write")["results"]))
    assert [r["line"] for r in results] == [2, 3, 5]  # a quoted cell spans lines 3-4
    first, second, third = (api.store.get_event(r["id"])["event"] for r in results)
    assert (first["lat"], first["lng"], first["address"]) == (41.88, -87, {"city": "Chicago"})
    assert "description" not in first
    assert "startTime" not in first
    assert (second["description"], second["startTime"]) == ("Two\nlines", "18:30")
    assert third["slug"] == f"plain-{tag}"
    assert "lat" not in third


def test_rows_the_api_refuses_are_recorded_and_fail_the_task_at_the_end(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    tag = uuid.uuid4().hex[:6]
    taken = next(api.store.iter_events())["slug"]
    rows = event_rows(3, tag)
    rows[1]["slug"] = taken
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/season.jsonl"), rows)
    strict = run_dag(write_dag(IntervalsBulkCreateEventsOperator, input_path=path), DAY)
    assert strict.state == "failed"
    results = read_lines(ObjectStoragePath(path + ".results.jsonl"))
    assert [r["status"] for r in results] == ["created", "failed", "created"]
    assert results[1]["error"] == {
        "type": "IntervalsConflictError",
        "status": 409,
        "code": "CONFLICT",
        "field": "slug",
        "message": f"An event with slug {taken} already exists",
    }
    op = IntervalsBulkCreateEventsOperator(task_id="write", input_path=path)
    with pytest.raises(IntervalsRowsFailedError) as raised:  # again: created rows are skipped
        op.execute(task_context())
    assert f"line 2 (slug {taken!r}): 409 CONFLICT (field slug)" in str(raised.value)
    assert raised.value.counts["existing"] == 2
    lenient = write_dag(IntervalsBulkCreateEventsOperator, input_path=path, fail_on_row_errors=False)
    run = run_dag(lenient, DAY)
    assert run.state == "success"
    assert (run.xcom("write")["failed"], run.xcom("write")["existing"]) == (1, 2)
    assert len(events_with_prefix(api.store, f"bulk-{tag}-")) == 2


def test_unknown_registration_run_is_a_row_error_naming_event_run_id(api, make_conn, tmp_path):
    make_conn(api)
    rows = registration_rows(api.store, 2, uuid.uuid4().hex[:6])
    rows[0]["eventRunId"] = "rnosuchrun00000"
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/people.jsonl"), rows)
    op = IntervalsBulkRegisterParticipantsOperator(task_id="write", input_path=path, fail_on_row_errors=False)
    summary = op.execute(task_context())
    assert (summary["created"], summary["failed"]) == (1, 1)
    error = read_lines(ObjectStoragePath(summary["results"]))[0]["error"]
    assert (error["status"], error["field"]) == (404, "eventRunId")


# ----------------------------------------------------------------------------- arguments and pacing


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ({"input_path": "file:///tmp/plan.xlsx"}, "input_path"),
        ({"input_path": "file:///tmp/plan.csv", "format": "xml"}, "format"),
        ({"input_path": "/tmp/plan.csv"}, "input_path"),
        (
            {"input_path": "file:///tmp/plan.csv", "max_requests_per_minute": "fast"},
            "max_requests_per_minute",
        ),
        ({"input_path": "file:///tmp/plan.csv", "skip_invalid": "yes"}, "skip_invalid"),
        ({"input_path": "file:///no/such/plan.csv"}, "input_path"),
    ],
    ids=["extension", "format", "not-a-url", "pacing", "flag", "missing-file"],
)
def test_bad_arguments_name_the_argument(api, make_conn, arguments, argument):
    make_conn(api)
    op = IntervalsBulkCreateEventsOperator(task_id="write", **arguments)
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        op.execute(task_context())
    assert raised.value.argument == argument
    assert api.stats["requests"] == 0
