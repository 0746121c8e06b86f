"""Publish a season: create every event of a season plan file, exactly once.

Shows :class:`~airflow_provider_intervals.operators.writes.IntervalsBulkCreateEventsOperator`:
the plan is a JSON Lines or CSV file in object storage, one event per row (``name``,
``slug``, ``type``, ``date``, optional ``startTime``, ``description``, ``lat``/``lng``,
``address``...). Every row is checked against the API's rules before the first request (a
bad plan fails naming each bad line, nothing sent); each request carries an idempotency key
derived from the run and the row, so a retry replays instead of creating twice, and a rerun
skips the rows already created (read from ``{plan}.results.jsonl``, written beside the plan
with each row's new event id or error). XCom carries the results file's path and the counts.

Run it by hand (no schedule) when the season's plan is ready, e.g. from a spreadsheet
exported as CSV::

    name,slug,type,date,startTime
    Lakefront 5K,lakefront-5k-2026,race,2026-04-12,08:00

**Connections.** ``intervals_default`` with the ``write:events`` scope; an ``aws`` connection
when the plan is on S3.

**Which plan**, first set wins: the Airflow Variable ``intervals_season_plan`` (read at run
time; ``intervals_season_conn`` names its connection), the environment variables
``INTERVALS_SEASON_PLAN`` / ``INTERVALS_SEASON_CONN``, else
``file://{project}/.local/season/plan.jsonl`` (``python3 dev.py standalone`` writes a sample).
The plan's folder must be writable (results and rejects go beside it).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from include.locations import setting

from airflow_provider_intervals.operators.writes import IntervalsBulkCreateEventsOperator

with DAG(
    dag_id="intervals_publish_season",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:
    # [START howto_bulk_create_events]
    IntervalsBulkCreateEventsOperator(
        task_id="create_season_events",
        input_path=setting("season_plan"),
        input_conn_id=setting("season_conn"),
        max_requests_per_minute=900,  # under the enterprise plan's 1,000 a minute
        retries=2,
        retry_delay=dt.timedelta(minutes=1),
    )
    # [END howto_bulk_create_events]
