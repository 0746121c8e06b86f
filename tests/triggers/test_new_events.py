"""The new-events triggers (deferred sensor and AssetWatcher) against the sandbox."""

from __future__ import annotations

import asyncio
import json
import time

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.triggers.new_events import (
    IntervalsNewEventsEventTrigger,
    IntervalsNewEventsTrigger,
)


def test_trigger_serializes_primitives_only_and_round_trips(api):
    trigger = IntervalsNewEventsTrigger(
        "intervals_default",
        {"event_type": "race", "date_from": "2025-04-01", "date_to": None},
        baseline={"established": True, "watermark": "e123"},
        poll_interval=30.0,
        deadline=1_900_000_000.0,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_intervals.triggers.new_events.IntervalsNewEventsTrigger"
    text = json.dumps(kwargs)  # primitives only: JSON can carry them
    assert api.api_key not in text
    rebuilt = IntervalsNewEventsTrigger(**json.loads(text))
    assert rebuilt.serialize() == (path, kwargs)


def test_event_trigger_works_with_asset_watcher_and_reports_each_batch(api, conn, post_events):
    from airflow.sdk import Asset, AssetWatcher

    trigger = IntervalsNewEventsEventTrigger(
        "intervals_default", {"date_from": "2025-04-01", "date_to": "2025-04-30"}, poll_interval=0.1
    )
    Asset("intervals-new-events-test", watchers=[AssetWatcher("new-events", trigger)])  # validates the type

    async def two_batches():
        events = trigger.run()
        first_ids = post_events(api, 2)
        first: list[str] = []
        while len(first) < 2:  # a loaded machine may let a poll fall between the two POSTs
            first += (await asyncio.wait_for(events.__anext__(), 60)).payload["new_event_ids"]
        second_ids = post_events(api, 1)
        second = await asyncio.wait_for(events.__anext__(), 60)
        await events.aclose()
        return first_ids, first, second_ids, second.payload

    first_ids, first, second_ids, second = asyncio.run(two_batches())
    assert sorted(first) == sorted(first_ids)  # each new event reported once, none twice
    assert second["new_event_ids"] == second_ids


def test_trigger_times_out_with_a_timeout_event(api, conn):
    trigger = IntervalsNewEventsTrigger(
        "intervals_default",
        {"date_from": "2025-04-01", "date_to": "2025-04-30"},
        baseline=None,
        poll_interval=0.1,
        deadline=time.time() + 0.5,
    )
    event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 20))
    assert event.payload["status"] == "timeout"
    assert event.payload["baseline"]["established"] is True


def test_trigger_auth_error_event_rebuilds_the_typed_error(api, make_conn):
    make_conn(api, key="not-a-key")
    trigger = IntervalsNewEventsTrigger(
        "intervals_default", {"date_from": None, "date_to": None, "event_type": None}
    )
    event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), 20))
    assert event.payload["status"] == "error"
    error = exc.error_from_dict(event.payload)
    assert isinstance(error, exc.IntervalsAuthenticationError)
    assert "password field" in str(error)
    assert "not-a-key" not in json.dumps(event.payload)
