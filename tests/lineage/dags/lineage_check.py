"""A DAG for the lineage test: one landing, one bulk load, one of each single write, one failure.

Its settings come from the environment the test sets (``LINEAGE_*``); parsing it does no work.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_intervals.operators.events import IntervalsEventsOperator, IntervalsGroupEventsOperator
from airflow_provider_intervals.operators.writes import (
    IntervalsBulkCreateEventsOperator,
    IntervalsCreateEventOperator,
    IntervalsRegisterParticipantOperator,
)

with DAG(
    "lineage_check",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"run": os.environ.get("LINEAGE_RUN_ID", ""), "email": os.environ.get("LINEAGE_EMAIL", "")},
):
    IntervalsEventsOperator(
        task_id="land_events",
        output_path=os.environ.get("LINEAGE_OUTPUT", "file:///tmp/lineage"),
        date_from="2025-06-01",
        date_to="2025-06-14",
        event_type="race",
        records_per_part=10,
    )
    IntervalsGroupEventsOperator(
        task_id="land_missing_group",
        output_path=os.environ.get("LINEAGE_OUTPUT", "file:///tmp/lineage"),
        group_slug="no-such-group",
        date_from="2025-06-01",
        date_to="2025-06-14",
    )
    IntervalsBulkCreateEventsOperator(
        task_id="bulk_events", input_path=os.environ.get("LINEAGE_INPUT", "file:///tmp/season.jsonl")
    )
    IntervalsCreateEventOperator(
        task_id="create_event",
        event={
            "name": "Lineage 5K",
            "slug": "lineage-5k-{{ params.run | lower }}",
            "type": "race",
            "date": "2025-07-01",
        },
    )
    IntervalsRegisterParticipantOperator(
        task_id="register",
        registration={
            "eventRunId": "{{ params.run }}",
            "email": "{{ params.email }}",
            "name": "Pat Lineage",
            "registrationType": "free",
        },
    )
