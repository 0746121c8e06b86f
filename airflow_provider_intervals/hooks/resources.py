"""The Intervals resources, verb-first, over the sync hook's transport.

Listings come three ways: ``*_pages`` yields :class:`~airflow_provider_intervals.api.Page`
objects and resumes after a cursor (``after=page.cursor``): what landing and the sensor
use; ``iter_*`` yields the items; ``list_events`` returns one page. Calling a ``*_pages``
method checks its arguments at once, before any request; pages are fetched as they are
asked for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_intervals import api, validation
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:
    from airflow_provider_intervals.connection import Settings
    from airflow_provider_intervals.pacing import TokenBucket
    from airflow_provider_intervals.preview import EventsPreview


class IntervalsResources:
    """The resource methods of :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`.

    The hook provides the transport: ``_send``, ``_pages``, ``_data`` and ``page_size``.
    """

    page_size: int
    settings: Settings
    bucket: TokenBucket | None
    _send: Callable[..., Any]
    _data: Callable[..., Any]
    _pages: Callable[[api.Request], Iterator[api.Page]]

    def _get_data(self, request: api.Request, *, missing_ok: bool = False) -> dict[str, Any] | None:
        try:
            return self._send(request, self._data)
        except exc.IntervalsNotFoundError:
            if missing_ok:
                return None
            raise

    def _post(self, request: api.Request, idempotency_key: str | None, id_field: str) -> str:
        def created(request: api.Request, response: Any) -> str:
            return api.created_id(
                self._data(request, response), id_field, response.status_code, response.content
            )

        # Always send a key: a retry after a lost response then replays instead of creating twice.
        return self._send(request, created, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def _paging(self, limit: int | None, after: str | None, before: str | None = None) -> dict[str, Any]:
        return {"limit": self.page_size if limit is None else limit, "after": after, "before": before}

    @staticmethod
    def _items(pages: Iterator[api.Page]) -> Iterator[dict[str, Any]]:
        for page in pages:
            yield from page.items

    # ------------------------------------------------------------------ events

    def event_pages(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Iterator[api.Page]:
        """Yield the pages of ``GET /events``; resume with ``after=page.cursor``.

        :param event_type: ``race``, ``runClub``, ``timeTrial`` or ``other``.
        :param date_from: first day, inclusive (``YYYY-MM-DD`` or a ``date``).
        :param date_to: last day, inclusive.
        :param limit: page size (1-100); default from the connection (100).
        :param after: resume after this event ``_id``.
        """
        paging = self._paging(limit, after)
        return self._pages(
            api.events_request(event_type=event_type, date_from=date_from, date_to=date_to, **paging)
        )

    def iter_events(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every event matching the filters, page by page, in API order.

        :param filters: as for :meth:`event_pages`: ``event_type``, ``date_from``, ``date_to``,
            ``limit``, ``after``.
        """
        return self._items(self.event_pages(**filters))

    def list_events(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int = 50,
        after: str | None = None,
        before: str | None = None,
    ) -> api.Page:
        """Return one page of events; ``page.cursor`` is the next ``after``.

        :param before: page backwards: the ``limit`` events just before this ``_id``.
        """
        paging = self._paging(limit, after, before)
        request = api.events_request(event_type=event_type, date_from=date_from, date_to=date_to, **paging)
        return next(self._pages(request))

    def get_event(self, event_id: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """Return ``{"event": {...}, "runs": [...]}`` for one event.

        :param event_id: the event's ``_id``.
        :param missing_ok: return ``None`` instead of raising when the event does not exist.
        """
        return self._get_data(api.event_request(event_id), missing_ok=missing_ok)

    def create_event(self, event: dict[str, Any], *, idempotency_key: str | None = None) -> str:
        """Create an event and return its id (``POST /events``).

        :param event: the body: ``name``, ``slug``, ``type``, ``date`` and optional fields.
        :param idempotency_key: reuse a key to make a repeated call replay instead of creating;
            a random one is generated when not given, so the hook's own retries are safe.
        """
        return self._post(api.create_event_request(event), idempotency_key, "eventId")

    # ------------------------------------------------------------------ registrations

    def registration_pages(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Iterator[api.Page]:
        """Yield the pages of an event's ``GET /registration``."""
        return self._pages(api.registrations_request(event_id, **self._paging(limit, after)))

    def iter_registrations(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every registration of an event. Items are personal data: never log them.

        :param event_id: the event's ``_id``.
        """
        return self._items(self.registration_pages(event_id, limit=limit, after=after))

    def register_participant(
        self, registration: dict[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Register a participant for an event run and return the participant id.

        :param registration: ``eventRunId``, ``email``, ``registrationType`` and optional fields.
        :param idempotency_key: as for :meth:`create_event`.
        """
        return self._post(api.register_participant_request(registration), idempotency_key, "participantId")

    # ------------------------------------------------------------------ recurrences and groups

    def recurrence_pages(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Iterator[api.Page]:
        """Yield the pages of ``GET /recurrences``."""
        return self._pages(api.recurrences_request(status=status, **self._paging(limit, after)))

    def iter_recurrences(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every recurrence, optionally only those with ``status`` (active, paused, archived)."""
        return self._items(self.recurrence_pages(status=status, limit=limit, after=after))

    def group_pages(self, *, limit: int | None = None, after: str | None = None) -> Iterator[api.Page]:
        """Yield the pages of ``GET /groups``."""
        return self._pages(api.groups_request(**self._paging(limit, after)))

    def iter_groups(self, *, limit: int | None = None, after: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield every group of the organisation."""
        return self._items(self.group_pages(limit=limit, after=after))

    def get_group(self, slug: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """Return one group by slug, or ``None`` if it does not exist and ``missing_ok``."""
        return self._get_data(api.group_request(slug), missing_ok=missing_ok)

    def group_event_pages(self, slug: str, **filters: Any) -> Iterator[api.Page]:
        """Yield the pages of ``GET /groups/{slug}/events``.

        :param slug: the group's slug.
        :param filters: as for :meth:`event_pages`.
        """
        paging = self._paging(filters.pop("limit", None), filters.pop("after", None))
        return self._pages(api.group_events_request(slug, **filters, **paging))

    def iter_group_events(self, slug: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield the events of a group, with the same filters as :meth:`iter_events`."""
        return self._items(self.group_event_pages(slug, **filters))

    # ------------------------------------------------------------------ sizing

    def preview_events(
        self,
        *,
        date_from: Any,
        date_to: Any,
        event_type: str | None = None,
        group_slug: str | None = None,
        sample_days: int | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> EventsPreview:
        """Count the events a landing of the window would fetch, day by day; write nothing.

        Pages through the window once (``GET /events``, or ``GET /groups/{slug}/events`` with
        ``group_slug``), holding one page at a time; with ``sample_days`` it lists only that
        many days spread over the window (about one request each) and estimates the rest
        from their mean, for a window too big to count on a small plan. The result says
        what a landing with given ``concurrency`` / ``split_days`` would request and how
        long that takes at the key's plan (:class:`~airflow_provider_intervals.preview.EventsPreview`).

        :param date_from: first day (``YYYY-MM-DD``), required.
        :param date_to: last day, inclusive, required.
        :param event_type: only events of this type.
        :param group_slug: only this group's events.
        :param sample_days: count only this many days, spread evenly, and estimate the others.
        :param on_page: called with ``(pages, events)`` so far after each page.
        """
        from airflow_provider_intervals import preview

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
                return self.group_event_pages(group_slug, **filters)
            return self.event_pages(**filters)

        pieces = [Window(d, d) for d in preview.sample_days(window, sample_days)] if sampled else [window]
        listings = [listing(p.date_from, p.date_to) for p in pieces]  # checks the filters: nothing sent
        request = getattr(listings[0], "request", None)
        rate = self.bucket.rate if self.bucket is not None else None
        counter = preview.DayCounter.for_days(
            [p.date_from for p in pieces] if sampled else preview.every_day(window), on_page
        )
        for pages in listings:
            counter.count(pages)
        settings = self.settings
        if settings.rate is not None:
            source = "the connection's requests_per_minute and burst extras"
        elif settings.plan is not None:
            source = f"the connection's plan extra ({settings.plan})"
        else:
            source = "the organisation's plan (GET /organization)"
        shown = request.with_params(limit=None, dateFrom=None, dateTo=None) if request else None
        name = f"GET {shown.path}" + (f"?{urlencode(shown.params)}" if shown and shown.params else "")
        return preview.EventsPreview(
            *(name, window, counter.by_day, counter.pages, self.page_size, counter.has_more, rate, source),
            sampled=sampled,
        )
