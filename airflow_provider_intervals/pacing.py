"""Client-side pacing: one token bucket per API key, at the plan's rate and burst.

The API limits requests per credential (the reference's *Rate limits*): every
request made with one key spends one allowance, whichever task, sub-window or trigger
sends it. So the bucket is keyed by the key (a digest of it, never the key itself) and
shared by every hook of the process: the sub-windows of a landing, the async hook's
streams in a triggerer, the rows of a bulk write.

The bucket *reserves*: :meth:`TokenBucket.reserve` books the next free slot and returns
how long to wait for it, so callers in threads (sleep) and in an event loop (``await
asyncio.sleep``) share one bucket without holding a lock while they wait. A 429 tells
us when the server's own bucket has a token again (``retryAfter``): :meth:`pause_until`
moves the next slot there, and the slots after it follow at the plan's rate, so one 429
costs one request and not a storm of retries.

When the connection names no plan, the process learns the key's plan once from
``GET /organization`` (:class:`PlanLookup`): concurrent hooks wait for that one lookup, and
a lookup that fails is remembered for a minute, so N sub-windows spend one retry budget
and fail together, not one budget each.

Across processes (mapped tasks, several workers) each process has its own bucket; see the
README (*Rate limits across tasks*) for the Airflow pool that keeps them to one allowance.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# plan -> (requests, period in seconds, burst): the reference's rate-limit section.
PLAN_LIMITS: dict[str, tuple[int, float, int]] = {
    "free": (100, 86400.0, 20),
    "premium": (100, 60.0, 20),
    "enterprise": (1000, 60.0, 50),
}
# ``plan`` extra values: the documented plans, or "unknown" for no pacing.
PLANS = (*PLAN_LIMITS, "unknown")
# A second 429 within SHARED_SECONDS means others spend the key too: slow our pace by
# SLOWDOWN, down to MIN_SCALE of the plan; each RECOVERY_SECONDS without a 429 speeds it up
# by SPEEDUP, back to the plan's rate.
SHARED_SECONDS = 60.0
RECOVERY_SECONDS = 10.0
SLOWDOWN = 0.7
SPEEDUP = 2.0
MIN_SCALE = 1 / 8
# A failed GET /organization is remembered this long for its key and URL (see PlanLookup).
LOOKUP_FAILURE_SECONDS = 60.0


@dataclass(frozen=True)
class Rate:
    """A request allowance: ``per_second`` on average, ``burst`` at once.

    :param per_second: the sustained rate.
    :param burst: how many requests may go at once from a full bucket.
    """

    per_second: float
    burst: int

    @classmethod
    def for_plan(cls, plan: str | None) -> Rate | None:
        """Return a documented plan's rate, or ``None`` for an unknown plan (no pacing)."""
        limit = PLAN_LIMITS.get(plan or "")
        return None if limit is None else cls(limit[0] / limit[1], limit[2])

    @classmethod
    def per_minute(cls, requests: float, burst: int) -> Rate:
        """Return the rate of ``requests`` per minute with ``burst``."""
        return cls(requests / 60.0, burst)

    def describe(self) -> str:
        """Say the rate the way a plan states it, e.g. ``1000 requests/min (burst 50)``."""
        per_minute = self.per_second * 60
        if per_minute >= 1:
            return f"{per_minute:g} requests/min (burst {self.burst})"
        return f"{self.per_second * 86400:g} requests/day (burst {self.burst})"


def seconds_for(rate: Rate, requests: int) -> float:
    """Return when the last of ``requests`` goes out through a full :class:`TokenBucket` at ``rate``.

    The bucket's capacity goes at once, then one request per ``1 / rate.per_second``.
    """
    capacity = TokenBucket(rate, clock=lambda: 0.0).capacity
    return max(0.0, requests - capacity) / rate.per_second


