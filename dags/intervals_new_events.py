"""React to newly published Intervals events: wait without a worker slot, then land them.

Shows :class:`~airflow_provider_intervals.sensors.new_events.IntervalsNewEventsSensor` in
deferrable mode (the wait runs in the triggerer; one API request per poll while nothing is
new) handing the new events' date span, through XCom, to
:class:`~airflow_provider_intervals.operators.events.IntervalsEventsOperator`, which lands
that window in object storage. The first run records what is listed as the baseline and
waits for newer events; each later run reports only events it has not reported before.

Needs the ``intervals_default`` connection. ``INTERVALS_LANDING_PATH`` (and
``INTERVALS_LANDING_CONN`` for S3) say where to land, as for ``intervals_land_events``.
``INTERVALS_POLL_SECONDS`` sets the poll interval (default 600: 6 requests an hour).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG

from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor

_DEFAULT_LANDING = "file://" + os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".local", "lake"
)
NEW = "ti.xcom_pull(task_ids='wait_for_new_events')"

with DAG(
    dag_id="intervals_new_events",
    schedule="@hourly",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:
    wait = IntervalsNewEventsSensor(
        task_id="wait_for_new_events",
        deferrable=True,
        poke_interval=float(os.environ.get("INTERVALS_POLL_SECONDS", "600")),
        timeout=3600,
        soft_fail=True,  # nothing new this hour: skip, the next run waits again
    )
    land = IntervalsEventsOperator(
        task_id="land_new_events_window",
        output_path=os.environ.get("INTERVALS_LANDING_PATH", _DEFAULT_LANDING),
        output_conn_id=os.environ.get("INTERVALS_LANDING_CONN") or None,
        date_from="{{ " + NEW + "['date_from'] }}",
        date_to="{{ " + NEW + "['date_to'] }}",
    )
    wait >> land
