"""React to newly published Intervals events: wait without a worker slot, then land them.

Shows :class:`~airflow_provider_intervals.sensors.new_events.IntervalsNewEventsSensor` in
deferrable mode (the wait runs in the triggerer; one API request per poll while nothing is
new) handing the new events' date span, through XCom, to
:class:`~airflow_provider_intervals.operators.events.IntervalsEventsOperator`, which lands
that window in the landing zone and updates the logical asset ``intervals_landed_events``
(so ``intervals_warehouse_load`` loads it, as it loads the daily landings). The first run
records what is listed as the baseline and waits for newer events; each later run reports
only events it has not reported before.

The sensor watches **upcoming** events: ``date_from="{{ ds }}"`` bounds the feed to events
dated on or after the run's day, so the first poll lists only what lies ahead, and as
``date_from`` moves forward run by run the feed keeps its baseline (each later poll is one
request). An event published for a day already past is not reported.

Needs the ``intervals_default`` connection. It lands where ``intervals_land_events`` does:
the Airflow Variables ``intervals_landing_path`` / ``intervals_landing_conn`` (read at run
time), else ``INTERVALS_LANDING_PATH`` / ``INTERVALS_LANDING_CONN``, else ``.local/lake``; an
``aws`` connection when that is S3. ``INTERVALS_POLL_SECONDS`` sets the poll interval
(default 600: 6 requests an hour).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG
from include.locations import events_asset, setting

from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor

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
    # [START howto_new_events_sensor]
    wait = IntervalsNewEventsSensor(
        task_id="wait_for_new_events",
        date_from="{{ ds }}",
        deferrable=True,
        poke_interval=float(os.environ.get("INTERVALS_POLL_SECONDS", "600")),
        timeout=3600,
        soft_fail=True,  # nothing new this hour: skip, the next run waits again
    )
    land = IntervalsEventsOperator(
        task_id="land_new_events_window",
        output_path=setting("landing_path"),
        output_conn_id=setting("landing_conn"),
        date_from="{{ " + NEW + "['date_from'] }}",
        date_to="{{ " + NEW + "['date_to'] }}",
        outlets=[events_asset()],
    )
    wait >> land
    # [END howto_new_events_sensor]
