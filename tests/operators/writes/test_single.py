"""The single-row write operators in real Airflow runs (dag.test, metadata DB) against the sandbox over HTTP.

Every test checks the sandbox's own store afterwards: what exists there is the truth.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from helpers import (
    created_registrations,
    events_with_prefix,
    seeded_runs,
    task_context,
    utc,
    write_dag,
)

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.writes import (
    IntervalsCreateEventOperator,
    IntervalsRegisterParticipantOperator,
)

DAY = utc(2025, 6, 10)


def test_create_event_renders_templates_and_a_retry_replays_the_lost_answer(api, make_conn, run_dag):
    """Try 1 creates the event but its answer is lost; try 2 sends the same key and gets the same id."""
    make_conn(api, max_retries=0)
    tag = uuid.uuid4().hex[:6]
    event = {
        "name": "Lakefront 5K {{ ds }}",
        "slug": "lakefront-{{ params.tag }}-{{ ds }}",
        "type": "race",
        "date": "{{ ds }}",
        "lat": "{{ params.lat }}",
        "address": '{"city": "{{ params.city }}"}',
    }
    api.set_faults(drop_rate=1.0)
    dag = write_dag(
        IntervalsCreateEventOperator,
        params={"tag": tag, "lat": "41.88", "city": "Chicago"},
        event=event,
        retries=1,
        retry_delay=dt.timedelta(0),
        on_retry_callback=lambda context: api.set_faults(),
    )
    run = run_dag(dag, DAY)
    assert run.state == "success"
    assert run.ti("write").try_number == 2
    assert (api.stats["requests"], api.stats["dropped"], api.stats["idempotent_replays"]) == (2, 1, 1)
    event_id = run.xcom("write")
    created = api.store.get_event(event_id)["event"]
    assert created["slug"] == f"lakefront-{tag}-2025-06-10"
    assert (created["date"], created["lat"], created["address"]) == ("2025-06-10", 41.88, {"city": "Chicago"})
    assert [e["_id"] for e in events_with_prefix(api.store, f"lakefront-{tag}")] == [event_id]
    # A new DAG run is a new write: its key differs, and the API refuses the slug twice.
    assert run_dag(dag, DAY).state == "failed"
    assert [e["_id"] for e in events_with_prefix(api.store, f"lakefront-{tag}")] == [event_id]


def test_register_participant_returns_only_the_new_id(api, make_conn, run_dag):
    make_conn(api)
    run_id = seeded_runs(api.store, 1)[0]
    email = f"solo.{uuid.uuid4().hex[:6]}@bulk.example"
    registration = {
        "eventRunId": "{{ params.run }}",
        "email": "{{ params.email }}",
        "registrationType": "free",
    }
    dag = write_dag(
        IntervalsRegisterParticipantOperator,
        params={"run": run_id, "email": email},
        registration=registration,
    )
    run = run_dag(dag, DAY)
    assert run.state == "success"
    participant_id = run.xcom("write")
    assert isinstance(participant_id, str)
    regs = [r for r in api.store.registrations(api.store.run_event_index(run_id)) if r["email"] == email]
    assert [r["_id"] for r in regs] == [participant_id]
    # The rendered template (stored in the metadata DB, shown in the UI) has the email masked.
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag.dag_id).all()
        rendered = [json.dumps(row.rendered_fields) for row in rows]
    assert rendered
    assert all(email not in text for text in rendered)
    assert any("***" in text for text in rendered)


@pytest.mark.parametrize(
    ("operator", "argument", "body", "field", "hidden"),
    [
        (
            IntervalsCreateEventOperator,
            "event",
            {"name": "X", "slug": "x", "type": "race", "date": "10/06/2025"},
            "event.date",
            None,
        ),
        (
            IntervalsCreateEventOperator,
            "event",
            {"name": "X", "slug": "Bad Slug", "type": "race", "date": "2025-06-10"},
            "event.slug",
            None,
        ),
        (
            IntervalsRegisterParticipantOperator,
            "registration",
            {"eventRunId": "r1", "email": "not-an-email.secret", "registrationType": "free"},
            "registration.email",
            "not-an-email.secret",
        ),
        (
            IntervalsRegisterParticipantOperator,
            "registration",
            {"eventRunId": "r1", "email": "a@b.example", "registrationType": "free", "nmae": "typo"},
            "registration.nmae",
            None,
        ),
    ],
    ids=["event-date", "event-slug", "email-redacted", "unknown-field"],
)
def test_single_bad_body_fails_before_any_request(
    api, make_conn, run_dag, operator, argument, body, field, hidden
):
    make_conn(api)
    dag = write_dag(operator, **{argument: body})
    assert run_dag(dag, DAY).state == "failed"
    assert api.stats["requests"] == 0
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        dag.task_dict["write"].execute(task_context())
    assert raised.value.argument == field
    assert f"Invalid {field}=" in str(raised.value)
    if hidden:
        assert hidden not in str(raised.value)


def test_single_event_with_a_taken_slug_is_a_conflict_naming_the_slug(api, make_conn):
    make_conn(api)
    taken = next(api.store.iter_events())["slug"]
    op = IntervalsCreateEventOperator(
        task_id="write", event={"name": "Again", "slug": taken, "type": "race", "date": "2025-06-10"}
    )
    with pytest.raises(exc.IntervalsConflictError) as raised:
        op.execute(task_context())
    assert raised.value.field == "slug"
    assert f"slug {taken!r}" in str(raised.value)
    assert "already taken" in str(raised.value)


def test_an_explicit_idempotency_key_makes_a_single_write_once_across_runs(api, make_conn, run_dag):
    make_conn(api)
    run_id = seeded_runs(api.store, 1)[0]
    email = f"keyed.{uuid.uuid4().hex[:6]}@bulk.example"
    dag = write_dag(
        IntervalsRegisterParticipantOperator,
        params={"order": uuid.uuid4().hex},
        registration={"eventRunId": run_id, "email": email, "registrationType": "paid"},
        idempotency_key="order-{{ params.order }}",
    )
    first, second = run_dag(dag, DAY), run_dag(dag, utc(2025, 6, 11))
    assert second.xcom("write") == first.xcom("write")
    assert created_registrations(api.store, [{"eventRunId": run_id, "email": email}]) == {email: 1}
