"""Triggers that wait for new Intervals events without holding a worker slot.

``IntervalsNewEventsTrigger`` serves ``IntervalsNewEventsSensor``
in deferrable mode: it polls until the feed lists events after the baseline, then fires
once. ``IntervalsNewEventsEventTrigger`` is its twin for event-driven scheduling
(``AssetWatcher``): it fires for every batch of new events and keeps going.

Both serialize primitives only (conn id, filters, baseline, poll interval, deadline):
never the API key, never a pickle. Both poll with
:class:`~airflow_provider_intervals.hooks.intervals_async.IntervalsAsyncHook`, whose
requests, retries and error mapping are the sync hook's, and both decide what is new
with :mod:`airflow_provider_intervals.watermark`, as the sensor's poke does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import watermark
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook


class IntervalsNewEventsTrigger(BaseTrigger):
    """Fire once when the feed lists events that are not in the baseline.

    :param intervals_conn_id: the Intervals connection.
    :param filters: ``event_type``, ``date_from``, ``date_to`` (already checked).
    :param baseline: :meth:`~airflow_provider_intervals.watermark.Baseline.to_state` of what was seen before.
    :param first_run: ``baseline`` or ``all`` (used when ``baseline`` is not established).
    :param known_event_ids: explicit ids that are not new (replaces the baseline).
    :param poll_interval: seconds between polls when nothing is new.
    :param deadline: epoch seconds after which a ``timeout`` event fires, or ``None``.
    """

    # Fire once and stop (a deferred sensor), or fire for every batch (an AssetWatcher).
    repeat = False

    def __init__(
        self,
        intervals_conn_id: str,
        filters: dict[str, Any],
        baseline: dict[str, Any] | None = None,
        first_run: str = "baseline",
        known_event_ids: list[str] | None = None,
        poll_interval: float = 300.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        self.intervals_conn_id = intervals_conn_id
        self.filters = filters
        self.baseline = baseline
        self.first_run = first_run
        self.known_event_ids = known_event_ids
        self.poll_interval = poll_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and primitive kwargs (no secrets)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "intervals_conn_id": self.intervals_conn_id,
                "filters": dict(self.filters),
                "baseline": self.baseline,
                "first_run": self.first_run,
                "known_event_ids": self.known_event_ids,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def poll(self, hook: IntervalsAsyncHook, baseline: watermark.Baseline) -> watermark.Scan:
        """List the feed once (one request when nothing is new) and return what is new."""
        known = None if self.known_event_ids is None else frozenset(self.known_event_ids)
        scan, after = watermark.plan_poll(baseline, self.first_run, known, self.filters.get("date_from"))
        settings = await hook.settings()
        if after is None:
            self.log.info(
                "Listing the whole feed once (%s), one request per %d events, at the key's pace",
                f"from {self.filters['date_from']}" if self.filters.get("date_from") else "no date_from",
                settings.page_size,
            )
        try:
            async for page in hook.event_pages(**self.filters, after=after):
                scan.add_page(page)
        except exc.IntervalsValidationError as error:
            if not watermark.is_stale_cursor(error):
                raise
            self.log.warning("The baseline's cursor is no longer valid for this feed; taking a new baseline")
            scan, _ = watermark.plan_poll(
                watermark.Baseline(), "baseline", None, self.filters.get("date_from")
            )
            async for page in hook.event_pages(**self.filters):
                scan.add_page(page)
        return scan

    async def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` but not past the deadline; return False once the deadline passed."""
        if self.deadline is not None:
            seconds = min(seconds, self.deadline - time.time())
            if seconds <= 0:
                return False
        await asyncio.sleep(seconds)
        return self.deadline is None or time.time() < self.deadline

    async def batches(self) -> AsyncIterator[TriggerEvent]:
        """Poll until new events appear, yielding one event per batch (or one error/timeout event)."""
        hook = IntervalsAsyncHook(self.intervals_conn_id)
        baseline = watermark.Baseline.from_state(self.baseline)
        while True:
            wait = self.poll_interval
            try:
                scan = await self.poll(hook, baseline)
            except exc.IntervalsRateLimitError as error:
                # Over the plan's limit for longer than the hook waits: stretch the interval.
                wait = max(wait, (error.retry_after or 0) - time.time())
                self.log.warning("Rate limited; next poll in %.0fs", wait)
            except (exc.IntervalsServerError, exc.IntervalsTransportError) as error:
                self.log.warning("Poll failed after retries (%s); next poll in %.0fs", error, wait)
            except exc.IntervalsError as error:
                # Auth, scope, validation, configuration: waiting longer will not help.
                if self.repeat:
                    raise  # a watcher must not turn an error into an asset event
                yield TriggerEvent({"status": "error", **exc.error_to_dict(error)})
                return
            else:
                baseline = scan.baseline_after(baseline)
                if scan.count:
                    yield TriggerEvent(
                        {"status": "success", **scan.summary(), "baseline": baseline.to_state()}
                    )
                    self.baseline = baseline.to_state()
                    if not self.repeat:
                        return
                    continue
                self.baseline = baseline.to_state()
            if not await self._wait(wait):
                yield TriggerEvent({"status": "timeout", "baseline": baseline.to_state()})
                return

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until new events appear, then fire once."""
        async for event in self.batches():
            yield event
            return


class IntervalsNewEventsEventTrigger(IntervalsNewEventsTrigger, BaseEventTrigger):
    """Event-driven twin for ``AssetWatcher``: fires for every batch of new events, forever.

    The baseline lives in the trigger while it runs; a triggerer restart starts again from
    the serialized baseline (``first_run="baseline"`` takes a fresh one, so events created
    while no triggerer ran are not reported).

    Example::

        feed = Asset(
            "intervals-new-races",
            watchers=[AssetWatcher("new-races", IntervalsNewEventsEventTrigger(
                "intervals_default", {"event_type": "race"}, poll_interval=600))],
        )
    """

    repeat = True

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield a ``success`` event for every batch of new events."""
        async for event in self.batches():
            yield event
