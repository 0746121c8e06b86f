"""A daily DAG for the lineage test: the same landings run for two windows, one dataset each.

Its output path is a template (rendered only when a task runs) and its windows come from the
runs' data intervals, so START can name the outputs only from the rendered task and the run.
Its settings come from the environment the test sets (``LINEAGE_*``); parsing it does no work.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator

with DAG(
    "lineage_windows",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "lake": os.environ.get("LINEAGE_OUTPUT", "file:///tmp/lineage"),
        "event": os.environ.get("LINEAGE_EVENT_ID", ""),
    },
):
    IntervalsEventsOperator(task_id="land_events", output_path="{{ params.lake }}", records_per_part=5)
    IntervalsRegistrationsOperator(
        task_id="land_registrations",
        output_path="{{ params.lake }}",
        event_id="{{ params.event }}",
        personal_data="keep",  # as landed; the events must still hold none of it
    )
