"""IntervalsAsyncHook: the Intervals API over aiohttp, for triggers.

Transport only, like :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`:
requests are built, errors mapped, retries timed and cursors followed by the same pure
functions in :mod:`airflow_provider_intervals.api`. Nothing here blocks the event loop:
the connection is looked up with ``BaseHook.aget_connection`` and waits use
``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_intervals import __version__, api
from airflow_provider_intervals import exceptions as exc


def base_url(host: str | None, schema: str | None, port: int | None) -> str:
    """Build the base URL the way the sync hook (HttpHook) does.

    ``host`` if it has a scheme, else ``{schema or 'http'}://{host}``, plus ``:port``;
    the API's public URL when the connection has no host.
    """
    url = host or api.DEFAULT_BASE_URL
    if "://" not in url:
        url = f"{schema or 'http'}://{url}"
    return f"{url.rstrip('/')}:{port}" if port else url.rstrip("/")


class IntervalsAsyncHook(BaseHook):
    """Async access to the Intervals API for triggers (aiohttp).

    Reads the same ``intervals`` connection and extras as the sync hook and obeys the same
    rules (checks, retries, 429 waits, error types).

    :param intervals_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "intervals_conn_id"
    default_conn_name = api.DEFAULT_CONN_ID
    conn_type = "intervals"
    hook_name = "Intervals (async)"

    def __init__(self, intervals_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.intervals_conn_id = intervals_conn_id
        self._config: tuple[str, dict[str, str], api.Settings] | None = None

    async def _configure(self) -> tuple[str, dict[str, str], api.Settings]:
        if self._config is None:
            conn = await self.aget_connection(self.intervals_conn_id)
            if not conn.password:
                raise exc.IntervalsConfigurationError(
                    f"Connection {self.intervals_conn_id!r} has no API key: put the Intervals API key "
                    "in the connection's password field"
                )
            settings = api.Settings.from_extra(self.intervals_conn_id, conn.extra_dejson)
            headers = {
                "Authorization": f"Bearer {conn.password}",
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-intervals/{__version__} aiohttp",
            }
            if settings.version:
                headers["Intervals-Version"] = settings.version
            self._config = (base_url(conn.host, conn.schema, conn.port), headers, settings)
        return self._config

    async def settings(self) -> api.Settings:
        """Return the connection's settings (page size, timeout, retry policy)."""
        return (await self._configure())[2]

    async def _attempt(
        self, session: Any, request: api.Request, url: str, timeout: float
    ) -> tuple[int, Any, bytes]:
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

    async def send(self, session: Any, request: api.Request) -> tuple[int, Any, bytes]:
        """Send a GET with the sync hook's retry rules; return ``(status, headers, body)`` of the success.

        :param session: an ``aiohttp.ClientSession`` from :meth:`session`.
        :param request: the request, built by :mod:`airflow_provider_intervals.api`.
        """
        url, _, settings = await self._configure()
        attempt = 0
        while True:
            try:
                status, headers, body = await self._attempt(session, request, url, settings.timeout)
                api.raise_for_status(request, status, headers, body, time.time())
                return status, headers, body
            except exc.IntervalsError as error:
                wait = settings.retry.wait_before_retry(error, attempt, request, False, time.time())
                if wait is None:
                    raise
                attempt += 1
                self.log.warning(
                    "%s %s: %s; retry %d/%d in %.2fs",
                    request.method, request.path, error, attempt, settings.retry.max_retries, wait,
                )  # fmt: skip
                await asyncio.sleep(wait)

    async def session(self) -> Any:
        """Return a new ``aiohttp.ClientSession`` with auth and provider headers (close it after use)."""
        import aiohttp

        _, headers, _ = await self._configure()
        return aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=1))

    async def iter_pages(self, request: api.Request) -> AsyncIterator[api.Page]:
        """Yield the pages of a listing, lazily, starting with ``request`` (one connection)."""
        session = await self.session()
        async with session:
            next_request: api.Request | None = request
            while next_request is not None:
                status, headers, body = await self.send(session, next_request)
                page = api.parse_page(next_request, status, body, headers.get("X-Request-Id"))
                yield page
                next_request = page.next_request

    async def get_organization(self) -> dict[str, Any]:
        """Return the key's organisation (``GET /organization``)."""
        session = await self.session()
        async with session:
            status, headers, body = await self.send(session, api.organization_request())
        return api.data_from_response(status, body, headers.get("X-Request-Id"))
