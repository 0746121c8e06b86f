"""The :class:`Sandbox`: an Intervals API emulator served over HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airflow_provider_intervals.sandbox.faults import Faults
from airflow_provider_intervals.sandbox.ratelimit import RateLimiter, RateLimits
from airflow_provider_intervals.sandbox.replies import Reply, Stats, error
from airflow_provider_intervals.sandbox.routes import Routes
from airflow_provider_intervals.sandbox.server import SandboxHTTPServer
from airflow_provider_intervals.sandbox.service import Service
from airflow_provider_intervals.sandbox.store import Store
from airflow_provider_intervals.sandbox.tables import ORGANIZATION_PLANS, SCOPES

DEFAULT_API_KEY = "itv_test_sandbox_full_access_key"


@dataclass(frozen=True)
class ApiKey:
    """An API key's grants: its scopes and its organisation plan (which sets its rate limit)."""

    scopes: frozenset[str]
    plan: str


class Sandbox:
    """A faithful Intervals API emulator, served over real HTTP.

    Seeded data, auth, scopes, pagination, validation, rate limits, idempotency and
    injected faults behave as the project's API page documents them.

    :param events: number of seeded events (a million is fine: nothing is materialised).
    :param seed: seed of the data; the same seed gives the same ids and objects.
    :param plan: plan of the default key's organisation (``free``, ``premium``, ``enterprise``).
    :param has_more: include ``hasMore`` in list responses (the reference's examples omit it).
    :param host: interface to bind; loopback by default.
    :param port: port to bind; 0 picks a free one.
    :param rate_limits: ``None`` for the documented limits, ``False`` for none, or
        ``{plan: (requests, period_seconds, burst) | None}`` overrides.
    :param start_date: first seeded event date (``YYYY-MM-DD``).
    :param days: seeded event dates span this many days.
    :param api_key: the default full-scope key (``DEFAULT_API_KEY`` if not given).
    """

    def __init__(
        self,
        events: int = 1000,
        seed: int = 42,
        plan: str = "enterprise",
        has_more: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimits = None,
        start_date: str | dt.date = "2025-01-01",
        days: int = 730,
        api_key: str | None = None,
    ) -> None:
        if plan not in ORGANIZATION_PLANS:
            raise ValueError(f"plan must be one of {ORGANIZATION_PLANS}")
        if isinstance(start_date, str):
            start_date = dt.date.fromisoformat(start_date)
        self.store = Store(events, seed, start_date, days, plan)
        self.plan = plan
        self.host = host
        self.port = port
        self.api_key = api_key or DEFAULT_API_KEY
        self.keys: dict[str, ApiKey] = {self.api_key: ApiKey(SCOPES, plan)}
        self.limiter = RateLimiter(rate_limits)
        # Each part gets only what it uses; the flags it reads live on it (see the properties).
        self.routes = Routes(self.store, Stats(), has_more)
        self.service = Service(self.keys, self.limiter, self.routes, Faults())
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration --

    def add_key(self, key: str, scopes: Iterable[str] | None = None, plan: str | None = None) -> str:
        """Register another API key of the same organisation.

        :param key: the key string clients send as ``Bearer <key>``.
        :param scopes: its scopes (all scopes if omitted).
        :param plan: its plan, which sets its rate limit (the sandbox's plan if omitted).
        """
        granted = SCOPES if scopes is None else frozenset(scopes)
        if unknown := granted - SCOPES:
            raise ValueError(f"unknown scopes: {sorted(unknown)}")
        if plan is not None and plan not in ORGANIZATION_PLANS:
            raise ValueError(f"plan must be one of {ORGANIZATION_PLANS}")
        self.keys[key] = ApiKey(granted, plan or self.plan)
        return key

    @property
    def has_more(self) -> bool:
        """Whether list responses include ``hasMore`` (the reference's examples omit it)."""
        return self.routes.has_more

    @has_more.setter
    def has_more(self, value: bool) -> None:
        self.routes.has_more = value

    @property
    def faults(self) -> Faults:
        """The fault settings in force (:meth:`set_faults` replaces them)."""
        return self.service.faults

    @property
    def rate_limits(self) -> RateLimits:
        """The rate-limit setting as given (``None``, ``False`` or per-plan overrides)."""
        return self.limiter.limits

    @rate_limits.setter
    def rate_limits(self, value: RateLimits) -> None:
        self.limiter.configure(value)

    def set_faults(self, **settings: Any) -> Faults:
        """Replace the fault settings (no arguments: no faults).

        See :class:`~airflow_provider_intervals.sandbox.faults.Faults` for the keys.

        :param settings: ``error_rate``, ``error_statuses``, ``rate_limit_burst``,
            ``rate_limit_retry_ms``, ``latency``, ``drop_rate``, ``truncate_rate``,
            ``truncate_mode`` (``wire`` or ``short``), ``seed``.
        :raises ValueError: for a ``truncate_mode`` other than ``wire`` or ``short``.
        """
        if "error_statuses" in settings:
            settings["error_statuses"] = tuple(settings["error_statuses"])
        self.service.faults = Faults(**settings)
        return self.service.faults

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` authenticated API requests with ``status``."""
        self.faults.fail_next(n, status)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: requests, by_status, faults_injected, pages_served, listings_ended, ..., peak_in_flight.

        ``listings_ended`` counts a listing's last pages (no more items after them).
        """
        return self.service.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.service.stats.reset()

    # -- lifecycle --

    @property
    def url(self) -> str:
        """Base URL of the running sandbox, e.g. ``http://127.0.0.1:8787``."""
        return f"http://{self.host}:{self.port}"

    def connection_extra(self, key: str | None = None) -> dict[str, Any]:
        """Return the pacing extras that match this sandbox's limit for ``key``'s plan.

        The documented limits need none (the hook learns the plan from ``GET /organization``);
        overridden limits (a scaled clock) become ``requests_per_minute`` and ``burst``; no limit
        becomes ``plan: unknown`` (no pacing).
        """
        info = self.keys.get(key or self.api_key)
        plan = info.plan if info is not None else self.plan
        limit = self.limiter.limit_for(plan)
        if limit is None:
            return {"plan": "unknown"}
        if self.limiter.is_documented(plan):
            return {}
        requests, period, burst = limit
        return {"requests_per_minute": requests * 60.0 / period, "burst": burst}

    def connection_json(self, key: str | None = None) -> str:
        """Return an Airflow connection, as JSON for ``AIRFLOW_CONN_*``, pointing at this sandbox.

        Its extras pace the client to this sandbox's limits (see :meth:`connection_extra`).
        """
        conn: dict[str, Any] = {
            "conn_type": "intervals",
            "host": self.host,
            "port": self.port,
            "schema": "http",
            "password": key or self.api_key,
        }
        if extra := self.connection_extra(key):
            conn["extra"] = extra
        return json.dumps(conn)

    def start(self) -> Sandbox:
        """Bind and serve in a background daemon thread; return ``self``."""
        if self._server is not None:
            return self
        self._server = SandboxHTTPServer((self.host, self.port), self.service.handle, self._control)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"intervals-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _control(self, method: str, name: str, body: bytes) -> Reply:
        """Answer ``/_sandbox/{name}``: ``stats``, ``reset-stats``, ``faults`` (see ``server.py``)."""
        if name == "stats" and method == "GET":
            return Reply(200, json.dumps(self.stats).encode())
        if name == "reset-stats" and method == "POST":
            self.reset_stats()
            return Reply(200, json.dumps(self.stats).encode())
        if name == "faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    self.set_faults(**json.loads(body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return error(400, "BAD_REQUEST", f"Invalid fault settings: {exc}")
            return Reply(200, json.dumps(self.faults.as_dict()).encode())
        return error(404, "NOT_FOUND", f"No sandbox control endpoint {method} /_sandbox/{name}")

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
