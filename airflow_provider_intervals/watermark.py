"""New-event detection without I/O, shared by the sensor (sync) and the trigger (async).

The API's list order is stable under inserts and new items come after the old ones
(``docs/intervals-api.md``, Pagination). So the baseline of "events that were there
before" is a *watermark*: the ``_id`` of the last event of the filtered listing. A poll
asks for the events after it, one request when nothing is new, instead of re-listing
every event and diffing id sets. With an explicit ``known_event_ids`` the poll lists
everything and reports the ids not in that set.

The baseline is kept per feed: the connection plus the filters (:func:`feed_key`), except
``date_from``: a lower bound that moves forward (``"{{ ds }}"``, to watch upcoming events
cheaply) keeps the watermark valid, since every event created later still comes after it.
The baseline remembers the ``date_from`` it was taken with; a bound that moves *back* takes
a new baseline instead of reporting old events as new.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intervals import api
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation as v

# At most this many ids travel in XCom / a trigger event; the count is always exact.
MAX_REPORTED_IDS = 100
FIRST_RUN_MODES = ("baseline", "all")


def feed_key(conn_id: str, filters: dict[str, Any]) -> str:
    """Name the baseline of one feed: the connection and the rendered filters but ``date_from``, hashed."""
    kept = {k: v for k, v in filters.items() if k != "date_from"}
    canonical = json.dumps({"conn_id": conn_id, **kept}, sort_keys=True)
    return "intervals-new-events-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_filters(event_type: Any, date_from: Any, date_to: Any) -> dict[str, Any]:
    """Check the sensor's filters before any request and return them in the hook's argument names."""
    start, end = v.check_date_range(date_from, date_to)
    return {
        "event_type": v.check_enum("event_type", event_type or None, v.EVENT_TYPES),
        "date_from": start,
        "date_to": end,
    }


@dataclass
class Baseline:
    """What a feed has already seen.

    :param established: whether a baseline was ever taken (an empty listing is a baseline too).
    :param watermark: ``_id`` of the last event seen, or ``None`` if none was.
    :param date_from: the ``date_from`` filter the feed was listed with (``None``: unbounded).
    """

    established: bool = False
    watermark: str | None = None
    date_from: str | None = None

    @classmethod
    def from_state(cls, value: Any) -> Baseline:
        """Read a baseline stored with :meth:`to_state` (anything else means none)."""
        if isinstance(value, dict) and value.get("established"):
            return cls(True, value.get("watermark") or None, value.get("date_from") or None)
        return cls()

    def to_state(self) -> dict[str, Any]:
        """Return a JSON-able form for Airflow's state stores, a Variable or a trigger's kwargs."""
        return {"established": self.established, "watermark": self.watermark, "date_from": self.date_from}

    def covers(self, date_from: str | None) -> bool:
        """Tell whether this baseline holds for a listing from ``date_from`` (same bound, or later)."""
        if not self.established or self.date_from is None:
            return self.established
        return date_from is not None and date_from >= self.date_from


@dataclass
class Scan:
    """One poll's result, fed page by page.

    :param count_all: count every listed event as new (a first run with ``first_run="all"``,
        or a baseline with no watermark).
    :param known_ids: explicit ids that are not new; ``None`` uses the watermark.
    """

    count_all: bool = False
    known_ids: frozenset[str] | None = None
    date_from: str | None = None
    new_ids: list[str] = field(default_factory=list)
    count: int = 0
    last_id: str | None = None
    first_date: str | None = None
    last_date: str | None = None
    by_type: dict[str, int] = field(default_factory=dict)

    def add_page(self, page: api.Page) -> None:
        """Account for one page of the listing."""
        for item in page.items:
            self.last_id = item["_id"]
            if self.known_ids is not None and item["_id"] in self.known_ids:
                continue
            if self.known_ids is None and not self.count_all:
                continue
            self.count += 1
            if len(self.new_ids) < MAX_REPORTED_IDS:
                self.new_ids.append(item["_id"])
            date = item.get("date")
            if isinstance(date, str):
                self.first_date = min(self.first_date or date, date)
                self.last_date = max(self.last_date or date, date)
            kind = str(item.get("type"))
            self.by_type[kind] = self.by_type.get(kind, 0) + 1

    def baseline_after(self, before: Baseline) -> Baseline:
        """Return the baseline to store once this scan's events are reported."""
        return Baseline(True, self.last_id or before.watermark, self.date_from)

    def summary(self) -> dict[str, Any]:
        """Return the XCom / trigger-event payload: ids (bounded), exact count, date span, counts by type."""
        return {
            "new_event_ids": self.new_ids,
            "new_event_count": self.count,
            "ids_truncated": self.count > len(self.new_ids),
            "date_from": self.first_date,
            "date_to": self.last_date,
            "by_type": self.by_type,
        }


def plan_poll(
    baseline: Baseline, first_run: str, known_ids: frozenset[str] | None, date_from: str | None = None
) -> tuple[Scan, str | None]:
    """Decide how to poll: return the scan to fill and the cursor to list after.

    - explicit ``known_ids``: list everything, report what is not known;
    - no baseline yet, or one taken from a later ``date_from`` than this poll's: list
      everything; everything is new only with ``first_run="all"``;
    - a baseline with a watermark: list after it, everything listed is new;
    - a baseline without one (the listing was empty): list everything, all new.

    :param date_from: this poll's ``date_from`` filter, recorded in the next baseline.
    """
    if known_ids is not None:
        return Scan(known_ids=known_ids, date_from=date_from), None
    if not baseline.covers(date_from):
        return Scan(count_all=first_run == "all" and not baseline.established, date_from=date_from), None
    return Scan(count_all=True, date_from=date_from), baseline.watermark


def is_stale_cursor(error: Exception) -> bool:
    """Tell whether ``error`` is a 422 on ``after``: the watermark is no longer a valid cursor."""
    return isinstance(error, exc.IntervalsValidationError) and "after" in error.errors
