"""IntervalsHook: the Intervals API over the http provider's HttpHook.

The hook is transport only. What a request means (paths, checks, error mapping,
retry timing, cursors) lives in :mod:`airflow_provider_intervals.api`; the hook sends
:class:`~airflow_provider_intervals.api.Request` objects through one choke point,
:meth:`IntervalsHook._send`, which does auth, timeout, User-Agent, retries and mapping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_intervals import __version__, api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import EXTRA_KEYS, Settings, resolve_base_url

T = TypeVar("T")


class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <key>``, with a repr that never shows the key."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


class IntervalsHook(HttpHook):
    """Interact with the Intervals partner API.

    The connection (type ``intervals``) holds the API key in its password field; host,
    schema and port give the base URL (default ``https://api.intervals.run``; a host with no
    scheme means ``https``, plain ``http`` only to loopback unless the extra
    ``allow_insecure_http`` says so). Extras: ``timeout`` (seconds, default 30),
    ``max_retries`` (default 5), ``retry_backoff`` and ``retry_backoff_max`` (seconds,
    default 1 and 60), ``max_rate_limit_wait`` (seconds, default 900), ``page_size``
    (1-100, default 100), ``intervals_version`` (a ``YYYY-MM-DD`` API version to pin), and
    the pacing: ``plan`` (``free``, ``premium``, ``enterprise`` or ``unknown``) or
    ``requests_per_minute`` with ``burst``; with neither, the plan is learned once per
    process from ``GET /organization``.

    Every request with one API key goes through one token bucket per process (see
    :mod:`airflow_provider_intervals.pacing`), so all the hooks of a task together run at
    the plan's allowance without drawing a 429 for every page.

    Listing methods (``iter_*``) are lazy generators over every page: they hold one page
    at a time, whatever the listing's size.

    :param intervals_conn_id: the Airflow connection to use.
    :param max_requests_per_minute: pace this hook's requests to at most this many a minute,
        below the plan's allowance (e.g. to leave room for other tasks using the key).
    """

    conn_name_attr = "intervals_conn_id"
    default_conn_name = api.DEFAULT_CONN_ID
    conn_type = "intervals"
    hook_name = "Intervals"
    default_host = api.DEFAULT_BASE_URL

    def __init__(
        self,
        intervals_conn_id: str = default_conn_name,
        max_requests_per_minute: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="GET", http_conn_id=intervals_conn_id, **kwargs)
        self.intervals_conn_id = intervals_conn_id
        self.max_requests_per_minute = max_requests_per_minute

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return the connection form behaviour for Airflow < 3.2 (newer ones read the provider info)."""
        from airflow_provider_intervals.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    # ------------------------------------------------------------------ connection

    @cached_property
    def _connection(self) -> Any:
        return self.get_connection(self.intervals_conn_id)

    @cached_property
    def settings(self) -> Settings:
        """Timeout, page size, retry policy, pacing and pinned version from the connection's extras."""
        return Settings.from_extra(self.intervals_conn_id, self._connection.extra_dejson)

    def _set_base_url(self, connection: Any) -> None:
        # HttpHook defaults a scheme-less host to plain http; the key must not go out in clear.
        conn = connection
        insecure = self.settings.allow_insecure_http
        self.base_url = resolve_base_url(self.intervals_conn_id, conn.host, conn.schema, conn.port, insecure)
        self._srv_lookup_enabled = False
        self._base_url_initialized = True

    @property
    def page_size(self) -> int:
        """Items per list request (connection extra ``page_size``, default 100)."""
        return self.settings.page_size

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        """Return a ``requests.Session`` with the base URL, Bearer auth and provider headers set."""
        if not self._connection.password:
            raise exc.IntervalsConfigurationError(
                f"Connection {self.intervals_conn_id!r} has no API key: put the Intervals API key "
                "in the connection's password field"
            )
        session = super().get_conn(headers, extra_options)
        for key in EXTRA_KEYS:  # ours, not headers
            session.headers.pop(key, None)
        session.headers["User-Agent"] = (
            f"airflow-provider-intervals/{__version__} {session.headers['User-Agent']}"
        )
        session.headers["Accept"] = "application/json"
        if self.settings.version:
            session.headers["Intervals-Version"] = self.settings.version
        return session

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        # HttpHook would send login/password as Basic auth; the API wants the password as a Bearer key.
        session.auth = _BearerAuth(connection.password)
        return session

    @cached_property
    def session(self) -> requests.Session:
        """The hook's keep-alive session: one connection pool, reused by every request."""
        return self.get_conn()

    def close(self) -> None:
        """Close the session's sockets."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    # ------------------------------------------------------------------ transport

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    @cached_property
    def bucket(self) -> pacing.TokenBucket | None:
        """The process's token bucket for this key, or ``None`` when the plan is unknown.

        The rate comes from the extras (``requests_per_minute`` + ``burst``, or ``plan``);
        without them it is learned once per process from ``GET /organization``'s ``plan``.
        """
        key = self._connection.password or ""
        rate = self._rate(key)
        if self.max_requests_per_minute:
            cap = pacing.Rate.per_minute(float(self.max_requests_per_minute), 1)
            rate = cap if rate is None or cap.per_second < rate.per_second else rate
        if rate is None:
            return None
        self.log.info("Pacing requests with this API key at %s", rate.describe())
        return pacing.bucket_for(key, rate)

    def _rate(self, key: str) -> pacing.Rate | None:
        settings = self.settings
        if settings.pacing_known:
            return settings.configured_rate()
        known, rate = pacing.learned_rate(key)
        if not known:
            try:
                self.get_organization()  # learns the plan, once per process
            except exc.IntervalsPermissionError:
                self.log.info(
                    "The key cannot read GET /organization (scope read:series), so its plan is unknown: "
                    "requests are not paced (set the connection extra plan, or requests_per_minute and burst)"
                )
                pacing.remember_rate(key, None)
            known, rate = pacing.learned_rate(key)
        return rate

    def _learn_plan(self, organization: dict[str, Any]) -> None:
        key = self._connection.password or ""
        plan = organization.get("plan")
        rate = pacing.Rate.for_plan(plan if isinstance(plan, str) else None)
        if rate is None:
            self.log.info(
                "The key's plan is %r, not a documented one: requests are not paced "
                "(set the connection extra plan, or requests_per_minute and burst)",
                plan,
            )
        pacing.remember_rate(key, rate)
        if rate is not None:  # the organisation request spent one of the allowance's tokens
            pacing.bucket_for(key, rate).reserve()

    def _pace(self, request: api.Request) -> int | None:
        """Wait for this request's slot in the key's bucket; return the booking's epoch."""
        bucket = self.bucket
        if bucket is None:
            return None
        limit = self.settings.retry.max_rate_limit_wait
        booked = bucket.book(max_wait=limit)
        if booked is None:
            ahead = bucket.wait_for_next()
            raise exc.IntervalsRateLimitError(
                429,
                None,
                f"{request.method} {request.path}: the plan's allowance for this key "
                f"({bucket.rate.describe()}) has no request left for {ahead:.0f}s, "
                f"longer than max_rate_limit_wait={limit:g}s; "
                "run later, or raise the connection extra max_rate_limit_wait",
                retry_after=time.time() + ahead,
            )
        wait, epoch = booked
        if wait > 0:
            self._sleep(wait)
        return epoch

    def _attempt(self, request: api.Request, headers: dict[str, str]) -> requests.Response:
        url = self.url_from_endpoint(request.path)
        try:
            response = self.session.request(
                request.method,
                url,
                params=request.params,
                json=request.body,
                headers=headers,
                timeout=self.settings.timeout,
            )
            response.content  # noqa: B018 - read the whole body now, so a truncated one fails here
        except requests.Timeout as error:
            raise api.transport_error(request, error, self.settings.timeout) from error
        except requests.RequestException as error:
            raise api.transport_error(request, error, None) from error
        return response

    def _send(
        self,
        request: api.Request,
        parse: Callable[[api.Request, requests.Response], T],
        idempotency_key: str | None = None,
        *,
        paced: bool = True,
    ) -> T:
        """Send ``request`` with pacing and retries; return ``parse``'s reading of the success.

        Parsing is inside the retry loop: a ``200`` whose body is cut short is retried like a
        5xx (a POST replays under its ``Idempotency-Key``).
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        bucket = self.bucket if paced else None
        retries = api.Retries(self.settings.retry, request, bool(idempotency_key), paced=bucket is not None)
        while True:
            epoch = None
            try:
                if bucket is not None:
                    epoch = self._pace(request)
                response = self._attempt(request, headers)
                api.raise_for_status(
                    request, response.status_code, response.headers, response.content, time.time()
                )
                return parse(request, response)
            except exc.IntervalsError as error:
                now = time.time()
                if epoch is not None and isinstance(error, exc.IntervalsRateLimitError) and error.retry_after:
                    # The server has a token again at retryAfter: nobody in this process goes sooner.
                    # (No epoch: the bucket itself refused the request, and nothing was sent.)
                    bucket.pause_until(time.monotonic() + error.retry_after - now, epoch)
                wait = retries.next_wait(error, now)
                if wait is None:
                    raise
                self.log.warning(
                    "%s %s: %s; %s in %.2fs",
                    request.method,
                    request.path,
                    error,
                    retries.describe(error),
                    wait,
                )
                self._sleep(wait)

    @staticmethod
    def _data(request: api.Request, response: requests.Response) -> dict[str, Any]:
        return api.data_from_response(
            response.status_code, response.content, response.headers.get("X-Request-Id")
        )

    @staticmethod
    def _page(request: api.Request, response: requests.Response) -> api.Page:
        return api.parse_page(
            request, response.status_code, response.content, response.headers.get("X-Request-Id")
        )

    def _get_data(self, request: api.Request, *, missing_ok: bool = False) -> dict[str, Any] | None:
        try:
            return self._send(request, self._data)
        except exc.IntervalsNotFoundError:
            if missing_ok:
                return None
            raise

    def _post(self, request: api.Request, idempotency_key: str | None, id_field: str) -> str:
        def created(request: api.Request, response: requests.Response) -> str:
            return api.created_id(
                self._data(request, response), id_field, response.status_code, response.content
            )

        # Always send a key: a retry after a lost response then replays instead of creating twice.
        return self._send(request, created, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def iter_pages(self, request: api.Request) -> Iterator[api.Page]:
        """Yield the pages of a listing, lazily, starting with ``request``.

        :param request: the first page's request (see :func:`api.list_request`).
        """
        next_request: api.Request | None = request
        while next_request is not None:
            page = self._send(next_request, self._page)
            yield page
            next_request = page.next_request

    def _iter_items(self, request: api.Request) -> Iterator[dict[str, Any]]:
        for page in self.iter_pages(request):
            yield from page.items

    def _paging(self, limit: int | None, after: str | None, before: str | None = None) -> dict[str, Any]:
        return {"limit": self.page_size if limit is None else limit, "after": after, "before": before}

    # ------------------------------------------------------------------ endpoints
    # ``*_request`` methods build and check the first request of a listing (for
    # :meth:`iter_pages`, e.g. to land pages or resume after a cursor); ``iter_*`` yield items.

    def get_organization(self) -> dict[str, Any]:
        """Return the organisation the API key belongs to (``GET /organization``).

        Its ``plan`` sets the pacing when the connection's extras do not: the first call of a
        process is sent unpaced and teaches the process the key's allowance.
        """
        key = self._connection.password or ""
        if (
            "bucket" not in self.__dict__
            and not self.settings.pacing_known
            and not pacing.learned_rate(key)[0]
        ):
            organization = self._send(api.organization_request(), self._data, paced=False)
            self._learn_plan(organization)
            return organization
        return self._get_data(api.organization_request())

    def events_request(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> api.Request:
        """Build the first ``GET /events`` request; arguments as for :meth:`iter_events`."""
        paging = self._paging(limit, after)
        return api.events_request(event_type=event_type, date_from=date_from, date_to=date_to, **paging)

    def iter_events(
        self,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every event matching the filters, page by page, in API order.

        :param event_type: ``race``, ``runClub``, ``timeTrial`` or ``other``.
        :param date_from: first day, inclusive (``YYYY-MM-DD`` or a ``date``).
        :param date_to: last day, inclusive.
        :param limit: page size (1-100); default from the connection (100).
        :param after: resume after this event ``_id``.
        """
        request = self.events_request(
            event_type=event_type, date_from=date_from, date_to=date_to, limit=limit, after=after
        )
        return self._iter_items(request)

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
        return next(self.iter_pages(request))

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

    def registrations_request(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> api.Request:
        """Build the first ``GET /registration`` request of an event."""
        return api.registrations_request(event_id, **self._paging(limit, after))

    def iter_registrations(
        self, event_id: str, *, limit: int | None = None, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every registration of an event. Items are personal data: never log them.

        :param event_id: the event's ``_id``.
        """
        return self._iter_items(self.registrations_request(event_id, limit=limit, after=after))

    def register_participant(
        self, registration: dict[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Register a participant for an event run and return the participant id.

        :param registration: ``eventRunId``, ``email``, ``registrationType`` and optional fields.
        :param idempotency_key: as for :meth:`create_event`.
        """
        return self._post(api.register_participant_request(registration), idempotency_key, "participantId")

    def recurrences_request(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> api.Request:
        """Build the first ``GET /recurrences`` request."""
        return api.recurrences_request(status=status, **self._paging(limit, after))

    def iter_recurrences(
        self, *, status: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every recurrence, optionally only those with ``status`` (active, paused, archived)."""
        return self._iter_items(self.recurrences_request(status=status, limit=limit, after=after))

    def groups_request(self, *, limit: int | None = None, after: str | None = None) -> api.Request:
        """Build the first ``GET /groups`` request."""
        return api.groups_request(**self._paging(limit, after))

    def iter_groups(self, *, limit: int | None = None, after: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield every group of the organisation."""
        return self._iter_items(self.groups_request(limit=limit, after=after))

    def get_group(self, slug: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """Return one group by slug, or ``None`` if it does not exist and ``missing_ok``."""
        return self._get_data(api.group_request(slug), missing_ok=missing_ok)

    def group_events_request(
        self,
        slug: str,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> api.Request:
        """Build the first ``GET /groups/{slug}/events`` request."""
        paging = self._paging(limit, after)
        return api.group_events_request(
            slug, event_type=event_type, date_from=date_from, date_to=date_to, **paging
        )

    def iter_group_events(
        self,
        slug: str,
        *,
        event_type: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the events of a group, with the same filters as :meth:`iter_events`."""
        request = self.group_events_request(
            slug, event_type=event_type, date_from=date_from, date_to=date_to, limit=limit, after=after
        )
        return self._iter_items(request)

    # ------------------------------------------------------------------ UI

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection with ``GET /organization`` (read-only), naming what failed."""
        try:
            org = self.get_organization()
        except exc.IntervalsAuthenticationError:
            return False, "Authentication failed (401): check the API key in the connection's password field."
        except exc.IntervalsPermissionError:
            return (
                False,
                "The API key is valid but lacks the scope read:series needed for GET /organization (403).",
            )
        except exc.IntervalsTransportError as error:
            return (
                False,
                f"Could not reach the Intervals API at {self.base_url or 'the connection host'}: {error}",
            )
        except exc.IntervalsError as error:
            return False, str(error)
        finally:
            self.close()
        return True, f"Connected to organisation {org.get('name')!r} (plan {org.get('plan')})."
