"""Land each day's Intervals events in object storage, exactly once per day.

Shows :class:`~airflow_provider_intervals.operators.events.IntervalsEventsOperator` on a
``CronDataIntervalTimetable``: the run of 2025-06-02 covers 2025-06-01 00:00 .. 2025-06-02
00:00, so it lands the events dated 2025-06-01 under
``{landing}/events/type=all/date_from=2025-06-01/date_to=2025-06-01/``, with a manifest and
a ``_SUCCESS`` marker. A rerun or backfill of a day replaces that day's output only; a retry
resumes from the last finished part. The task declares the asset ``{landing}/events`` so
downstream DAGs can be scheduled on it (each asset event carries the manifest's path).

Needs the ``intervals_default`` connection (API key in the password) and, for S3, an ``aws``
connection named in ``INTERVALS_LANDING_CONN``. ``INTERVALS_LANDING_PATH`` is the landing
zone; the default, a local directory, suits a single machine only.

To land each day as its own task instead (e.g. a month's backfill in one run), map the
operator over the days::

    IntervalsEventsOperator.partial(task_id="land_day", output_path=LANDING).expand_kwargs(
        [{"date_from": d, "date_to": d} for d in ("2025-06-01", "2025-06-02", "2025-06-03")]
    )
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronDataIntervalTimetable

from airflow_provider_intervals.operators.events import IntervalsEventsOperator

# Embedded default: a directory under the project (single machine only). On a distributed
# Airflow point INTERVALS_LANDING_PATH at shared storage, e.g. s3://bucket/intervals.
_DEFAULT_LANDING = "file://" + os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".local", "lake"
)
LANDING = os.environ.get("INTERVALS_LANDING_PATH", _DEFAULT_LANDING)

with DAG(
    dag_id="intervals_land_events",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:
    IntervalsEventsOperator(
        task_id="land_events",
        output_path=LANDING,
        output_conn_id=os.environ.get("INTERVALS_LANDING_CONN") or None,
        retries=2,
        retry_delay=dt.timedelta(minutes=1),
    )
