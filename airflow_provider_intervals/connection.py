"""What an ``intervals`` Airflow connection means: base URL, extras, retry and pacing settings.

Both hooks read a connection through :class:`Settings` and :func:`resolve_base_url`, so the sync
and async transports agree on every rule. Nothing here does I/O.

The API key is a secret that travels in every request, so the base URL defaults to
``https`` when the connection names no scheme, and plain ``http`` is used only when the
connection says so (``schema='http'`` or an ``http://`` host) and the host is loopback
(the sandbox), unless the extra ``allow_insecure_http`` is true.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation as v
from airflow_provider_intervals.api import DEFAULT_PAGE_SIZE
from airflow_provider_intervals.pacing import PLANS, Rate
from airflow_provider_intervals.retries import RetryPolicy

DEFAULT_BASE_URL = "https://api.intervals.run"
DEFAULT_CONN_ID = "intervals_default"

DEFAULT_TIMEOUT = 30.0
# The longest max_rate_limit_wait (seconds) the extra and a hook's override accept.
MAX_RATE_LIMIT_WAIT = 86400.0
# Connection extras this provider reads. The sync hook must not forward them as HTTP
# headers (HttpHook sends every unknown extra key as a header).
EXTRA_KEYS = (
    "timeout",
    "max_retries",
    "retry_backoff",
    "retry_backoff_max",
    "max_rate_limit_wait",
    "page_size",
    "intervals_version",
    "plan",
    "requests_per_minute",
    "burst",
    "pacing_conn_id",
    "allow_insecure_http",
)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(
    conn_id: str, host: str | None, schema: str | None, port: int | None, insecure: bool
) -> str:
    """Return the API's base URL for a connection, refusing to send a key in clear.

    ``host`` if it has a scheme, else ``{schema or 'https'}://{host}``, with ``port`` in its
    authority (before any path prefix); the API's public URL when the connection has no host.
    A port in both the host's URL and the port field must agree.

    :param conn_id: named in the error.
    :param insecure: the ``allow_insecure_http`` extra: plain HTTP to a non-loopback host.
    """
    url = (host or "").strip().rstrip("/") or DEFAULT_BASE_URL
    if "://" not in url:
        url = f"{(schema or '').strip().lower() or 'https'}://{url}"
    parts = urlsplit(url)
    if port and parts.port is None and parts.hostname:
        # The port joins the authority, before any path prefix (https://proxy.example/intervals).
        url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
        parts = urlsplit(url)
    elif port and parts.port is not None and parts.port != int(port):
        raise exc.IntervalsConfigurationError(
            f"Connection {conn_id!r} names port {port} and a base URL with port {parts.port} ({url!r}): "
            "leave one of them empty"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise exc.IntervalsConfigurationError(
            f"Connection {conn_id!r} has the base URL {url!r}: expected https://host[:port][/prefix] "
            "(set the host, and the schema only if the host has no scheme)"
        )
    if parts.scheme == "http" and not insecure and not _is_loopback(parts.hostname):
        raise exc.IntervalsConfigurationError(
            f"Connection {conn_id!r} would send the API key over plain HTTP to {parts.hostname}: "
            "use https (a host starting with https://, or schema 'https' or empty), or set the "
            "extra allow_insecure_http=true if the network really is trusted"
        )
    return url


def _unset(value: Any) -> bool:
    """Whether a connection field's value means "not set": ``None``, ``""`` or only blanks."""
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Settings:
    """Per-connection settings read from the connection's extras, shared by both hooks.

    :param timeout: seconds per request.
    :param page_size: items per list request.
    :param retry: the retry policy.
    :param version: the pinned ``Intervals-Version``, or ``None`` for the latest.
    :param plan: the ``plan`` extra (``free``, ``premium``, ``enterprise``, ``unknown``), or
        ``None`` to learn it from ``GET /organization``.
    :param rate: the explicit allowance (``requests_per_minute`` and ``burst``), which wins
        over ``plan``.
    :param pacing_conn_id: the Airflow connection (Redis or a SQL database) through which every
        host shares the key's allowance, or ``None``: the processes of each host share it.
    :param allow_insecure_http: send the key over plain HTTP to a non-loopback host.
    """

    timeout: float = DEFAULT_TIMEOUT
    page_size: int = DEFAULT_PAGE_SIZE
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    version: str | None = None
    plan: str | None = None
    rate: Rate | None = None
    pacing_conn_id: str | None = None
    allow_insecure_http: bool = False

    @property
    def pacing_known(self) -> bool:
        """Whether the extras decide the pacing (otherwise it is learned from the organisation)."""
        return self.rate is not None or self.plan is not None

    def configured_rate(self) -> Rate | None:
        """Return the allowance the extras give: ``requests_per_minute``/``burst``, else the plan's."""
        return self.rate or Rate.for_plan(self.plan)

    def capped(self, max_rate_limit_wait: Any) -> Settings:
        """Return these settings with ``retry.max_rate_limit_wait`` capped (a hook's override).

        :param max_rate_limit_wait: seconds (0 to 86400), or ``None`` to keep the connection's.
        """
        if max_rate_limit_wait is None:
            return self
        seconds = v.check_seconds("max_rate_limit_wait", max_rate_limit_wait, MAX_RATE_LIMIT_WAIT)
        if seconds >= self.retry.max_rate_limit_wait:
            return self
        return dataclasses.replace(self, retry=dataclasses.replace(self.retry, max_rate_limit_wait=seconds))

    @classmethod
    def from_extra(cls, conn_id: str, extra: dict[str, Any]) -> Settings:
        """Read and check the extras; a bad value names the connection, the key and the range.

        A key that is absent, ``null`` or blank means "not set" (its default), whichever door
        the connection came through: Airflow 3.3's form saves every field left empty as
        ``null``, the REST API and ``airflow connections add`` pass what they are given.
        """
        extra = {key: value for key, value in extra.items() if not _unset(value)}

        def number(key: str, default: Any, low: float, high: float, whole: bool = False) -> Any:
            value = extra.get(key)
            if value is None:
                return default
            try:
                parsed = float(value)
            except (TypeError, ValueError):
                parsed = None
            if (
                isinstance(value, bool)
                or parsed is None
                or not low <= parsed <= high
                or (whole and parsed != int(parsed))
            ):
                raise exc.IntervalsConfigurationError(
                    f"Connection {conn_id!r} has extra {key}={value!r}: "
                    f"expected a {'whole ' if whole else ''}number from {low:g} to {high:g}"
                )
            return int(parsed) if whole else parsed

        def text(key: str, allowed: tuple[str, ...]) -> str | None:
            value = extra.get(key)
            if value is None:
                return None
            if value not in allowed:
                raise exc.IntervalsConfigurationError(
                    f"Connection {conn_id!r} has extra {key}={value!r}: expected one of {', '.join(allowed)}"
                )
            return value

        def flag(key: str) -> bool:
            try:
                return v.check_flag(key, extra.get(key, False))
            except exc.IntervalsArgumentError:
                raise exc.IntervalsConfigurationError(
                    f"Connection {conn_id!r} has extra {key}={extra.get(key)!r}: expected true or false"
                ) from None

        version = extra.get("intervals_version") or None
        pacing_conn_id = extra.get("pacing_conn_id")
        if pacing_conn_id is not None and not isinstance(pacing_conn_id, str):
            raise exc.IntervalsConfigurationError(
                f"Connection {conn_id!r} has extra pacing_conn_id={pacing_conn_id!r}: expected the id of "
                "an Airflow connection (Redis or a SQL database), or nothing"
            )
        per_minute = number("requests_per_minute", None, 0.001, 1_000_000)
        burst = number("burst", None, 1, 100_000, whole=True)
        if burst is not None and per_minute is None:
            raise exc.IntervalsConfigurationError(
                f"Connection {conn_id!r} has extra burst={burst} without requests_per_minute: "
                "set both, or set plan instead"
            )
        return cls(
            timeout=number("timeout", DEFAULT_TIMEOUT, 0.001, 3600),
            page_size=number("page_size", DEFAULT_PAGE_SIZE, 1, v.MAX_PAGE_SIZE, whole=True),
            retry=RetryPolicy(
                max_retries=number("max_retries", 5, 0, 100, whole=True),
                backoff=number("retry_backoff", 1.0, 0, 600),
                backoff_max=number("retry_backoff_max", 60.0, 0, 3600),
                max_rate_limit_wait=number(
                    "max_rate_limit_wait", RetryPolicy.max_rate_limit_wait, 0, MAX_RATE_LIMIT_WAIT
                ),
            ),
            version=None if version is None else v.check_date("intervals_version", version),
            plan=text("plan", PLANS),
            rate=None if per_minute is None else Rate.per_minute(per_minute, burst or 1),
            pacing_conn_id=None if pacing_conn_id is None else pacing_conn_id.strip(),
            allow_insecure_http=flag("allow_insecure_http"),
        )
