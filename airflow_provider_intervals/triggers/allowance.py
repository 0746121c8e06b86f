"""IntervalsAllowanceTrigger: wait in the triggerer until the API's allowance returns.

A deferrable landing (see
:class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`) defers with
it when its wait for the allowance is longer than its ``defer_after``; the worker slot is
free while the triggerer waits. The trigger sends no request: the moment is the hook's
(``IntervalsRateLimitError.retry_after``, from pacing or from a 429's ``retryAfter``).

It fires once, and the event carries back what the resumed landing needs (``resume``:
counts, and on Airflow < 3.3 the checkpoint). The event, not the deferral's ``kwargs``:
``dag.test()`` resumes a task with the event alone, dropping those ``kwargs``, while the
triggerer keeps both; the event reaches the task either way.

It serializes primitives only (the moment in epoch seconds, the resume payload): no key,
no pickle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

# Longest single sleep: the clock is read again after it, so a clock change costs at most this.
MAX_SLEEP = 60.0


class IntervalsAllowanceTrigger(BaseTrigger):
    """Fire once at ``moment``, when the API's allowance has a request again.

    :param moment: when to fire, epoch seconds.
    :param resume: JSON-friendly payload handed back in the event for the resumed task.
    """

    def __init__(self, moment: float, resume: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.moment = moment
        self.resume = resume

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and primitive kwargs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"moment": self.moment, "resume": self.resume},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Sleep until ``moment``, then fire ``{"status": "allowance", "moment", "resume"}``."""
        self.log.info("Waiting for the Intervals API's allowance: %.0fs", max(0.0, self.moment - time.time()))
        while (left := self.moment - time.time()) > 0:
            await asyncio.sleep(min(left, MAX_SLEEP))
        yield TriggerEvent({"status": "allowance", "moment": self.moment, "resume": self.resume})
