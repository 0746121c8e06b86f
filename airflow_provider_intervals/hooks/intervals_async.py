"""IntervalsAsyncHook: the Intervals API over aiohttp, for triggers.

Transport only, like :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`:
requests are built, errors mapped, retries timed and cursors followed by the same pure
functions in :mod:`airflow_provider_intervals.api`. Nothing here blocks the event loop:
the connection is looked up with ``BaseHook.aget_connection`` and waits use
``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_intervals import __version__, api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import DEFAULT_CONN_ID, Settings, resolve_base_url
from airflow_provider_intervals.retries import Retries

#: What an answer is parsed into.
T = TypeVar("T")
#: An answer as the transport read it: status, headers, body.
Answer = tuple[int, Any, bytes]


class IntervalsAsyncHook(BaseHook):
    """Async access to the Intervals API for triggers (aiohttp).

    Reads the same ``intervals`` connection and extras as the sync hook and obeys the same
    rules (checks, https, retries, 429 waits, error types), and paces through the same
    per-key token bucket: every trigger of a triggerer, and every task, that uses one key shares it.

    :param intervals_conn_id: the Airflow connection to use.
    :param max_rate_limit_wait: wait at most this many seconds for the allowance, below the
        connection's ``max_rate_limit_wait`` (as for the sync hook).
    """

    conn_name_attr = "intervals_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "intervals"
    hook_name = "Intervals (async)"

    def __init__(
        self, intervals_conn_id: str = default_conn_name, max_rate_limit_wait: float | None = None
    ) -> None:
        super().__init__()
        self.intervals_conn_id = intervals_conn_id
        self.max_rate_limit_wait = max_rate_limit_wait
        self._config: tuple[str, dict[str, str], Settings, str] | None = None
        self._bucket: pacing.TokenBucket | None = None
        self._paced: bool | None = None

    async def _configure(self) -> tuple[str, dict[str, str], Settings, str]:
        if self._config is None:
            conn = await self.aget_connection(self.intervals_conn_id)
            if not conn.password:
                raise exc.IntervalsConfigurationError(
                    f"Connection {self.intervals_conn_id!r} has no API key: put the Intervals API key "
                    "in the connection's password field"
                )
            settings = Settings.from_extra(self.intervals_conn_id, conn.extra_dejson)
            settings = settings.capped(self.max_rate_limit_wait)
            url = resolve_base_url(
                self.intervals_conn_id, conn.host, conn.schema, conn.port, settings.allow_insecure_http
            )
            headers = {
                "Authorization": f"Bearer {conn.password}",
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-intervals/{__version__} aiohttp",
            }
            if settings.version:
                headers["Intervals-Version"] = settings.version
            self._config = (url, headers, settings, conn.password)
        return self._config

    async def settings(self) -> Settings:
        """Return the connection's settings (page size, timeout, retry policy, pacing)."""
        return (await self._configure())[2]

    async def bucket(self, session: Any) -> pacing.TokenBucket | None:
        """Return the key's token bucket (shared as for the sync hook), learning the plan once if needed.

        As for the sync hook, the hooks sharing the key's store wait for one ``GET /organization``
        (:class:`~airflow_provider_intervals.pacing.lookup.PlanLookup`), and one that failed is raised
        again at once for a minute. The store is read in a worker thread, never in the event loop.

        :param session: the session to learn the plan with (``GET /organization``).
        """
        if self._paced is None:
            url, _, settings, key = await self._configure()
            store = await asyncio.to_thread(pacing.store_for, settings.pacing_conn_id, self.intervals_conn_id)
            if settings.pacing_known:
                rate = settings.configured_rate()
            else:
                rate = await self._learn_rate(session, url, key, store)
            self._bucket = None if rate is None else pacing.bucket_for(key, rate, store)
            self._paced = self._bucket is not None
        return self._bucket

    async def _learn_rate(self, session: Any, url: str, key: str, store: Any) -> pacing.Rate | None:
        lookup = pacing.plan_lookup(key, store)
        async with _holding(lookup.lock):  # one lookup per key at a time, threads and tasks alike
            known, rate = await asyncio.to_thread(lookup.recall, url)  # raises a remembered failure
            if known:
                return rate
            try:
                organization = await self.send(session, api.organization_request(), _data, paced=False)
            except exc.IntervalsError as error:
                note = await asyncio.to_thread(lookup.failed, url, error)
                if note is None:
                    raise
            else:
                note = await asyncio.to_thread(lookup.learned, organization)
            if note:
                self.log.info("%s", note)
            return lookup.rate

    async def _attempt(self, session: Any, request: api.Request, url: str, timeout: float) -> Answer:
        import aiohttp

        try:
            async with session.request(
                request.method,
                url + request.path,
                params=request.params,
                json=request.body,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                return response.status, response.headers, await response.read()
        except TimeoutError as error:
            raise api.transport_error(request, error, timeout) from error
        except aiohttp.ClientError as error:
            raise api.transport_error(request, error, None) from error

    async def _pace(self, bucket: pacing.TokenBucket, request: api.Request, limit: float) -> int:
        # As the sync hook: a slot before a pause learned of while waiting is booked again.
        while True:
            wait, epoch = await asyncio.to_thread(
                pacing.book, bucket, f"{request.method} {request.path}", limit
            )
            if wait > 0:
                await asyncio.sleep(wait)
            if time.time() >= bucket.resumes_at:
                return epoch

    async def send(
        self,
        session: Any,
        request: api.Request,
        parse: Callable[[api.Request, Answer], T],
        *,
        paced: bool = True,
    ) -> T:
        """Send a GET with the sync hook's pacing and retry rules; return ``parse``'s reading.

        Parsing is inside the retry loop, so a ``200`` whose body is cut short is retried.

        :param session: an ``aiohttp.ClientSession`` from :meth:`session`.
        :param request: the request, built by :mod:`airflow_provider_intervals.api`.
        :param parse: turns the successful answer into the caller's value.
        """
        url, _, settings, _ = await self._configure()
        bucket = await self.bucket(session) if paced else None
        retries = Retries(settings.retry, request, paced=bucket is not None)
        while True:
            epoch = None
            try:
                if bucket is not None:
                    epoch = await self._pace(bucket, request, settings.retry.max_rate_limit_wait)
                answer = await self._attempt(session, request, url, settings.timeout)
                if bucket is not None:
                    bucket.answered(answer[0])
                api.raise_for_status(request, answer[0], answer[1], answer[2], time.time())
                return parse(request, answer)
            except exc.IntervalsError as error:
                # A 429 pauses the key's bucket: a change to its store, made off the event loop.
                wait = await asyncio.to_thread(retries.after_failure, error, bucket, epoch)
                if wait is None:
                    raise
                self.log.warning("%s", retries.log_line(error, wait))
                await asyncio.sleep(wait)

    async def session(self) -> Any:
        """Return a new ``aiohttp.ClientSession`` with auth and provider headers (close it after use)."""
        import aiohttp

        _, headers, _, _ = await self._configure()
        return aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=1))

    def event_pages(self, *, limit: int | None = None, **filters: Any) -> AsyncIterator[api.Page]:
        """Yield the pages of ``GET /events``, lazily, on one connection.

        The filters are checked now, before any request; the page size defaults to the
        connection's ``page_size``.

        :param filters: as for the sync hook's ``event_pages``: ``event_type``, ``date_from``,
            ``date_to``, ``after``.
        """

        def first(page_size: int) -> api.Request:
            return api.events_request(**filters, limit=page_size if limit is None else limit)

        first(api.DEFAULT_PAGE_SIZE)  # checks the arguments
        return self._pages(first)

    async def _pages(self, first: Callable[[int], api.Request]) -> AsyncIterator[api.Page]:
        settings = await self.settings()
        session = await self.session()
        async with session:
            next_request: api.Request | None = first(settings.page_size)
            while next_request is not None:
                page = await self.send(session, next_request, _page)
                yield page
                next_request = page.next_request

    async def get_organization(self) -> dict[str, Any]:
        """Return the key's organisation (``GET /organization``)."""
        session = await self.session()
        async with session:
            return await self.send(session, api.organization_request(), _data)


def _data(request: api.Request, answer: Answer) -> dict[str, Any]:
    status, headers, body = answer
    return api.data_from_response(status, body, headers.get("X-Request-Id"))


def _page(request: api.Request, answer: Answer) -> api.Page:
    status, headers, body = answer
    return api.parse_page(request, status, body, headers.get("X-Request-Id"))


@contextlib.asynccontextmanager
async def _holding(lock: threading.Lock) -> AsyncIterator[None]:
    """Hold a threading lock from a coroutine without blocking the event loop while it waits.

    The plan lookup's lock is shared with the sync hook's threads, so it cannot be an
    ``asyncio.Lock``; polling keeps the loop free, and a cancelled waiter holds nothing.
    """
    while not lock.acquire(blocking=False):
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        lock.release()
