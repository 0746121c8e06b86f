"""IntervalsAsyncHook: the Intervals API over aiohttp, for triggers, a thin shell.

The same steps as :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook` run every
request (:mod:`airflow_provider_intervals.transport`: pacing, retries, waits, reading the
answer, learning the key's plan), and the same read methods build them
(:class:`~airflow_provider_intervals.hooks.resources.IntervalsReads`). This module only does
what the steps ask without blocking the event loop: the connection is looked up with
``BaseHook.aget_connection``, requests go out on aiohttp, waits use ``asyncio.sleep``, and the
key's pacing store is read and changed in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_intervals import api, pacing, transport
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import DEFAULT_CONN_ID, Settings, resolve_base_url
from airflow_provider_intervals.hooks.resources import IntervalsReads

T = TypeVar("T")


class IntervalsAsyncHook(IntervalsReads[AsyncIterator[api.Page], AsyncIterator[dict[str, Any]]], BaseHook):
    """Async access to the Intervals API for triggers (aiohttp).

    Reads the same ``intervals`` connection and extras as the sync hook and obeys the same
    rules (checks, https, retries, 429 waits, error types), and paces through the same
    per-key token bucket: every trigger of a triggerer, and every task, that uses one key shares it.

    Its read surface is the sync hook's (:class:`~airflow_provider_intervals.hooks.resources.IntervalsReads`):
    ``*_pages`` and ``iter_*`` are async iterators, each listing on a session of its own;
    ``get_*``, ``list_events`` and ``get_organization`` are coroutines. The writes
    (``create_event``, ``register_participant``) are the sync hook's only: operators write from
    tasks, and a trigger only watches.

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
        self._config: transport.Config | None = None
        self._headers: dict[str, str] = {}
        self._client: transport.Client | None = None

    async def _configure(self) -> transport.Config:
        if self._config is None:
            conn = await self.aget_connection(self.intervals_conn_id)
            if not conn.password:
                raise transport.missing_key(self.intervals_conn_id)
            settings = Settings.from_extra(self.intervals_conn_id, conn.extra_dejson)
            settings = settings.capped(self.max_rate_limit_wait)
            url = resolve_base_url(
                self.intervals_conn_id, conn.host, conn.schema, conn.port, settings.allow_insecure_http
            )
            self._headers = {
                "Authorization": f"Bearer {conn.password}",
                **transport.headers(settings, "aiohttp"),
            }
            self._config = transport.Config(url, settings, conn.password)
        return self._config

    async def settings(self) -> Settings:
        """Return the connection's settings (page size, timeout, retry policy, pacing)."""
        return (await self._configure()).settings

    async def _connect(self) -> tuple[transport.Client, Any]:
        """Return the hook's client (its store read in a worker thread) and a new session."""
        import aiohttp

        config = await self._configure()
        if self._client is None:
            store = await asyncio.to_thread(
                pacing.store_for, config.settings.pacing_conn_id, self.intervals_conn_id
            )
            self._client = transport.Client(config, store)
        session = aiohttp.ClientSession(headers=self._headers, connector=aiohttp.TCPConnector(limit=1))
        return self._client, session

    async def bucket(self) -> pacing.TokenBucket | None:
        """Return the key's token bucket (shared as for the sync hook), learning the plan once if needed.

        As for the sync hook, the hooks sharing the key's store wait for one ``GET /organization``
        (:class:`~airflow_provider_intervals.pacing.lookup.PlanLookup`), and one that failed is raised
        again at once for a minute. The store is read in a worker thread, never in the event loop.
        """
        return await self._steps(lambda client: client.bucket())

    async def _run(self, steps: transport.Steps[T], session: Any) -> T:
        """Do what the transport's ``steps`` ask until they end, sending on ``session``."""
        run = transport.Run(steps)
        while run.pending is not None:
            run.settle(await self._outcome(run.pending, session))
        return run.value

    async def _outcome(self, effect: transport.Effect, session: Any) -> Any:
        # What the effect gives back, or the Intervals error it raised, to be raised in the steps.
        try:
            if isinstance(effect, transport.Send):
                return await self._exchange(effect, session)
            if isinstance(effect, transport.Call):  # the key's store: off the event loop
                return await asyncio.to_thread(effect.function, *effect.args)
            if isinstance(effect, transport.Sleep):
                return await asyncio.sleep(effect.seconds)
            if isinstance(effect, transport.Locked):
                async with _holding(effect.lock):  # one plan lookup per key, threads and tasks alike
                    return await self._run(effect.steps, session)
            return self.log.log(effect.level, "%s", effect.message)
        except exc.IntervalsError as error:
            return error

    async def _exchange(self, send: transport.Send, session: Any) -> transport.Answer:
        import aiohttp

        request = send.request
        config = await self._configure()
        timeout = config.settings.timeout
        try:
            async with session.request(
                *(request.method, config.url + request.path),
                params=request.params,
                json=request.body,
                headers=send.headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                return transport.Answer(response.status, response.headers, await response.read())
        except TimeoutError as error:
            raise api.transport_error(request, error, timeout) from error
        except aiohttp.ClientError as error:
            raise api.transport_error(request, error, None) from error

    async def _steps(self, steps: Callable[[transport.Client], transport.Steps[T]]) -> T:
        client, session = await self._connect()
        async with session:
            return await self._run(steps(client), session)

    def _pages(self, request: api.Request, limit: int | None) -> AsyncIterator[api.Page]:
        return self._fetch(request, limit)

    async def _fetch(self, request: api.Request, limit: int | None) -> AsyncIterator[api.Page]:
        client, session = await self._connect()
        if limit is None:
            request = request.with_params(limit=client.config.settings.page_size)
        listing = client.listing(request)
        async with session:
            while (steps := listing.next()) is not None:
                yield await self._run(steps, session)

    async def _items(self, pages: AsyncIterator[api.Page]) -> AsyncIterator[dict[str, Any]]:
        async for page in pages:
            for item in page.items:
                yield item

    async def _first(self, pages: AsyncIterator[api.Page]) -> api.Page:
        try:
            return await anext(pages)
        finally:
            await pages.aclose()  # type: ignore[attr-defined]


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
