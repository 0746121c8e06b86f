"""Land each day's Intervals events in object storage, exactly once per day.

Shows :class:`~airflow_provider_intervals.operators.events.IntervalsEventsOperator` on a
``CronDataIntervalTimetable``: the run that starts at 2025-06-02 00:00 covers 2025-06-01
00:00 .. 2025-06-02 00:00 (its logical date is 2025-06-01), so it lands the events dated
2025-06-01 under ``{landing}/events/type=all/date_from=2025-06-01/date_to=2025-06-01/``, with
a manifest and a ``_SUCCESS`` marker. A **manual run** lands the day before its logical date
(a run triggered for 2025-06-02 lands 2025-06-01, like the scheduled run that starts then),
however it was triggered: UI, REST API, ``airflow dags trigger -l`` or ``airflow dags test``
(see ``include/landing_day.py``). A rerun or backfill of a day replaces that day's output only; a
retry resumes from the last finished part. The task updates the logical asset
``intervals_landed_events``; each asset event carries the window and its manifest's real path
(``s3://...`` or ``file://...``), which ``intervals_warehouse_load`` (scheduled on that asset) loads.

**Connections.** ``intervals_default`` (API key in the password) and, to land on S3, an
``aws`` connection (``endpoint_url`` in its extra for an S3-compatible store).

**Where it lands**, first set wins: the Airflow Variable ``intervals_landing_path`` (read at
run time, e.g. ``s3://lake/intervals``; ``intervals_landing_conn`` names the ``aws``
connection), the environment variables ``INTERVALS_LANDING_PATH`` / ``INTERVALS_LANDING_CONN``,
else ``file://{project}/.local/lake``: a local directory, right for one machine only.

**Catch-up and backfill.** ``catchup`` is off so a new deployment does not replay a year;
land a past day or range with
``airflow backfill create --dag-id intervals_land_events --from-date 2025-06-01 --to-date 2025-06-30``:
one run per day (logical dates 2025-06-01 .. 2025-06-30), each landing its own logical date's
day, 2025-06-01 .. 2025-06-30. A backfill runs up to 10 runs at once (Airflow's backfill
``--max-active-runs``, default 10: the DAG's ``max_active_runs=4`` applies to scheduled and
manual runs only); add ``--max-active-runs 4`` to keep four at a time. To land each day as its
own task in one run instead, map the operator::

    IntervalsEventsOperator.partial(task_id="land_day", output_path=LANDING).expand_kwargs(
        [{"date_from": d, "date_to": d} for d in ("2025-06-01", "2025-06-02", "2025-06-03")]
    )
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow < 3.2 has it in core only
    from airflow.timetables.interval import CronDataIntervalTimetable
from include.landing_day import landing_day
from include.locations import events_asset, setting

from airflow_provider_intervals.operators.events import IntervalsEventsOperator

with DAG(
    dag_id="intervals_land_events",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=4,
    user_defined_macros={"landing_day": landing_day},
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:
    # [START howto_land_events_daily]
    DAY = "{{ landing_day(dag_run, logical_date, data_interval_start) }}"
    IntervalsEventsOperator(
        task_id="land_events",
        output_path=setting("landing_path"),
        output_conn_id=setting("landing_conn"),
        date_from=DAY,
        date_to=DAY,
        # The path is a run-time template: the asset is a logical name, each event's extra says where.
        outlets=[events_asset()],
        retries=2,
        retry_delay=dt.timedelta(minutes=1),
    )
    # [END howto_land_events_daily]
