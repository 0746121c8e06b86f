"""Event-driven scheduling: run a DAG whenever the organisation publishes new races.

Shows :class:`~airflow_provider_intervals.triggers.new_events.IntervalsNewEventsEventTrigger`
attached to an asset with an ``AssetWatcher``: the triggerer polls the API (one request per
poll while nothing is new) and emits an asset event for every batch of new events; the DAG
is scheduled on that asset and reads the new ids from the triggering asset event. No
worker slot is held between batches.

Needs the ``intervals_default`` connection and a running triggerer.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsEventTrigger

# [START howto_asset_watcher]
NEW_RACES = Asset(
    name="intervals-new-races",
    uri="intervals://intervals_default/events?type=race",
    watchers=[
        AssetWatcher(
            name="intervals-new-races-watcher",
            trigger=IntervalsNewEventsEventTrigger(
                intervals_conn_id="intervals_default", filters={"event_type": "race"}, poll_interval=600.0
            ),
        )
    ],
)

with DAG(
    dag_id="intervals_new_races_watcher",
    schedule=[NEW_RACES],
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:

    @task
    def announce(triggering_asset_events=None) -> int:
        """Log the new races' ids carried by the asset events; return how many there are."""
        count = 0
        for event in triggering_asset_events[NEW_RACES]:
            # A watcher's asset event carries the trigger event's payload under "payload".
            payload = event.extra.get("payload", {})
            count += payload.get("new_event_count", 0)
            print(f"New races: {payload.get('new_event_ids', [])}")
        return count

    announce()
# [END howto_asset_watcher]
