"""A user's DAG: land each day's Intervals events as JSON lines under the Variable ``landing_path``.

Needs the connection ``intervals_default`` and the Variable ``landing_path`` (an
``ObjectStoragePath`` URL such as ``s3://lake/intervals`` or ``file:///data/intervals``).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_provider_intervals.operators.events import IntervalsEventsOperator

with DAG(
    dag_id="land_intervals_events",
    schedule="@daily",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
) as dag:
    IntervalsEventsOperator(
        task_id="land",
        output_path="{{ var.value.landing_path }}",
        date_from="{{ ds }}",
        date_to="{{ ds }}",
        retries=2,
    )
