"""Run windows: the inclusive days one run of a landing (or a report) covers.

A window is ``date_from`` .. ``date_to``, both inclusive days, in the DAG's timezone:

- ``date_from`` = the day of ``data_interval_start``; ``date_to`` = the last day inside
  the interval, whose end is exclusive. ``@daily`` with ``CronDataIntervalTimetable``:
  the run of 2025-06-02 covers 2025-06-01 00:00 .. 2025-06-02 00:00, so the window is
  2025-06-01 .. 2025-06-01. ``@weekly`` (data intervals): the run of Sunday 2025-06-08
  covers 2025-06-01 .. 2025-06-07.
- An empty interval (start == end: Airflow 3's default ``CronTriggerTimetable`` for a
  cron ``schedule``, a manual run, ``schedule=None``) gives the logical date's day; a
  backfill of 2024-03-15 on such a DAG lands 2024-03-15 .. 2024-03-15. A run without a
  logical date uses the day of its ``run_after``.
- Templated ``date_from`` / ``date_to`` (``"{{ ds }}"``, ``"{{ macros.ds_add(ds, -7) }}"``)
  override either end; they are checked (``YYYY-MM-DD``, from <= to) before any request.

Resources without a date filter (registrations, recurrences, groups) are snapshots: the
window's ``date_to`` names the snapshot (``snapshot=2025-06-01``) so a rerun of the run
replaces its own snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation

#: Sub-windows cut per worker a landing may run: a queue finer than the workers, so that the
#: workers started (as many as the round trip needs, see :mod:`airflow_provider_intervals.inflight`)
#: share the last, shorter sub-windows (:meth:`Window.taper`) instead of one of them fetching a
#: long last piece alone; and coarse enough that a long window is not shredded into tiny part
#: files (each sub-window with items makes at least one).
SUB_WINDOWS_PER_WORKER = 2


@dataclass(frozen=True)
class Window:
    """Inclusive days of one run.

    :param date_from: first day, ``YYYY-MM-DD``.
    :param date_to: last day, ``YYYY-MM-DD``.
    """

    date_from: str
    date_to: str

    def days(self) -> int:
        """Return the number of days in the window."""
        return (dt.date.fromisoformat(self.date_to) - dt.date.fromisoformat(self.date_from)).days + 1

    def sub_windows(self, concurrency: int, split_days: int | None = None) -> list[Window]:
        """Return the sub-windows a landing fetches, in order: its queue of streams.

        ``split_days`` days each when given; else :data:`SUB_WINDOWS_PER_WORKER` per worker the
        landing may run (``concurrency``), longest first (:meth:`taper`), one for a single
        worker (it has nobody to share the last ones with); never shorter than a day, so a
        one-day window is one stream. The cut depends on these settings alone, never on the
        network: a retry resumes the same streams and the manifest lists them in the same order.

        :param concurrency: the most workers the landing runs.
        :param split_days: days per sub-window, or ``None``.
        """
        if split_days:
            return self.split(-(-self.days() // split_days))
        return self.taper(1 if concurrency <= 1 else SUB_WINDOWS_PER_WORKER * concurrency)

    def taper(self, pieces: int) -> list[Window]:
        """Cut the window into at most ``pieces`` contiguous sub-windows, none longer than the one before.

        Lengths fall linearly (weights ``pieces`` .. 1), at least a day each, rounded by largest
        remainder: workers taking them in order take the long ones first and share the short
        ones at the end, so none fetches a long last piece alone while the others are done.
        """
        start, days = dt.date.fromisoformat(self.date_from), self.days()
        pieces = max(1, min(pieces, days))
        weights = range(pieces, 0, -1)
        spare = [(days - pieces) * w / sum(weights) for w in weights]
        lengths = [1 + int(x) for x in spare]
        by_remainder = sorted(range(pieces), key=lambda i: (int(spare[i]) - spare[i], i))
        for i in by_remainder[: days - sum(lengths)]:
            lengths[i] += 1
        subs, first = [], start
        for length in sorted(lengths, reverse=True):  # a rounded-up one never follows a shorter one
            last = first + dt.timedelta(days=length - 1)
            subs.append(Window(first.isoformat(), last.isoformat()))
            first = last + dt.timedelta(days=1)
        return subs

    def split(self, pieces: int) -> list[Window]:
        """Cut the window into at most ``pieces`` contiguous sub-windows of near-equal days."""
        start, days = dt.date.fromisoformat(self.date_from), self.days()
        pieces = max(1, min(pieces, days))
        bounds = [start + dt.timedelta(days=days * i // pieces) for i in range(pieces + 1)]
        return [
            Window(bounds[i].isoformat(), (bounds[i + 1] - dt.timedelta(days=1)).isoformat())
            for i in range(pieces)
        ]


def default_window(context: Any) -> Window:
    """Return the run's window from its data interval (see the module docstring)."""
    dag = context.get("dag")
    tz = getattr(dag, "timezone", None) or dt.UTC
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        first = start.astimezone(tz).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
        return Window(first.isoformat(), last.isoformat())
    moment = context.get("logical_date") or start
    if moment is None and context.get("dag_run") is not None:
        moment = context["dag_run"].run_after
    if moment is None:
        raise exc.IntervalsArgumentError(
            "date_from", None, "the run has no data interval or logical date: pass date_from and date_to"
        )
    day = moment.astimezone(tz).date().isoformat()
    return Window(day, day)


def resolve_window(context: Any, date_from: Any, date_to: Any) -> Window:
    """Return the window: the templated ends where given, the run's window elsewhere; checked."""
    if date_from is None or date_to is None:
        run = default_window(context)
        date_from = run.date_from if date_from is None else date_from
        date_to = run.date_to if date_to is None else date_to
    start, end = validation.check_date_range(_strip(date_from), _strip(date_to))
    return Window(start, end)


def _strip(value: Any) -> Any:
    # A rendered template often carries a newline or spaces; "2025-06-01\n" is still a date.
    return value.strip() if isinstance(value, str) else value
