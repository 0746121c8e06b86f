"""Progress lines for long tasks: counts over every worker, logged at most once per interval.

Landing counts pages and records (:mod:`airflow_provider_intervals.storage`); a bulk write
counts rows by outcome (:mod:`airflow_provider_intervals.operators.writes.bulk`). Both log
counts and rates only, never an item.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: What builds a progress line: from the counts so far and the seconds since the start, a
#: log format and its arguments.
Line = Callable[[Mapping[str, int], float], tuple[Any, ...]]


class Progress:
    """Count named things from any thread; log a line when ``interval`` seconds have passed.

    :param log: where the lines go (an operator's or a module's logger).
    :param interval: seconds between two lines.
    :param line: builds the line (``format, *args``) from the counts and the seconds elapsed.
    :param names: counters that start at zero (others start when first added).
    """

    def __init__(self, log: Any, interval: float, line: Line, names: Iterable[str] = ()) -> None:
        self.log, self.interval, self.line = log, interval, line
        self.counts: dict[str, int] = dict.fromkeys(names, 0)
        self.started = self._last = time.monotonic()
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        """Add ``counts`` (e.g. ``pages=1, records=100``); log if the last line is old enough."""
        with self._lock:
            for name, value in counts.items():
                self.counts[name] = self.counts.get(name, 0) + value
            due = time.monotonic() - self._last >= self.interval
        if due:
            self.report()

    def report(self) -> None:
        """Log the counts now."""
        with self._lock:
            self._last = time.monotonic()
            counts, elapsed = dict(self.counts), self._last - self.started
        self.log.info(*self.line(counts, elapsed))

    def rate(self, name: str) -> float:
        """Return ``name``'s count per second since the start."""
        return self.counts.get(name, 0) / max(time.monotonic() - self.started, 1e-9)
