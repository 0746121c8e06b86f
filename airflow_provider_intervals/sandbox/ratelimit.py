"""Per-key token buckets with the plans' documented limits."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping

#: plan -> (requests, period in seconds, burst). From the reference's rate-limit section.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float, int] | None] = {
    "free": (100, 86400.0, 20),
    "premium": (100, 60.0, 20),
    "enterprise": (1000, 60.0, 50),
}

#: A sandbox's rate limits: ``None`` or ``True`` for :data:`DEFAULT_RATE_LIMITS`, ``False`` for
#: none, or a mapping ``plan -> (requests, period in seconds, burst)`` that overrides them plan
#: by plan (a ``None`` entry: that plan is not limited).
RateLimits = Mapping[str, tuple[int, float, int] | None] | bool | None


class RateLimiter:
    """Token bucket per API key: ``burst`` tokens, refilled at ``requests / period`` per second.

    :param limits: ``None`` for the documented limits, ``False`` to disable limiting, or a
        mapping ``plan -> (requests, period_seconds, burst)`` that overrides the documented
        limits plan by plan (a ``None`` entry disables that plan's limit).
    """

    def __init__(self, limits: RateLimits = None) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}
        self.configure(limits)

    def configure(self, limits: RateLimits) -> None:
        """Replace the limits and empty every bucket's history (all start full)."""
        if limits is True:
            limits = None
        with self._lock:
            self.limits = limits
            self._effective: dict[str, tuple[int, float, int] | None] = (
                {} if limits is False else {**DEFAULT_RATE_LIMITS, **(limits or {})}
            )
            self._buckets.clear()

    def limit_for(self, plan: str) -> tuple[int, float, int] | None:
        """Return ``(requests, period, burst)`` for ``plan``, or ``None`` if unlimited."""
        return self._effective.get(plan)

    def is_documented(self, plan: str) -> bool:
        """Tell whether ``plan``'s limit is the reference's own (not overridden or disabled)."""
        return self._effective.get(plan) == DEFAULT_RATE_LIMITS.get(plan) is not None

    def acquire(self, key: str, plan: str) -> int | None:
        """Take one token from ``key``'s bucket.

        :return: ``None`` if allowed, else the epoch milliseconds when a token will be available.
        """
        limit = self._effective.get(plan)
        if limit is None:
            return None
        requests, period, burst = limit
        rate = requests / period
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [float(burst), now]
            tokens = min(float(burst), bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return None
            bucket[0] = tokens
            wait = (1.0 - tokens) / rate
        return math.ceil((time.time() + wait) * 1000)
