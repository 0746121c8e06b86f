"""The token bucket a hook paces through: a process's handle on one key's shared allowance.

The state lives in a store (:mod:`~airflow_provider_intervals.pacing.stores`); every booking and
every 429 is one atomic change to it (:mod:`~airflow_provider_intervals.pacing.allowance`), so
all the processes and hosts that share the store share one bucket per key.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_intervals.pacing import allowance
from airflow_provider_intervals.pacing.allowance import KeyState
from airflow_provider_intervals.pacing.rates import Rate, capacity, headroom
from airflow_provider_intervals.pacing.stores import Failover, MemoryStore

#: What a change to the key's state returns.
R = TypeVar("R")
log = logging.getLogger("airflow_provider_intervals.pacing")


class TokenBucket:
    """Books request slots in a key's allowance and returns how long to wait for each.

    It *reserves*: :meth:`book` takes the next free slot and returns the wait, so callers in
    threads (sleep) and in an event loop (``await asyncio.sleep``) share it without holding a
    lock while they wait. A 429 says when the server's bucket has a token again: :meth:`pause_until`
    moves the next slot there, and teaches the bucket the key's real allowance (see
    :mod:`~airflow_provider_intervals.pacing.allowance`); :meth:`answered` counts the answers
    that measurement needs.

    :param rate: the key's allowance: the plan's, or the connection's explicit one. What 429s
        teach can lower the pace below it, never raise it above.
    :param clock: wall-clock epoch seconds (tests pass their own).
    :param shared: the key's store; ``None``: a bucket of its own, in this process.
    :param cap: this caller's own limit below the key's (a hook's ``max_requests_per_minute``),
        kept by this handle alone: the key's bucket counts the caller's requests like anyone's,
        and the caller also waits for its own rate.
    """

    def __init__(
        self,
        rate: Rate,
        clock: Callable[[], float] = time.time,
        shared: Failover | None = None,
        cap: Rate | None = None,
    ) -> None:
        self.rate = rate
        self.cap = cap
        self._capped = KeyState()  # the cap's own bucket, in this handle only
        self._clock = clock
        self._shared = shared if shared is not None else Failover(MemoryStore(), "own")
        self._lock = threading.Lock()
        self._answers: list[float] = []
        self._state = KeyState()
        self.reserved = 0
        self.waited = 0.0
        self.pauses = 0

    @property
    def digest(self) -> str:
        """The key's digest (what logs and stores name it by)."""
        return self._shared.digest

    @property
    def pace(self) -> Rate:
        """The pace as of this process's last booking: the plan's, the learned one (burst 1), or the cap."""
        pace = self._state.rate(self.rate)
        return self.cap if self.cap is not None and self.cap.per_second < pace.per_second else pace

    @property
    def learned(self) -> Rate | None:
        """The pace 429s taught and that held (burst 1), or ``None`` while the plan's holds."""
        return None if self._state.safe is None else Rate(min(self._state.safe, self.rate.per_second), 1)

    @property
    def per_second(self) -> float:
        """The requests a second :attr:`pace` allows."""
        return self.pace.per_second

    @property
    def headroom(self) -> float:
        """Tokens kept below the server's level."""
        return headroom(self.pace.burst)

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds: the burst less the headroom."""
        return capacity(self.pace.burst)

    @property
    def resumes_at(self) -> float:
        """The end of the latest pause this process knows of (epoch seconds): send nothing before."""
        return self._state.resume

    @property
    def epoch(self) -> int:
        """The number of pauses so far, as of this process's last change."""
        return self._state.epoch

    def _change(self, act: Callable[[KeyState, float], tuple[R, str | None]]) -> R:
        with self._lock:
            answers, self._answers = self._answers, []
        now = self._clock()

        def change(entry: dict[str, Any]) -> tuple[R, str | None, KeyState]:
            state = KeyState.load(entry, now)
            allowance.count(state, answers)
            result, note = act(state, now)
            entry.clear()
            entry.update(state.dump())
            return result, note, state

        result, note, self._state = self._shared.update(change)
        if note:
            log.info("Pacing API key %s: %s", self.digest, note)
        return result

    def reserve(self, max_wait: float = math.inf) -> float | None:
        """Book the next request's slot and return the seconds to wait for it.

        :param max_wait: book nothing and return ``None`` when the slot lies further ahead
            than this (the caller raises instead of holding a worker for hours).
        """
        booked = self.book(max_wait)
        return None if booked is None else booked[0]

    def book(self, max_wait: float = math.inf) -> tuple[float, int] | None:
        """Like :meth:`reserve`, and also return the booking's epoch, for :meth:`pause_until`."""
        booked = self._change(lambda state, now: allowance.book(state, self.rate, now, max_wait))
        if booked is None:
            return None
        wait = booked.wait
        with self._lock:
            if self.cap is not None:  # the key's token is taken; the caller also waits for its own
                mine, _ = allowance.book(self._capped, self.cap, self._clock(), math.inf)
                wait = max(wait, mine.wait)  # type: ignore[union-attr]
            self.reserved += 1
            self.waited += wait
        return wait, booked.epoch

    def wait_for_next(self) -> float:
        """Return the seconds until a slot is free, booking nothing (for estimates and logs)."""
        shared = self._change(lambda state, now: (allowance.peek(state, self.rate, now), None))
        if self.cap is None:
            return shared
        with self._lock:
            return max(shared, allowance.peek(self._capped, self.cap, self._clock()))

    def pause_until(self, moment: float, epoch: int | None = None) -> None:
        """Book nothing before ``moment`` (epoch seconds: a 429's ``retryAfter``), and learn from it.

        :param epoch: the epoch the refused request was booked in (:meth:`book`); a 429 for a
            request booked before the last pause changes nothing. ``None``: the current one.
        """

        def act(state: KeyState, now: float) -> tuple[bool, str | None]:
            before = state.epoch
            note = allowance.pause(state, self.rate, now, moment, epoch)
            return state.epoch != before, note

        if self._change(act):
            with self._lock:
                self.pauses += 1

    def answered(self, status: int) -> None:
        """Note the server's answer to a request this bucket let through.

        An answer other than a 429 or a 5xx spent one of the server's tokens: it is counted, at
        this moment, for the measurement of the allowance
        (:mod:`~airflow_provider_intervals.pacing.allowance`), and handed to the
        store with the next booking or pause.

        :param status: the HTTP status of the answer.
        """
        if status == 429 or status >= 500:
            return
        moment = self._clock()
        with self._lock:
            self._answers.append(moment)


def book(bucket: TokenBucket, what: str, max_wait: float) -> tuple[float, int]:
    """Book one request's slot in ``bucket``: return the seconds to wait first and the booking's epoch.

    Every request is paced through this (:func:`airflow_provider_intervals.transport.exchange.pace`); the
    hooks only differ in how they sleep.

    :param what: the request, for the message (``GET /events``).
    :param max_wait: the longest acceptable wait (``max_rate_limit_wait``); a longer one raises
        :class:`~airflow_provider_intervals.exceptions.IntervalsRateLimitError` (its ``retry_after``
        the epoch seconds the slot frees), and nothing is booked or sent.
    """
    from airflow_provider_intervals import exceptions as exc

    booked = bucket.book(max_wait=max_wait)
    if booked is None:
        ahead = bucket.wait_for_next()
        raise exc.IntervalsRateLimitError(
            429,
            None,
            f"{what}: the allowance for this key ({bucket.pace.describe()}) has no request "
            f"left for {ahead:.0f}s, longer than max_rate_limit_wait={max_wait:g}s; "
            "run later, or raise the connection extra max_rate_limit_wait",
            retry_after=time.time() + ahead,
        )
    return booked