class TokenBucket:
    """A thread-safe token bucket that books slots in advance.

    It keeps one token (half a token for a burst of 1) of *headroom* below the server's
    bucket: the server counts a request when it arrives, and a request that travels faster
    than the one before it (the first one pays for the TCP handshake) would otherwise find
    the server's token not yet refilled. The headroom costs ``1 / rate`` seconds once per
    pull, and saves a 429 on almost every burst.

    It also adapts to a key shared with other processes (tasks on other workers, with no
    pool). Every booking belongs to an *epoch*; a 429 for a request booked in the current
    epoch pauses the bucket and opens the next epoch, while the 429s of requests booked
    before that pause (other streams that met the same empty server bucket) change nothing.
    A second pausing 429 within :data:`SHARED_SECONDS` means the allowance is shared: the
    pace slows by :data:`SLOWDOWN` (down to :data:`MIN_SCALE`), and speeds up by
    :data:`SPEEDUP` after each :data:`RECOVERY_SECONDS` without one.

    :param rate: the allowance to pace to.
    :param clock: a monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.rate = rate
        self.scale = 1.0
        self._tokens = self.capacity
        self._stamp = clock()
        self._last_pause: float | None = None
        self._changed = self._stamp  # the last pause or speed-up
        self.epoch = 0
        self.reserved = 0
        self.waited = 0.0
        self.pauses = 0

    @property
    def headroom(self) -> float:
        """Tokens kept below the server's level."""
        return min(1.0, self.rate.burst / 2)

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds: the burst less the headroom."""
        return self.rate.burst - self.headroom

    @property
    def per_second(self) -> float:
        """The pace now: the plan's rate, scaled down while the key is found shared."""
        return self.rate.per_second * self.scale

    def _level(self, now: float) -> float:
        # ``_stamp`` may lie in the future after a pause: the level is then below what
        # it will be at the stamp, which is exactly the wait the next caller owes.
        return min(self.capacity, self._tokens + (now - self._stamp) * self.per_second)

    def _recover(self, now: float) -> None:
        if self.scale < 1.0 and now - self._changed >= RECOVERY_SECONDS:
            level = self._level(now)
            self.scale = min(1.0, self.scale * SPEEDUP)
            self._tokens, self._stamp, self._changed = level, now, now

    def reserve(self, max_wait: float = math.inf) -> float | None:
        """Book the next request's slot and return the seconds to wait for it.

        :param max_wait: book nothing and return ``None`` when the slot lies further ahead
            than this (the caller raises instead of holding a worker for hours).
        """
        booked = self.book(max_wait)
        return None if booked is None else booked[0]

    def book(self, max_wait: float = math.inf) -> tuple[float, int] | None:
        """Like :meth:`reserve`, and also return the booking's epoch, for :meth:`pause_until`."""
        with self._lock:
            now = self._clock()
            self._recover(now)
            level = self._level(now) - 1.0
            wait = max(0.0, -level / self.per_second)
            if wait > max_wait:
                return None
            self._tokens, self._stamp = level, now
            self.reserved += 1
            self.waited += wait
            return wait, self.epoch

    def wait_for_next(self) -> float:
        """Return the seconds until a slot is free, booking nothing (for estimates and logs)."""
        with self._lock:
            level = self._level(self._clock()) - 1.0
            return max(0.0, -level / self.per_second)

    def pause_until(self, moment: float, epoch: int | None = None) -> None:
        """Book nothing before ``moment`` (monotonic seconds), when the server has a token again.

        Called on a 429 with ``moment`` from its ``retryAfter``; the requests after it follow
        at the pace (keeping the headroom).

        :param epoch: the epoch the refused request was booked in (:meth:`book`); a 429 for a
            request booked before the last pause changes nothing. ``None``: the current one.
        """
        with self._lock:
            now = self._clock()
            if epoch is not None and epoch != self.epoch:
                return
            if self._last_pause is not None and now - self._last_pause < SHARED_SECONDS:
                self.scale = max(MIN_SCALE, self.scale * SLOWDOWN)
            self._last_pause = self._changed = now
            self.pauses += 1
            self.epoch += 1
            next_slot = now + max(0.0, (1.0 - self._level(now)) / self.per_second)
            if next_slot < moment:
                self._tokens, self._stamp = 1.0 - self.headroom, moment


