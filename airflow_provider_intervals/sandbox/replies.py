"""Replies in the API's envelopes, and the sandbox's request counters."""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """A response to send: status, JSON body, extra headers and the fault to apply, if any."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None


def error(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: int | None = None,
    errors: dict[str, list[str]] | None = None,
) -> Reply:
    """Return an error reply in the API's envelope, with every detail *inside* ``error``.

    The reference's examples put ``retryAfter`` and ``errors`` next to ``code`` and
    ``message``, never at the top level of the body; the key order follows them.

    :param status: the HTTP status.
    :param code: the API's error code, e.g. ``NOT_FOUND``.
    :param message: what went wrong, for a person.
    :param retry_after: for a 429, the moment one may retry, in epoch milliseconds.
    :param errors: for a 422, each offending field's name -> its messages.
    """
    detail: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        detail["retryAfter"] = retry_after
    if errors is not None:
        detail["errors"] = errors
    return Reply(status, json.dumps({"error": detail}).encode())


def ok(payload: Any, status: int = 200) -> Reply:
    """Return a ``{"data": payload}`` reply."""
    return Reply(status, json.dumps({"data": payload}).encode())


#: The most 429 moments the stats keep (a deque: a long run keeps its latest).
LIMITED_KEPT = 100_000


class Stats:
    """Thread-safe request counters, and the API requests being answered at once (now and at most).

    ``peak_in_flight`` is the most API requests the sandbox was answering at one moment (from
    reading one to having its reply, the ``latency`` fault included) since the last reset: a
    client's requests in flight, counted where they arrive. ``limited_at`` holds when each 429
    was answered (epoch seconds, the latest :data:`LIMITED_KEPT`), so a benchmark counts the
    429s of a pull's steady state apart from its start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self.counters: dict[str, int] = dict.fromkeys(
                (
                    "requests",
                    "faults_injected",
                    "pages_served",
                    "listings_ended",
                    "rate_limited",
                    "dropped",
                    "truncated",
                    "truncated_short",
                    "idempotent_replays",
                    "events_created",
                    "registrations_created",
                ),
                0,
            )
            self.by_status: dict[int, int] = {}
            self.limited_at: collections.deque[float] = collections.deque(maxlen=LIMITED_KEPT)
            self.first_at: float | None = None
            self.last_at: float | None = None
            self.peak_in_flight = self.in_flight  # requests still being answered stay counted

    def bump(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self.counters[name] += n

    def enter(self) -> None:
        """Count one more API request being answered."""
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        """Count one API request answered (or refused, or failed)."""
        with self._lock:
            self.in_flight -= 1

    def status(self, status: int) -> None:
        """Count one response with ``status``, and when the first and the last were answered."""
        now = time.time()
        with self._lock:
            self.counters["requests"] += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if status == 429:
                self.limited_at.append(now)
            self.first_at = self.first_at or now
            self.last_at = now

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of the counters, ``by_status``, the moments (epoch s) and the in-flight counts.

        The moments: ``first_at`` / ``last_at`` (the first and the last answer), ``limited_at``.

        ``in_flight`` is now, ``peak_in_flight`` the most at once since the last reset.
        """
        with self._lock:
            times = {"first_at": self.first_at, "last_at": self.last_at}
            flight = {"in_flight": self.in_flight, "peak_in_flight": self.peak_in_flight}
            times["limited_at"] = list(self.limited_at)
            return {**self.counters, "by_status": dict(self.by_status), **times, **flight}
