"""The allowance trigger: primitives only, and it fires once, with what the resumed landing needs."""

from __future__ import annotations

import asyncio
import json
import time

from airflow_provider_intervals.triggers.allowance import IntervalsAllowanceTrigger

RESUME = {
    "requests": 19,
    "resumed_parts": 0,
    "deferrals": 1,
    "checkpoint": {"write_id": "abc", "streams": {}},
}


def test_serializes_primitives_only_and_round_trips():
    trigger = IntervalsAllowanceTrigger(1_900_000_000.5, RESUME)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_intervals.triggers.allowance.IntervalsAllowanceTrigger"
    rebuilt = IntervalsAllowanceTrigger(**json.loads(json.dumps(kwargs)))  # JSON can carry them
    assert rebuilt.serialize() == (path, kwargs)


def test_fires_once_at_the_moment_with_the_resume_payload():
    moment = time.time() + 0.3

    async def events():
        return [event async for event in IntervalsAllowanceTrigger(moment, RESUME).run()]

    (event,) = asyncio.run(events())
    assert time.time() >= moment  # not before the allowance returns
    assert event.payload == {"status": "allowance", "moment": moment, "resume": RESUME}
