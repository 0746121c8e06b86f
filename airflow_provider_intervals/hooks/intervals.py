"""IntervalsHook: the Intervals API over the http provider's HttpHook (requests), a thin shell.

What a request means (paths, checks, error mapping, cursors) lives in
:mod:`airflow_provider_intervals.api`; what to do with it (pace, send, retry, wait, read the
answer, learn the key's plan) in :mod:`airflow_provider_intervals.transport`, shared with the
async hook; the resource methods in :mod:`airflow_provider_intervals.hooks.resources`. This
module only does what the transport's steps ask, with ``requests`` and ``time.sleep``: every
request goes through ``IntervalsHook._run``. It uses HttpHook's public surface only
(``get_conn`` for the session, ``base_url``), and overrides none of its private methods.
Nothing outside the hooks builds or sees a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_intervals import api, inflight, pacing, transport
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import (
    DEFAULT_BASE_URL,
    DEFAULT_CONN_ID,
    EXTRA_KEYS,
    Settings,
    resolve_base_url,
)
from airflow_provider_intervals.hooks.resources import IntervalsReads, IntervalsWrites

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


class IntervalsHook(IntervalsReads[api.Listing, Iterator[dict[str, Any]]], IntervalsWrites, HttpHook):
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
    Each hook measures its requests in ``round_trips`` (in flight, and their round trip
    without the pacing wait), by which a landing sizes its workers
    (:mod:`airflow_provider_intervals.inflight`).

    The resource methods (:class:`~airflow_provider_intervals.hooks.resources.IntervalsReads`:
    ``*_pages`` page iterators resumable from a cursor, ``iter_*`` items, ``get_*``, shared with
    the async hook; :class:`~airflow_provider_intervals.hooks.resources.IntervalsWrites`:
    ``create_event``, ``register_participant``) hold one page at a time, whatever the
    listing's size. Every request runs the steps of :mod:`airflow_provider_intervals.transport`
    (pacing, retries, waits, reading the answer); this hook only sends them with ``requests``
    on the session from HttpHook's public ``get_conn``, and sleeps.

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
        # Its requests in flight and their round trip: a landing sizes its workers by them.
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

    @cached_property
    def api_url(self) -> str:
        """The API's base URL, from the connection (https unless loopback or allowed); opens no session."""
        conn = self._connection
        insecure = self.settings.allow_insecure_http
        return resolve_base_url(self.intervals_conn_id, conn.host, conn.schema, conn.port, insecure)

    @property
    def page_size(self) -> int:
        """Items per list request (connection extra ``page_size``, default 100)."""
        return self.settings.page_size

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        """Return a ``requests.Session`` with Bearer auth and the provider's headers; set ``base_url``.

        The session is HttpHook's (its extras: proxies, verify, cert, ...). HttpHook would send a
        login and password as Basic auth, and reads a host without scheme as plain http: the API
        wants the password as a Bearer key, and the base URL is :attr:`api_url` (https).
        """
        key = self._connection.password
        if not key:
            raise transport.missing_key(self.intervals_conn_id)
        url = self.api_url  # a base URL that would send the key in clear fails here
        session = super().get_conn(headers, extra_options)
        session.auth = _BearerAuth(key)
        self.base_url = url
        for name in EXTRA_KEYS:  # ours, not headers
            session.headers.pop(name, None)
        session.headers.update(transport.headers(self.settings, session.headers["User-Agent"]))
        return session

    @cached_property
    def session(self) -> requests.Session:
        """The hook's keep-alive session: one connection pool, reused by every request."""
        return self.get_conn()

    def prepare(self) -> IntervalsHook:
        """Ask Airflow now for all the hook will need (its connection, its pacing store); open its session.

        Call it in the task's own thread before handing the hook to a worker thread: a worker
        that then asks Airflow nothing cannot interleave with another thread's request to the task
        supervisor (``dag.test()`` answers those through one unlocked queue). Returns the hook.
        Sync only: the async hook runs in one event loop (a trigger's), without worker threads.

        :raises IntervalsConfigurationError: the connection has no key, or names a pacing store
            that does not exist.
        """
        self.session  # noqa: B018 - the connection, its settings and the base URL
        self.pacing_store  # noqa: B018
        return self

    def close(self) -> None:
        """Close the session's sockets."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    # ------------------------------------------------------------------ the shell

    @cached_property
    def pacing_store(self) -> pacing.stores.Store:
        """Where the key's allowance is shared: the extra ``pacing_conn_id``'s store, or this host's."""
        return pacing.store_for(self.settings.pacing_conn_id, self.intervals_conn_id)

    @cached_property
    def _client(self) -> transport.Client:
        cap = None
        if self.max_requests_per_minute:
            cap = pacing.Rate.per_minute(float(self.max_requests_per_minute), 1)
        config = transport.Config(self.api_url, self.settings, self._connection.password or "")
        return transport.Client(config, self.pacing_store, cap)

    @property
    def bucket(self) -> pacing.TokenBucket | None:
        """The key's token bucket, shared through :attr:`pacing_store`, or ``None`` when the plan is unknown.

        The rate comes from the extras (``requests_per_minute`` + ``burst``, or ``plan``);
        without them it is learned from ``GET /organization``'s ``plan``, once for every process
        sharing the store (:class:`~airflow_provider_intervals.pacing.lookup.PlanLookup`): the hooks of
        a process wait for one lookup, and one that failed is raised again at once for a minute.
        Resolved on first use, then kept.
        """
        return self._run(self._client.bucket())

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _run(self, steps: transport.Steps[T]) -> T:
        """Do what the transport's ``steps`` ask until they end; return their value."""
        run = transport.Run(steps)
        while run.pending is not None:
            run.settle(self._outcome(run.pending))
        return run.value

    def _outcome(self, effect: transport.Effect) -> Any:
        # What the effect gives back, or the Intervals error it raised, to be raised in the steps.
        try:
            if isinstance(effect, transport.Send):
                return self._exchange(effect)
            if isinstance(effect, transport.Call):
                return effect.function(*effect.args)
            if isinstance(effect, transport.Sleep):
                return self._sleep(effect.seconds)
            if isinstance(effect, transport.Locked):
                with effect.lock:  # one plan lookup per key at a time: the other hooks wait for it
                    return self._run(effect.steps)
            return self.log.log(effect.level, "%s", effect.message)
        except exc.IntervalsError as error:
            return error

    def _exchange(self, send: transport.Send) -> transport.Answer:
        request, timeout = send.request, self.settings.timeout
        with self.round_trips.measure(record=send.measured):  # the network's time, not the bucket's
            try:
                response = self.session.request(
                    *(request.method, self.api_url + request.path),
                    params=request.params,
                    json=request.body,
                    headers=send.headers,
                    timeout=timeout,
                )
                body = response.content  # read the whole body now, so a truncated one fails here
            except requests.Timeout as error:
                raise api.transport_error(request, error, timeout) from error
            except requests.RequestException as error:
                raise api.transport_error(request, error, None) from error
        return transport.Answer(response.status_code, response.headers, body)

    def _steps(self, steps: Callable[[transport.Client], transport.Steps[T]]) -> T:
        return self._run(steps(self._client))

    def _pages(self, request: api.Request, limit: int | None) -> api.Listing:
        """Return the pages of a listing, fetched lazily, starting with ``request``."""
        if limit is None:
            request = request.with_params(limit=self.page_size)
        return api.Listing(request, self._fetch(request))

    def _fetch(self, request: api.Request) -> Iterator[api.Page]:
        listing = self._client.listing(request)
        while (steps := listing.next()) is not None:
            yield self._run(steps)

    def _items(self, pages: api.Listing) -> Iterator[dict[str, Any]]:
        for page in pages:
            yield from page.items

    def _first(self, pages: api.Listing) -> api.Page:
        return next(pages)

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
