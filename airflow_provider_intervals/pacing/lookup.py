"""The key's plan from ``GET /organization``: asked once, shared through the key's store.

When the connection names no plan, a hook learns it from the organisation. Within a process the
hooks wait for one lookup (:attr:`PlanLookup.lock`); across processes the outcome is kept in
the key's store, so a task that starts after another asks nothing: a plan is kept for
:data:`PLAN_SECONDS`, a failure for :data:`LOOKUP_FAILURE_SECONDS` (for the API URL it met).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_intervals.pacing.allowance import KeyState
from airflow_provider_intervals.pacing.rates import Rate
from airflow_provider_intervals.pacing.stores import Failover, MemoryStore

#: A failed GET /organization is remembered this long for its key and URL.
LOOKUP_FAILURE_SECONDS = 60.0
#: A learned plan is trusted this long; then the next process to start asks again.
PLAN_SECONDS = 3600.0


class PlanLookup:
    """The ``GET /organization`` for one key, made once and shared by every hook that uses the key.

    A hook learns the key's plan by holding :attr:`lock` for the whole lookup, so concurrent
    workers of a process (the sub-windows of a landing, the triggers of a triggerer) wait for one
    lookup, and one retry budget, instead of each spending their own; then they read its outcome
    with :meth:`recall`: the plan's rate, "not paced" (an undocumented plan, or a 403: the key
    lacks ``read:series``), or the lookup's failure. The outcome goes to the key's store, so the
    other processes sharing it read it too.

    A failure is remembered for :data:`LOOKUP_FAILURE_SECONDS`, for the API URL it met: every
    error the lookup ends with but a 403 (the hook has spent its retry budget on transport
    errors, 5xx and malformed bodies by then; a 401 or a 429 past ``max_rate_limit_wait``
    would only come again), so the others fail at once with the same error. It is forgotten
    after that time, so a long-lived process (a triggerer) asks again after an outage, and a
    connection pointed at another host asks at once.

    :param shared: the key's store; ``None``: this lookup's own memory.
    :param clock: wall-clock epoch seconds (tests pass their own).
    :param bucket_at: returns the key's bucket at a rate, to book the lookup's own request in
        (:func:`~airflow_provider_intervals.pacing.registry.bucket_for`); ``None``: not booked.
    """

    def __init__(
        self,
        shared: Failover | None = None,
        clock: Callable[[], float] = time.time,
        bucket_at: Callable[[Rate], Any] | None = None,
    ) -> None:
        #: Held for the whole lookup: the hooks of a process wait here for its outcome.
        self.lock = threading.Lock()
        self._shared = shared if shared is not None else Failover(MemoryStore(), "own")
        self._clock = clock
        self._bucket_at = bucket_at
        self.known = False
        self.rate: Rate | None = None

    def _read(self) -> KeyState:
        return self._shared.update(lambda entry: KeyState.load(entry, self._clock()))

    def _write(self, plan: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
        def change(entry: dict[str, Any]) -> None:
            entry["plan"], entry["failure"] = plan, failure

        self._shared.update(change)

    def recall(self, url: str) -> tuple[bool, Rate | None]:
        """Return ``(known, rate)``; raise the failure of a lookup at ``url`` while it is remembered.

        :param url: the API's base URL the caller would ask.
        """
        from airflow_provider_intervals import exceptions as exc

        if self.known:
            return True, self.rate
        state, now = self._read(), self._clock()
        plan = state.plan or {}
        if isinstance(plan.get("at"), int | float) and now - plan["at"] < PLAN_SECONDS:
            rate = plan.get("rate")
            valid = isinstance(rate, list) and len(rate) == 2
            self.known, self.rate = True, Rate(float(rate[0]), int(rate[1])) if valid else None
            return True, self.rate
        failure = state.failure or {}
        when = failure.get("at")
        if (
            failure.get("url") == url
            and isinstance(when, int | float)
            and 0 <= now - when < LOOKUP_FAILURE_SECONDS
        ):
            ago = now - when
            error = exc.error_from_dict(failure.get("error") or {})
            error.message += (
                f" (remembered: GET /organization failed so {ago:.0f}s ago for this key, after its "
                f"retries; not asked again for {LOOKUP_FAILURE_SECONDS - ago:.0f}s)"
            )
            raise error
        return False, None

    def remember(self, rate: Rate | None) -> None:
        """Keep ``rate`` (``None``: not paced) as the key's plan, here and in the store."""
        self.known, self.rate = True, rate
        stored = None if rate is None else [rate.per_second, rate.burst]
        self._write({"rate": stored, "at": self._clock()}, None)

    def learned(self, organization: Mapping[str, Any]) -> str | None:
        """Keep the rate of ``organization``'s plan; return what to log when it is not paced.

        The lookup spent one of the allowance's tokens: it is booked in the key's bucket.

        :param organization: ``GET /organization``'s data.
        """
        plan = organization.get("plan")
        rate = Rate.for_plan(plan if isinstance(plan, str) else None)
        self.remember(rate)
        if rate is not None:
            if self._bucket_at is not None:
                self._bucket_at(rate).reserve()
            return None
        return (
            f"The key's plan is {plan!r}, not a documented one: requests are not paced "
            "(set the connection extra plan, or requests_per_minute and burst)"
        )

    def failed(self, url: str, error: Exception) -> str | None:
        """Remember why the lookup at ``url`` failed; return what to log if the key goes unpaced.

        :return: for a 403 (the key lacks ``read:series``), the line saying requests are not
            paced, and the caller goes on; otherwise ``None``, and the caller raises ``error``.
        """
        from airflow_provider_intervals import exceptions as exc

        if isinstance(error, exc.IntervalsPermissionError):
            self.remember(None)
            return (
                "The key cannot read GET /organization (scope read:series), so its plan is unknown: "
                "requests are not paced (set the connection extra plan, or requests_per_minute and burst)"
            )
        if isinstance(error, exc.IntervalsError):
            self._write(None, {"url": url, "error": exc.error_to_dict(error), "at": self._clock()})
        return None
