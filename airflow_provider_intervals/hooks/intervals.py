"""IntervalsHook: the Intervals API over the http provider's HttpHook.

This module is the transport. What a request means (paths, checks, error mapping,
cursors) lives in :mod:`airflow_provider_intervals.api`, retry timing in
:mod:`airflow_provider_intervals.retries`, the resource methods in
:mod:`airflow_provider_intervals.hooks.resources`. Every request goes through one choke
point, ``IntervalsHook._send``, which does auth, timeout, User-Agent, pacing, retries
and mapping. Nothing outside the hooks builds or sees a request.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_intervals import __version__, api, inflight, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import (
    DEFAULT_BASE_URL,
    DEFAULT_CONN_ID,
    EXTRA_KEYS,
    Settings,
    resolve_base_url,
)
from airflow_provider_intervals.hooks.resources import IntervalsResources
from airflow_provider_intervals.retries import Retries

#: What a response is parsed into.
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


class IntervalsHook(IntervalsResources, HttpHook):
    """Interact with the Intervals partner API.

    The connection (type ``intervals``) holds the API key in its password field; host,
    schema and port give the base URL (default ``https://api.intervals.run``; a host with no
    scheme means ``https``, plain ``http`` only to loopback unless the extra
    ``allow_insecure_http`` says so). Extras: ``timeout`` (seconds, default 30),
    ``max_retries`` (default 5), ``retry_backoff`` and ``retry_backoff_max`` (seconds,
    default 1 and 60), ``max_rate_limit_wait`` (seconds, default 900), ``page_size``
    (1-100, default 100), ``intervals_version`` (a ``YYYY-MM-DD`` API version to pin), and
    the pacing: ``plan`` (``free``, ``premium``, ``enterprise`` or ``unknown``) or
    ``requests_per_minute`` with ``burst``; with neither, the plan is learned once from
    ``GET /organization`` and shared like the bucket; ``pacing_conn_id`` (see below).

    Every request with one API key goes through one token bucket for the key (see
    :mod:`airflow_provider_intervals.pacing`), shared by every process of the host, or of every
    host through the extra ``pacing_conn_id`` (a Redis or SQL database connection), so all the
    tasks using the key together run at its allowance without drawing a 429 for every page.
    Each hook measures its requests in :attr:`round_trips` (in flight, and their round trip
    without the pacing wait), by which a landing sizes its workers
    (:mod:`airflow_provider_intervals.inflight`).

    The resource methods (:class:`~airflow_provider_intervals.hooks.resources.IntervalsResources`:
    ``*_pages`` page iterators resumable from a cursor, ``iter_*`` items, ``get_*``,
    ``create_event``, ``register_participant``) hold one page at a time, whatever the
    listing's size.

    :param intervals_conn_id: the Airflow connection to use.
    :param max_requests_per_minute: pace this hook's requests to at most this many a minute,
        below the key's allowance (a share of it for this task, leaving the rest to the others);
        its requests still count in the key's bucket that every process shares.
    :param max_rate_limit_wait: wait at most this many seconds for the allowance (pacing and
        429s), below the connection's ``max_rate_limit_wait``; a longer wait raises
        ``IntervalsRateLimitError`` with its ``retry_after`` (a deferrable landing then defers).
    """

    conn_name_attr = "intervals_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "intervals"
    hook_name = "Intervals"
    default_host = DEFAULT_BASE_URL

    def __init__(
        self,
        intervals_conn_id: str = default_conn_name,
        max_requests_per_minute: float | None = None,
        max_rate_limit_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="GET", http_conn_id=intervals_conn_id, **kwargs)
        self.intervals_conn_id = intervals_conn_id
        self.max_requests_per_minute = max_requests_per_minute
        self.max_rate_limit_wait = max_rate_limit_wait
        #: Its requests in flight and their round trip: a landing sizes its workers by them.
        self.round_trips = inflight.RoundTrips()

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
        """Timeout, page size, retry policy, pacing and pinned version from the connection's extras.

        ``max_rate_limit_wait`` is the extra's, or this hook's override when that is shorter.
        """
        settings = Settings.from_extra(self.intervals_conn_id, self._connection.extra_dejson)
        return settings.capped(self.max_rate_limit_wait)

    def _set_base_url(self, connection: Any) -> None:
        # HttpHook defaults a scheme-less host to plain http; the key must not go out in clear.
        conn = connection
        insecure = self.settings.allow_insecure_http
        self.base_url = resolve_base_url(self.intervals_conn_id, conn.host, conn.schema, conn.port, insecure)
        self._srv_lookup_enabled = False
        self._base_url_initialized = True

    @property
    def api_url(self) -> str:
        """The API's base URL, from the connection (checked as for a request); opens no session."""
        if not self.base_url:
            self._set_base_url(self._connection)
        return self.base_url

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
    def pacing_store(self) -> pacing.stores.Store:
        """Where the key's allowance is shared: the extra ``pacing_conn_id``'s store, or this host's."""
        return pacing.store_for(self.settings.pacing_conn_id, self.intervals_conn_id)

    @cached_property
    def bucket(self) -> pacing.TokenBucket | None:
        """The key's token bucket, shared through :attr:`pacing_store`, or ``None`` when the plan is unknown.

        The rate comes from the extras (``requests_per_minute`` + ``burst``, or ``plan``);
        without them it is learned from ``GET /organization``'s ``plan``, once for every process
        sharing the store (:class:`~airflow_provider_intervals.pacing.lookup.PlanLookup`): the hooks of
        a process wait for one lookup, and one that failed is raised again at once for a minute.
        """
        key = self._connection.password or ""
        store = self.pacing_store
        rate = self._rate(key, store)
        cap = None
        if self.max_requests_per_minute:
            cap = pacing.Rate.per_minute(float(self.max_requests_per_minute), 1)
        if rate is None:  # the key is not paced: this hook alone keeps to its own limit, if any
            return None if cap is None else pacing.TokenBucket(cap)
        if cap is not None and cap.per_second >= rate.per_second:
            cap = None
        mine = "" if cap is None else f", this hook at most {cap.describe(burst=False)}"
        self.log.info(
            "Pacing requests with this API key at %s, shared through %s%s", rate.describe(), store.name, mine
        )
        return pacing.bucket_for(key, rate, store, cap)

    def _rate(self, key: str, store: pacing.stores.Store) -> pacing.Rate | None:
        settings = self.settings
        if settings.pacing_known:
            return settings.configured_rate()
        lookup = pacing.plan_lookup(key, store)
        with lookup.lock:  # one lookup per key at a time: the other hooks wait for its outcome
            known, rate = lookup.recall(self.api_url)  # raises a lookup failure it remembers
            if not known:
                with contextlib.suppress(exc.IntervalsPermissionError):  # remembered as "not paced"
                    self._learn_plan(lookup)
                rate = lookup.rate
        return rate

    def _learn_plan(self, lookup: pacing.PlanLookup) -> dict[str, Any]:
        """Send ``GET /organization`` unpaced and teach the key's store the plan, or why not.

        Call it holding ``lookup.lock``. A failure is remembered by ``lookup`` and raised.
        """
        try:
            organization = self._send(api.organization_request(), self._data, paced=False)
        except exc.IntervalsError as error:
            if note := lookup.failed(self.api_url, error):
                self.log.info("%s", note)
            raise
        if note := lookup.learned(organization):
            self.log.info("%s", note)
        return organization

    def _pace(self, request: api.Request) -> int | None:
        """Wait for this request's slot in the key's bucket; return the booking's epoch.

        A slot that comes before a pause this process learned of while it waited (another
        stream's 429) is booked again, after the pause.
        """
        if self.bucket is None:
            return None
        limit = self.settings.retry.max_rate_limit_wait
        while True:
            wait, epoch = pacing.book(self.bucket, f"{request.method} {request.path}", limit)
            if wait > 0:
                self._sleep(wait)
            if time.time() >= self.bucket.resumes_at:
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
        retries = Retries(self.settings.retry, request, bool(idempotency_key), paced=bucket is not None)
        while True:
            epoch = None
            try:
                if bucket is not None:
                    epoch = self._pace(request)
                with self.round_trips.measure(record=paced):  # the network's time, not the bucket's
                    response = self._attempt(request, headers)
                if bucket is not None:
                    bucket.answered(response.status_code)
                api.raise_for_status(
                    request, response.status_code, response.headers, response.content, time.time()
                )
                return parse(request, response)
            except exc.IntervalsError as error:
                wait = retries.after_failure(error, bucket, epoch)
                if wait is None:
                    raise
                self.log.warning("%s", retries.log_line(error, wait))
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

    def _pages(self, request: api.Request) -> api.Listing:
        """Return the pages of a listing, fetched lazily, starting with ``request``."""
        return api.Listing(request, self._fetch_pages(request))

    def _fetch_pages(self, request: api.Request) -> Iterator[api.Page]:
        next_request: api.Request | None = request
        while next_request is not None:
            page = self._send(next_request, self._page)
            yield page
            next_request = page.next_request

    def get_organization(self) -> dict[str, Any]:
        """Return the organisation the API key belongs to (``GET /organization``).

        Its ``plan`` sets the pacing when the connection's extras do not: the first call of a
        process is sent unpaced and teaches the process the key's allowance. It always asks,
        even when an earlier lookup of this process failed (e.g. the connection's *Test*).
        """
        if "bucket" not in self.__dict__ and not self.settings.pacing_known:
            lookup = pacing.plan_lookup(self._connection.password or "", self.pacing_store)
            with lookup.lock:
                if not lookup.known:
                    return self._learn_plan(lookup)
        return self._get_data(api.organization_request())

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