def key_digest(api_key: str) -> str:
    """Name a key without revealing it (buckets and caches are keyed by this)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class PlanLookup:
    """The process's ``GET /organization`` for one key, made once and shared by every hook.

    A hook learns the key's plan by holding :attr:`lock` for the whole lookup, so concurrent
    workers (the sub-windows of a landing, the triggers of a triggerer) wait for one lookup,
    and one retry budget, instead of each spending their own; then they read its outcome
    with :meth:`recall`: the plan's rate, "not paced" (an undocumented plan, or a 403: the
    key lacks ``read:series``), both kept for the process, or the lookup's failure.

    A failure is remembered for :data:`LOOKUP_FAILURE_SECONDS`, for the API URL it met: every
    error the lookup ends with but a 403 (the hook has spent its retry budget on transport
    errors, 5xx and malformed bodies by then; a 401 or a 429 past ``max_rate_limit_wait``
    would only come again), so the other workers fail at once with the same error. It is
    forgotten after that time, so a long-lived process (a triggerer) asks again after an
    outage, and a connection pointed at another host asks at once.

    :param clock: a monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self._clock = clock
        self.known = False
        self.rate: Rate | None = None
        self._failure: tuple[str, dict[str, Any], float] | None = None  # url, error_to_dict, when

    def recall(self, url: str) -> tuple[bool, Rate | None]:
        """Return ``(known, rate)``; raise the failure of a lookup at ``url`` while it is remembered.

        :param url: the API's base URL the caller would ask.
        """
        from airflow_provider_intervals import exceptions as exc

        if self.known:
            return True, self.rate
        if self._failure is not None:
            failed_url, payload, when = self._failure
            ago = self._clock() - when
            if failed_url == url and ago < LOOKUP_FAILURE_SECONDS:
                error = exc.error_from_dict(payload)
                error.message += (
                    f" (remembered: GET /organization failed so {ago:.0f}s ago in this process, after "
                    f"its retries; not asked again for {LOOKUP_FAILURE_SECONDS - ago:.0f}s)"
                )
                raise error
        return False, None

    def learned(self, api_key: str, organization: Mapping[str, Any]) -> str | None:
        """Keep the rate of ``organization``'s plan; return what to log when it is not paced.

        The lookup spent one of the allowance's tokens: it is booked in the key's bucket.

        :param api_key: the key (only its digest is kept, by :func:`bucket_for`).
        :param organization: ``GET /organization``'s data.
        """
        plan = organization.get("plan")
        rate = Rate.for_plan(plan if isinstance(plan, str) else None)
        self.known, self.rate, self._failure = True, rate, None
        if rate is not None:
            bucket_for(api_key, rate).reserve()
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
            self.known, self.rate = True, None
            return (
                "The key cannot read GET /organization (scope read:series), so its plan is unknown: "
                "requests are not paced (set the connection extra plan, or requests_per_minute and burst)"
            )
        if isinstance(error, exc.IntervalsError):
            self._failure = (url, exc.error_to_dict(error), self._clock())
        return None


_BUCKETS: dict[str, TokenBucket] = {}
_LOOKUPS: dict[str, PlanLookup] = {}
_REGISTRY_LOCK = threading.Lock()


def bucket_for(api_key: str, rate: Rate) -> TokenBucket:
    """Return the process's bucket for ``api_key``, created at ``rate`` or re-rated to it.

    :param api_key: the key (only its digest is kept).
    :param rate: the allowance the caller paces to; a new rate replaces the bucket's rate
        and keeps what it has booked.
    """
    digest = key_digest(api_key)
    with _REGISTRY_LOCK:
        bucket = _BUCKETS.get(digest)
        if bucket is None:
            bucket = _BUCKETS[digest] = TokenBucket(rate)
        elif bucket.rate != rate:
            with bucket._lock:
                bucket.rate = rate
        return bucket


def plan_lookup(api_key: str) -> PlanLookup:
    """Return the process's :class:`PlanLookup` for ``api_key`` (keyed by its digest, never the key)."""
    with _REGISTRY_LOCK:
        return _LOOKUPS.setdefault(key_digest(api_key), PlanLookup())


def learned_rate(api_key: str) -> tuple[bool, Rate | None]:
    """Return ``(known, rate)``: whether this process has learned the key's plan, and its rate."""
    lookup = plan_lookup(api_key)
    return lookup.known, lookup.rate


def remember_rate(api_key: str, rate: Rate | None) -> None:
    """Keep ``rate`` as the key's plan for the rest of the process (the task)."""
    lookup = plan_lookup(api_key)
    lookup.known, lookup.rate = True, rate


def forget() -> None:
    """Drop every bucket, learned plan and remembered lookup failure (tests and benchmarks start clean)."""
    with _REGISTRY_LOCK:
        _BUCKETS.clear()
        _LOOKUPS.clear()


def book(bucket: TokenBucket, what: str, max_wait: float) -> tuple[float, int]:
    """Book one request's slot in ``bucket``: return the seconds to wait first and the booking's epoch.

    Both hooks pace through this; they only differ in how they sleep.

    :param what: the request, for the message (``GET /events``).
    :param max_wait: the longest acceptable wait (``max_rate_limit_wait``); a longer one raises
        :class:`~airflow_provider_intervals.exceptions.IntervalsRateLimitError`, and nothing is sent.
    """
    from airflow_provider_intervals import exceptions as exc

    booked = bucket.book(max_wait=max_wait)
    if booked is None:
        ahead = bucket.wait_for_next()
        raise exc.IntervalsRateLimitError(
            429,
            None,
            f"{what}: the plan's allowance for this key ({bucket.rate.describe()}) has no request "
            f"left for {ahead:.0f}s, longer than max_rate_limit_wait={max_wait:g}s; "
            "run later, or raise the connection extra max_rate_limit_wait",
            retry_after=time.time() + ahead,
        )
    return booked
