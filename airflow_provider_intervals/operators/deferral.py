"""A landing that defers while the API's allowance is spent, and resumes where it stopped.

With ``deferrable=True`` a landing's hooks wait at most ``defer_after`` seconds for the
allowance (:class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`'s
``max_rate_limit_wait``). A longer wait (pacing's next slot far away, a 429 whose
``retryAfter`` is far away: a free plan's 100 requests a day) makes the hook raise
``IntervalsRateLimitError`` without sending anything; the landing then finishes and
checkpoints the part each stream was writing and stops
(:class:`~airflow_provider_intervals.storage.landing.LandingPaused`), and the operator defers
to the triggerer with an
:class:`~airflow_provider_intervals.triggers.allowance.IntervalsAllowanceTrigger` set to the
hook's ``retry_after``. Its worker slot is free while it waits. When the trigger fires, a
worker runs :meth:`DeferrableLanding.execute_complete`, which lands the rest of the window from
the checkpoint (the items after each stream's cursor: nothing fetched twice, nothing lost) and
publishes it once, as an undeferred landing does; it may defer again. A resume that fetched
nothing (a new process asks ``GET /organization`` for the plan when the connection names none;
or other tasks took the allowance) waits one more such wait per idle resume in a row, so the
allowance builds up rather than being spent on resuming.

Where the checkpoint lives: in the task's ``task_state_store`` (Airflow 3.3+), which the
resumed task reads. Older Airflow has none, so the checkpoint rides the trigger
(:class:`~airflow_provider_intervals.storage.series.CarriedCheckpoint`) and comes back in its event:
a deferred landing resumes there too. A *retry* there (a failure after a deferral) still starts
the window over, in a fresh write series, as it always did on that Airflow.

The counts a try reports (``requests``, ``resumed_parts``, ``deferrals``) are summed over its
deferrals and also ride the trigger, in its event: ``dag.test()`` resumes a task with the event
alone, without the deferral's ``kwargs``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, NoReturn

from airflow_provider_intervals.storage import CarriedCheckpoint, LandingPaused, LandingResult

# A deferrable landing waits up to this many seconds for the allowance on the worker, then defers.
DEFAULT_DEFER_AFTER = 300.0


class DeferrableLanding:
    """Deferring and resuming, for the landing operators (a mixin of ``IntervalsLandingOperator``).

    The operator provides ``_land(context, resume)``, ``log`` and ``defer``.
    """

    log: Any
    defer: Any
    _land: Any

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume a landing deferred for the allowance: land the rest of the window, then publish it.

        :param event: the trigger's event; its ``resume`` holds the try's counts so far (and,
            without a ``task_state_store``, the checkpoint).
        """
        resume = dict((event or {}).get("resume") or {})
        self.log.info("The API's allowance is back: resuming after deferral %d", resume.get("deferrals", 0))
        return self._land(context, resume)

    def checkpoint_store(self, context: Any, deferrable: bool, resume: dict[str, Any]) -> Any:
        """Return where the landing keeps its checkpoint: the ``task_state_store``, else one it carries.

        :param resume: what the trigger handed back (empty on the try's first call).
        """
        store = context.get("task_state_store")
        if store is not None or not deferrable:
            return store
        if not resume:
            self.log.info(
                "No task_state_store (Airflow < 3.3): a deferral carries the checkpoint in its trigger, "
                "a retry starts the window over"
            )
        return CarriedCheckpoint(resume.get("checkpoint"))

    @staticmethod
    def try_counts(resume: dict[str, Any], result: LandingResult) -> dict[str, int]:
        """Return the try's ``requests``, ``resumed_parts`` (from earlier tries) and ``deferrals``."""
        return {
            "requests": resume.get("requests", 0) + result.requests,
            "resumed_parts": resume.get("resumed_parts", result.resumed_parts),
            "deferrals": resume.get("deferrals", 0),
        }

    def defer_for_allowance(
        self, pause: LandingPaused, resume: dict[str, Any], store: Any, defer_after: float
    ) -> NoReturn:
        """Free the worker until the allowance returns; what the resume needs rides in the trigger."""
        from airflow_provider_intervals.triggers.allowance import IntervalsAllowanceTrigger

        # Resumes in a row that fetched no page: the allowance that came back went elsewhere.
        idle = resume.get("idle", 0) + 1 if resume and pause.requests == 0 else 0
        carried = {
            "requests": resume.get("requests", 0) + pause.requests,
            "resumed_parts": resume.get("resumed_parts", pause.resumed_parts),
            "deferrals": resume.get("deferrals", 0) + 1,
            "idle": idle,
        }
        if isinstance(store, CarriedCheckpoint):
            carried["checkpoint"] = store.checkpoint
        wait = max(0.0, pause.retry_after - time.time())
        if idle:
            # A new process spends what returned before its first page: GET /organization when the
            # connection names no plan, or other tasks using the key took it. Waiting for one more
            # such wait per idle resume lets the allowance build up, instead of resuming for nothing.
            self.log.warning(
                "This resume fetched nothing (%d in a row): the allowance that returned was spent "
                "elsewhere, e.g. on GET /organization (set the connection extra plan, or "
                "requests_per_minute and burst) or by other tasks using the key; waiting %d times longer",
                *(idle, idle + 1),
            )
            wait *= idle + 1
        moment = time.time() + wait
        self.log.info(
            "The API's allowance has no request for %.1fs (more than defer_after=%gs): %d parts (%d "
            "records) are checkpointed; deferring to the triggerer until %s",
            *(wait, defer_after, pause.parts, pause.records, dt.datetime.fromtimestamp(moment, dt.UTC)),
        )
        self.defer(trigger=IntervalsAllowanceTrigger(moment, carried), method_name="execute_complete")
