"""Requests in flight sized to the round trip: when a landing starts another worker.

Cursor pagination makes a listing's pages sequential (each request names the last item of the
page before it), so one stream has one request in flight at a time, and a landing's requests
in flight come only from its concurrent streams, its sub-windows. To spend a key paced at
``rate`` requests per second, ``rate x round trip`` requests must be in flight (Little's law):
the enterprise plan's 16.7 requests/s at a 150 ms round trip needs 2.5, and two streams then
wait on the network for a third of the allowance.

So the streams in flight are not fixed by ``concurrency`` but sized while the landing runs:

- the window is cut into a queue of sub-windows finer than the workers
  (:meth:`~airflow_provider_intervals.windows.Window.sub_windows`), fixed by the settings alone,
  so that a retry resumes the same streams and the manifest lists them in the same order
  whatever the network did;
- each hook measures its requests (:class:`RoundTrips`: how many are in flight, and a moving
  average of their round trips);
- the landing starts with one worker, and :class:`Sizer` starts the next (one HTTP session
  each, up to ``concurrency``) when fewer run than :func:`workers_needed` (``rate x round trip``
  with :data:`HEADROOM`), the key's bucket has a slot free now, and every running worker has a
  request in flight: the streams wait on the network, not on the bucket, the CPU or the storage
  (:func:`start_another`). A key whose plan is unknown is not paced: workers start up to
  ``concurrency`` while they all wait on the network.

A started worker takes sub-windows from the queue until it is empty, so sockets stay bounded by
the workers in use. Nothing here sends a request or sleeps.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# The landing operators' ``concurrency``: the most workers (streams in flight) a landing runs.
# 8 covers the enterprise plan (16.7 requests/s) up to a ~320 ms round trip with HEADROOM.
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 16
#: Workers kept above rate x round trip: the client's own work per page (parsing, the hand-off
#: to the writer) and the round trip's jitter are not in the measured average.
HEADROOM = 1.5
# Weight of the newest round trip in the moving average.
SMOOTHING = 0.2


class RoundTrips:
    """One client's requests: how many are in flight now, and a moving average of their round trips.

    Thread-safe: a worker's requests (sent from its prefetch thread) write it, the landing's
    main thread reads it.

    :param clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.in_flight = 0
        self.samples = 0
        self.average: float | None = None

    @contextlib.contextmanager
    def measure(self, record: bool = True) -> Iterator[None]:
        """Count one request in flight for the block; when it ends without an error, add its seconds.

        :param record: whether the round trip joins the average (the plan lookup's, sent before
            the key's pacing is known, does not: see :class:`Sizer`).
        """
        with self._lock:
            self.in_flight += 1
        start = self._clock()
        answered = False
        try:
            yield
            answered = True
        finally:
            seconds = self._clock() - start
            with self._lock:
                self.in_flight -= 1
                if answered and record:
                    self._add(seconds)

    def add(self, seconds: float) -> None:
        """Add one round trip of ``seconds`` to the average.

        :param seconds: from sending the request to having read the whole answer.
        """
        with self._lock:
            self._add(seconds)

    def _add(self, seconds: float) -> None:
        self.samples += 1
        self.average = (
            seconds if self.average is None else self.average + SMOOTHING * (seconds - self.average)
        )


def workers_needed(per_second: float | None, round_trip: float, bound: int) -> int:
    """Return how many workers keep ``per_second x round_trip`` requests in flight, with headroom.

    :param per_second: the key's paced rate, or ``None`` when it is not paced (then ``bound``).
    :param round_trip: seconds one request takes, on average.
    :param bound: the most workers allowed (``concurrency``).
    """
    if per_second is None:
        return bound
    return max(1, min(bound, math.ceil(per_second * round_trip * HEADROOM)))


def start_another(running: int, wanted: int, slot_wait: float | None, in_flight: int) -> bool:
    """Return whether to start another worker now.

    :param running: workers started.
    :param wanted: :func:`workers_needed`.
    :param slot_wait: seconds until the key's bucket has a slot free (``None``: not paced);
        a wait means the bucket, not the network, is what the streams wait for.
    :param in_flight: requests in flight now, over the running workers; fewer than ``running``
        means a worker is busy elsewhere (parsing, writing, waiting for the bucket).
    """
    if running >= wanted:
        return False
    return (slot_wait is None or slot_wait <= 0) and in_flight >= running


class Sizer:
    """Decides when a landing starts its next worker (see the module docstring).

    Its :meth:`more` is what :func:`airflow_provider_intervals.storage.landing.land` asks, from the
    landing's main thread, while sub-windows wait in the queue.

    :param bound: the most workers (the landing's ``concurrency``).
    :param clients: the workers' hooks, in the order they start: each has ``round_trips``
        (:class:`RoundTrips`) and ``bucket`` (the key's token bucket, or ``None`` when unpaced).
    :param log: where each started worker is announced, with the figures that started it.

    Its ``peak`` is the most workers it has had started (the first one counts).
    """

    def __init__(self, bound: int, clients: Sequence[Any], log: Any) -> None:
        self.bound = bound
        self.clients = clients
        self.log = log
        self.peak = 1

    def more(self, running: int) -> bool:
        """Return whether to start another worker now, ``running`` being started.

        Nothing is decided before a running worker has an answered, paced request: its hook has
        then resolved the key's bucket (a plan lookup, if any, is over), so reading it here sends
        nothing.

        :param running: workers started so far.
        """
        if running >= min(self.bound, len(self.clients)):
            return False
        trips = [c.round_trips for c in self.clients[:running]]
        measured = [(c, t) for c, t in zip(self.clients, trips, strict=False) if t.samples]
        if not measured:
            return False
        bucket = measured[0][0].bucket
        slot_wait = None if bucket is None else bucket.wait_for_next()
        per_second = None if slot_wait is None else bucket.per_second
        samples = sum(t.samples for _, t in measured)
        round_trip = sum(t.average * t.samples for _, t in measured) / samples
        wanted = workers_needed(per_second, round_trip, self.bound)
        if not start_another(running, wanted, slot_wait, sum(t.in_flight for t in trips)):
            return False
        pace = "not paced" if per_second is None else f"{per_second:.1f} requests/s"
        self.log.info(
            "Starting worker %d of at most %d: round trip %.0f ms at %s wants %d in flight",
            *(running + 1, self.bound, round_trip * 1000, pace, wanted),
        )
        self.peak = running + 1
        return True
