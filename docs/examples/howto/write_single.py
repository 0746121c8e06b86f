"""How-to: create one event, and register one participant, exactly once (docs/howto/writes.md).

Each write sends an ``Idempotency-Key`` derived from the task instance and the body, so a
retry replays the first creation instead of making a second one; only the new id reaches
XCom. The registration's personal fields are masked in the rendered templates and logs.

Needs the connection ``intervals_default`` with the scopes ``write:events`` and
``write:participants``.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from airflow_provider_intervals.operators.writes import (
    IntervalsCreateEventOperator,
    IntervalsRegisterParticipantOperator,
)

with DAG(
    dag_id="intervals_howto_write",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    params={
        "slug": Param("lakefront-5k", type="string", description="the new event's slug (unique)"),
        "event_run_id": Param("r00000000000001", type="string", description="the run to register for"),
        "email": Param("pat@example.com", type="string", description="the participant's email"),
    },
    tags=["intervals", "howto"],
) as dag:
    # [START howto_create_event]
    IntervalsCreateEventOperator(
        task_id="create_event",
        event={
            "name": "Lakefront 5K - {{ ds }}",
            "slug": "{{ params.slug }}-{{ ds }}",
            "type": "race",
            "date": "{{ ds }}",
            "startTime": "08:00",
        },
    )
    # [END howto_create_event]

    # [START howto_register_participant]
    IntervalsRegisterParticipantOperator(
        task_id="register",
        registration={
            "eventRunId": "{{ params.event_run_id }}",
            "email": "{{ params.email }}",
            "registrationType": "free",
        },
    )
    # [END howto_register_participant]
