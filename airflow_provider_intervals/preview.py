"""What a landing of events would fetch, and how long it takes at the key's plan: sizing a backfill.

:func:`preview_events` pages through the window once with a hook's listings, as a landing
would, but keeps only each day's count: it
writes nothing and holds one page at a time. What a landing would then cost follows from
the counts alone: the landing cuts the window into sub-windows
(:meth:`~airflow_provider_intervals.windows.Window.sub_windows`), each a listing of its own
(:func:`~airflow_provider_intervals.api.pages_for`), and the key's bucket lets the plan's
burst go at once and the rest at the plan's rate
(:func:`~airflow_provider_intervals.pacing.rates.seconds_for`).

``python -m airflow_provider_intervals preview`` (:mod:`airflow_provider_intervals.cli`) prints it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_intervals import api, pacing, validation
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


@dataclass(frozen=True)
class EventsPreview:
    """The events a window holds, day by day, and what landing them costs.

    :param listing: what was listed, e.g. ``GET /events?type=race``.
    :param window: the window, both ends inclusive.
    :param by_day: ``YYYY-MM-DD -> events`` for every day of the window (zeros included), or
        for the sampled days only when ``sampled``.
    :param requests: requests the preview made (its pages; retries not counted).
    :param page_size: items per page.
    :param has_more: whether the API sent ``hasMore`` (without it a full page asks for one more).
    :param rate: the key's allowance, or ``None`` when requests are not paced.
    :param pacing: where the rate comes from (the connection's extras, or the organisation's plan).
    :param sampled: whether only some days were counted: the window's counts are then
        estimated from their mean.
    """

    listing: str
    window: Window
    by_day: dict[str, int]
    requests: int
    page_size: int
    has_more: bool
    rate: pacing.Rate | None
    pacing: str
    sampled: bool = False

    @property
    def events(self) -> int:
        """Events in the window (estimated when ``sampled``)."""
        return self._count(self.window)

    def landing_requests(self, concurrency: int = DEFAULT_CONCURRENCY, split_days: int | None = None) -> int:
        """Return the requests a landing with these settings makes: one listing per sub-window."""
        return sum(
            api.pages_for(self._count(sub), self.page_size, self.has_more)
            for sub in self.window.sub_windows(concurrency, split_days)
        )

    def landing_seconds(
        self, concurrency: int = DEFAULT_CONCURRENCY, split_days: int | None = None
    ) -> float | None:
        """Return how long the landing's requests take at the key's plan (``None``: not paced)."""
        if self.rate is None:
            return None
        return pacing.seconds_for(self.rate, self.landing_requests(concurrency, split_days))

    def _rate_json(self) -> dict[str, Any]:
        rate = self.rate
        assert rate is not None
        return {"per_minute": rate.per_second * 60, "burst": rate.burst, "described": rate.describe()}

    def _count(self, window: Window) -> int:
        if self.sampled:
            mean = sum(self.by_day.values()) / max(1, len(self.by_day))
            return round(mean * window.days())
        return sum(n for day, n in self.by_day.items() if window.date_from <= day <= window.date_to)

    def to_json(
        self, concurrency: int = DEFAULT_CONCURRENCY, split_days: int | None = None
    ) -> dict[str, Any]:
        """Return the preview as JSON-ready data (what ``--json`` prints)."""
        subs = self.window.sub_windows(concurrency, split_days)
        return {
            "listing": self.listing,
            "date_from": self.window.date_from,
            "date_to": self.window.date_to,
            "days": self.window.days(),
            "events": self.events,
            "estimated": self.sampled,
            "events_by_day": self.by_day,
            "preview_requests": self.requests,
            "page_size": self.page_size,
            "landing": {
                "concurrency": concurrency,
                "split_days": split_days,
                "sub_windows": [
                    {"date_from": s.date_from, "date_to": s.date_to, "events": self._count(s)} for s in subs
                ],
                "requests": self.landing_requests(concurrency, split_days),
                "seconds_at_plan": self.landing_seconds(concurrency, split_days),
            },
            "rate": None if self.rate is None else self._rate_json(),
            "pacing": self.pacing,
        }


def sample_days(window: Window, count: int) -> list[str]:
    """Return ``count`` days spread evenly over the window (the middle of each equal stretch)."""
    start, days = dt.date.fromisoformat(window.date_from), window.days()
    count = max(1, min(count, days))
    return [(start + dt.timedelta(days=(2 * i + 1) * days // (2 * count))).isoformat() for i in range(count)]


_spread = sample_days  # preview_events's argument of the same name hides it there


@dataclass
class DayCounter:
    """Counts a listing's events per ``date`` as its pages arrive.

    :param by_day: ``YYYY-MM-DD -> events``, with the days expected to appear (zeros) set up front.
    :param on_page: called with ``(pages, events)`` so far after each page (progress).
    """

    by_day: dict[str, int]
    on_page: Callable[[int, int], None] | None = None
    pages: int = 0
    events: int = 0
    has_more: bool = False

    @classmethod
    def for_days(cls, days: Iterable[str], on_page: Callable[[int, int], None] | None = None) -> DayCounter:
        """Return a counter with these days at 0."""
        return cls(dict.fromkeys(days, 0), on_page)

    def count(self, pages: Iterable[api.Page]) -> None:
        """Count every page of one listing."""
        for page in pages:
            self.pages += 1
            self.has_more = self.has_more or page.has_more is not None
            for item in page.items:
                day = str(item.get("date"))
                self.by_day[day] = self.by_day.get(day, 0) + 1
            self.events += len(page.items)
            if self.on_page is not None:
                self.on_page(self.pages, self.events)


def every_day(window: Window) -> list[str]:
    """Return every day of the window, ``YYYY-MM-DD``."""
    start = dt.date.fromisoformat(window.date_from)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(window.days())]


def describe_duration(seconds: float | None) -> str:
    """Say a duration the way a person plans with it: ``45 s``, ``12 min``, ``3 h 20 min``, ``9.8 days``."""
    if seconds is None:
        return "as fast as the API answers (requests are not paced)"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours} h {minutes} min"
    return f"{seconds / 86400:.1f} days"


def preview_events(
    hook: IntervalsHook,
    *,
    date_from: Any,
    date_to: Any,
    event_type: str | None = None,
    group_slug: str | None = None,
    sample_days: int | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> EventsPreview:
    """Count the events a landing of the window would fetch, day by day; write nothing.

    Pages through the window once with ``hook`` (``GET /events``, or ``GET /groups/{slug}/events``
    with ``group_slug``), holding one page at a time; with ``sample_days`` it lists only that
    many days spread over the window (about one request each) and estimates the rest from
    their mean, for a window too big to count on a small plan. The result says what a
    landing with given ``concurrency`` / ``split_days`` would request and how long that takes
    at the key's plan (:class:`EventsPreview`). Every argument is checked before any request.

    :param hook: the sync hook whose listings and pacing the preview uses.
    :param date_from: first day (``YYYY-MM-DD``), required.
    :param date_to: last day, inclusive, required.
    :param event_type: only events of this type.
    :param group_slug: only this group's events.
    :param sample_days: count only this many days, spread evenly, and estimate the others.
    :param on_page: called with ``(pages, events)`` so far after each page.
    """
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value in (None, ""):
            raise exc.IntervalsArgumentError(name, value, "a preview needs both ends of its window")
    start, end = validation.check_date_range(date_from, date_to)
    window = Window(str(start), str(end))
    if sample_days is not None:
        sample_days = validation.check_whole("sample_days", sample_days, 1, 100_000)
    sampled = sample_days is not None and sample_days < window.days()

    def listing(first: str, last: str) -> Iterator[api.Page]:
        filters = {"event_type": event_type or None, "date_from": first, "date_to": last}
        if group_slug:
            return hook.group_event_pages(group_slug, **filters)
        return hook.event_pages(**filters)

    pieces = [Window(d, d) for d in _spread(window, sample_days)] if sampled else [window]
    listings = [listing(p.date_from, p.date_to) for p in pieces]  # checks the filters: nothing sent
    request = getattr(listings[0], "request", None)
    bucket = hook.bucket
    rate = bucket.rate if bucket is not None else None
    counter = DayCounter.for_days([p.date_from for p in pieces] if sampled else every_day(window), on_page)
    for pages in listings:
        counter.count(pages)
    settings = hook.settings
    if settings.rate is not None:
        source = "the connection's requests_per_minute and burst extras"
    elif settings.plan is not None:
        source = f"the connection's plan extra ({settings.plan})"
    else:
        source = "the organisation's plan (GET /organization)"
    shown = request.with_params(limit=None, dateFrom=None, dateTo=None) if request else None
    name = f"GET {shown.path}" + (f"?{urlencode(shown.params)}" if shown and shown.params else "")
    return EventsPreview(
        *(name, window, counter.by_day, counter.pages, hook.page_size, counter.has_more, rate, source),
        sampled=sampled,
    )
