"""Allowances as numbers: the plans' documented limits, a :class:`Rate`, and a key's digest.

Standard library only: :mod:`~airflow_provider_intervals.get_provider_info` reads the plans'
labels from here, and Airflow imports that from every CLI command.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: plan -> (requests, period in seconds, burst): the reference's rate-limit section.
PLAN_LIMITS: dict[str, tuple[int, float, int]] = {
    "free": (100, 86400.0, 20),
    "premium": (100, 60.0, 20),
    "enterprise": (1000, 60.0, 50),
}
#: ``plan`` extra values: the documented plans, or "unknown" for no pacing.
PLANS = (*PLAN_LIMITS, "unknown")


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

    def describe(self, burst: bool = True) -> str:
        """Say the rate the way a plan states it, e.g. ``1000 requests/min (burst 50)``.

        :param burst: name the burst too.
        """
        per_minute = self.per_second * 60
        if per_minute >= 1:
            text = f"{round(per_minute, 1):g} requests/min"
        else:
            text = f"{round(self.per_second * 86400, 1):g} requests/day"
        return f"{text} (burst {self.burst})" if burst else text


def headroom(burst: int) -> float:
    """Tokens a client keeps below the server's bucket: one, or half of a burst of 1.

    The server counts a request when it arrives, and a request that travels faster than the
    one before it (the first one pays for the TCP handshake) would otherwise find the server's
    token not yet refilled. The headroom costs one request's period once per pull, and saves a
    429 on almost every burst.
    """
    return min(1.0, burst / 2)


def capacity(burst: int) -> float:
    """Return the most tokens a client's bucket holds: the burst less the :func:`headroom`."""
    return burst - headroom(burst)


def seconds_for(rate: Rate, requests: int) -> float:
    """Return when the last of ``requests`` goes out through a full bucket at ``rate``.

    The bucket's capacity goes at once, then one request per ``1 / rate.per_second``.
    """
    return max(0.0, requests - capacity(rate.burst)) / rate.per_second


def key_digest(api_key: str) -> str:
    """Name a key without revealing it (buckets, shared state and logs are keyed by this)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]
