"""The Intervals resources, verb-first: one read surface for both hooks, and the sync hook's writes.

Listings come three ways: ``*_pages`` yields :class:`~airflow_provider_intervals.api.Page`
objects and resumes after a cursor (``after=page.cursor``): what landing and the sensor
use; ``iter_*`` yields the items; ``list_events`` returns one page. Calling a ``*_pages`` or
``iter_*`` method checks its arguments at once, before any request (the builders of
:mod:`airflow_provider_intervals.api`); pages are fetched as they are asked for.

:class:`IntervalsReads` is written once for both hooks: each method builds its request and
hands it to the hook's shell (``_pages``, ``_items``, ``_first``, ``_steps``), which runs the
transport's steps (:mod:`airflow_provider_intervals.transport`) with requests or with aiohttp.
On :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook` a listing is an iterator
and ``get_*`` return data; on
:class:`~airflow_provider_intervals.hooks.intervals_async.IntervalsAsyncHook` a listing is an
async iterator and ``get_*`` / ``list_events`` return awaitables. The keyword filters are the
ones the request builders declare (:data:`airflow_provider_intervals.api.EVENT_FILTERS`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from airflow_provider_intervals import api, transport

#: What a listing's ``*_pages`` method returns on a hook: an iterator of pages, or an async one.
Pages = TypeVar("Pages")
#: What a listing's ``iter_*`` method returns on a hook: an iterator of items, or an async one.
Items = TypeVar("Items")


class IntervalsReads(Generic[Pages, Items]):
    """The read methods both hooks share; the hook is the shell that sends.

    ``Pages`` is what a listing is on the hook (an iterator of pages, or an async one),
    ``Items`` what ``iter_*`` returns. Single results (``get_*``, ``list_events``,
    ``get_organization``) are data on the sync hook and awaitables on the async one.
    """

    def _pages(self, request: api.Request, limit: int | None) -> Pages:
        raise NotImplementedError  # the shell: the listing's pages (``limit`` None: the connection's)

    def _items(self, pages: Pages) -> Items:
        raise NotImplementedError  # the shell: the listing's items

    def _first(self, pages: Pages) -> Any:
        raise NotImplementedError  # the shell: the listing's first page only

    def _steps(self, steps: Callable[[transport.Client], transport.Steps[Any]]) -> Any:
        raise NotImplementedError  # the shell: run the steps with the hook's client

    def _get(self, request: api.Request, missing_ok: bool) -> Any:
        return self._steps(lambda client: client.call(request, transport.data, missing_ok=missing_ok))

    # ------------------------------------------------------------------ events

    def event_pages(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Pages:
        """Yield the pages of ``GET /events``; resume with ``after=page.cursor``.

        :param event_type: ``race``, ``runClub``, ``timeTrial`` or ``other``.
        :param date_from: first day, inclusive (``YYYY-MM-DD`` or a ``date``).
        :param date_to: last day, inclusive.
        :param limit: page size (1-100); default from the connection (100).
        :param after: resume after this event ``_id``.
        """
        filters = {"event_type": event_type, "date_from": date_from, "date_to": date_to}
        return self._pages(api.events_request(**filters, **_paging(limit, after)), limit)

    def iter_events(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Items:
        """Yield every event matching the filters, page by page, in API order.

        :param event_type: as for :meth:`event_pages`, and ``date_from``, ``date_to``,
            ``limit``, ``after``.
        """
        filters = {"event_type": event_type, "date_from": date_from, "date_to": date_to}
        return self._items(self.event_pages(**filters, limit=limit, after=after))

    def list_events(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int = 50,
        after: str | None = None,
        before: str | None = None,
    ) -> Any:
        """Return one page of events; ``page.cursor`` is the next ``after``.

        :param event_type: as for :meth:`event_pages`, and ``date_from``, ``date_to``, ``after``.
        :param limit: page size (1-100), default 50 as the API's.
        :param before: page backwards: the ``limit`` events just before this ``_id``.
        """
        filters = {"event_type": event_type, "date_from": date_from, "date_to": date_to}
        return self._first(self._pages(api.events_request(**filters, **_paging(limit, after, before)), limit))

    def get_event(self, event_id: str, *, missing_ok: bool = False) -> Any:
        """Return ``{"event": {...}, "runs": [...]}`` for one event.

        :param event_id: the event's ``_id``.
        :param missing_ok: return ``None`` instead of raising when the event does not exist.
        """
        return self._get(api.event_request(event_id), missing_ok)

    # ------------------------------------------------------------------ registrations

    def registration_pages(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Pages:
        """Yield the pages of an event's ``GET /registration``.

        :param event_id: the event's ``_id``.
        :param limit: page size (1-100); default from the connection.
        :param after: resume after this registration ``_id``.
        """
        return self._pages(api.registrations_request(event_id, **_paging(limit, after)), limit)

    def iter_registrations(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Items:
        """Yield every registration of an event. Items are personal data: never log them.

        :param event_id: the event's ``_id``, and ``limit``, ``after`` as for :meth:`registration_pages`.
        """
        return self._items(self.registration_pages(event_id, limit=limit, after=after))

    # ------------------------------------------------------------------ recurrences and groups

    def recurrence_pages(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Pages:
        """Yield the pages of ``GET /recurrences``.

        :param status: only ``active``, ``paused`` or ``archived`` recurrences.
        :param limit: page size (1-100); default from the connection.
        :param after: resume after this recurrence ``_id``.
        """
        return self._pages(api.recurrences_request(status=status, **_paging(limit, after)), limit)

    def iter_recurrences(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Items:
        """Yield every recurrence, optionally only those with ``status`` (active, paused, archived)."""
        return self._items(self.recurrence_pages(status=status, limit=limit, after=after))

    def group_pages(self, *, limit: int | None = None, after: str | None = None) -> Pages:
        """Yield the pages of ``GET /groups``."""
        return self._pages(api.groups_request(**_paging(limit, after)), limit)

    def iter_groups(self, *, limit: int | None = None, after: str | None = None) -> Items:
        """Yield every group of the organisation."""
        return self._items(self.group_pages(limit=limit, after=after))

    def get_group(self, slug: str, *, missing_ok: bool = False) -> Any:
        """Return one group by slug, or ``None`` if it does not exist and ``missing_ok``."""
        return self._get(api.group_request(slug), missing_ok)

    def group_event_pages(
        self,
        slug: str,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Pages:
        """Yield the pages of ``GET /groups/{slug}/events``.

        :param slug: the group's slug; the other arguments as for :meth:`event_pages`.
        """
        filters = {"event_type": event_type, "date_from": date_from, "date_to": date_to}
        return self._pages(api.group_events_request(slug, **filters, **_paging(limit, after)), limit)

    def iter_group_events(
        self,
        slug: str,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Items:
        """Yield the events of a group, with the same filters as :meth:`iter_events`."""
        filters = {"event_type": event_type, "date_from": date_from, "date_to": date_to}
        return self._items(self.group_event_pages(slug, **filters, limit=limit, after=after))

    # ------------------------------------------------------------------ the organisation

    def get_organization(self) -> Any:
        """Return the organisation the API key belongs to (``GET /organization``).

        Its ``plan`` sets the pacing when the connection's extras do not: the first call of a
        process, when no process sharing the key's store has learned the plan yet, is that
        lookup, sent once and unpaced. It always asks, even when an earlier lookup of this
        process failed (e.g. the connection's *Test*).
        """
        return self._steps(lambda client: client.organization())


class IntervalsWrites:
    """The sync hook's writes (``POST /events``, ``POST /registration``).

    Sync only: operators write from a task, where an ``Idempotency-Key`` makes a retried task
    replay its writes; a trigger only watches for new events, and writes nothing.
    """

    _steps: Callable[[Callable[[transport.Client], transport.Steps[Any]]], Any]

    def _post(self, request: api.Request, idempotency_key: str | None, id_field: str) -> str:
        # Always send a key: a retry after a lost response then replays instead of creating twice.
        key = idempotency_key or str(uuid.uuid4())
        return self._steps(
            lambda client: client.call(request, transport.created(id_field), idempotency_key=key)
        )

    def create_event(self, event: dict[str, Any], *, idempotency_key: str | None = None) -> str:
        """Create an event and return its id (``POST /events``).

        :param event: the body: ``name``, ``slug``, ``type``, ``date`` and optional fields.
        :param idempotency_key: reuse a key to make a repeated call replay instead of creating;
            a random one is generated when not given, so the hook's own retries are safe.
        """
        return self._post(api.create_event_request(event), idempotency_key, "eventId")

    def register_participant(
        self, registration: dict[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Register a participant for an event run and return the participant id.

        :param registration: ``eventRunId``, ``email``, ``registrationType`` and optional fields.
        :param idempotency_key: as for :meth:`create_event`.
        """
        return self._post(api.register_participant_request(registration), idempotency_key, "participantId")


def _paging(limit: int | None, after: str | None, before: str | None = None) -> dict[str, Any]:
    # Without a limit the request is checked at the API's page size; the shell sets the connection's.
    return {"limit": api.DEFAULT_PAGE_SIZE if limit is None else limit, "after": after, "before": before}
