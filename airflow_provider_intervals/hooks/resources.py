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

from airflow_provider_intervals import api
from airflow_provider_intervals import exceptions as exc

if TYPE_CHECKING:
    from airflow_provider_intervals.connection import Settings
    from airflow_provider_intervals.pacing import TokenBucket


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
