"""The sandbox API without I/O: one request in, one reply out.

The reply is a :class:`~airflow_provider_intervals.sandbox.replies.Reply`.

Check order, per request (documented so clients and tests can rely on it):
``latency`` fault -> auth (401) -> injected faults (5xx, 429 burst; drop/truncate are
decided here but applied when sending, *after* processing, a short body only to a 2xx)
-> rate limit (429) -> route (404 unknown path, 405 wrong method) -> scope (403) ->
malformed JSON body (400) -> idempotency replay / conflict (409) -> query/body
validation (422) -> path and referenced objects (404) -> cursor validity (422) -> the answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from airflow_provider_intervals.sandbox.faults import FAULT_CODES, Faults
from airflow_provider_intervals.sandbox.ratelimit import RateLimiter
from airflow_provider_intervals.sandbox.replies import Reply, error
from airflow_provider_intervals.sandbox.routes import Routes

IDEMPOTENCY_TTL = 24 * 3600.0


class Service:
    """Answer API requests: authenticate, inject faults, rate-limit, route, replay idempotent POSTs.

    :param keys: the known API keys, each with ``scopes`` and ``plan`` (read on every request,
        so a key added later is known).
    :param limiter: the per-key rate limits.
    :param routes: the endpoints; their counters are ``stats``.
    :param faults: the fault settings; an attribute, replaced when the faults change.
    """

    def __init__(self, keys: Mapping[str, Any], limiter: RateLimiter, routes: Routes, faults: Faults) -> None:
        self.keys = keys
        self.limiter = limiter
        self.routes = routes
        self.stats = routes.stats
        self.faults = faults
        self._idem: dict[tuple[str, str], tuple[str, float, Reply]] = {}
        self._create_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one request; count it; mark the reply with the fault to apply when sending."""
        self.stats.enter()
        try:
            reply = self._handle(method, target, headers, body)
            reply.headers.append(("X-Request-Id", f"req_{time.monotonic_ns():x}"))
            self.stats.status(reply.status)
            if reply.fault:
                self.stats.bump("faults_injected")
                self.stats.bump("dropped" if reply.fault == "drop" else "truncated")
                if reply.fault == "truncate_short":
                    self.stats.bump("truncated_short")
        finally:  # counted before it leaves: with nothing in flight, every answer is in the counters
            self.stats.leave()
        return reply

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        faults = self.faults
        if faults.latency > 0:
            time.sleep(faults.latency)
        scheme, _, key = (headers.get("Authorization") or "").strip().partition(" ")
        info = self.keys.get(key.strip()) if scheme.lower() == "bearer" else None
        if info is None:
            return error(
                401,
                "UNAUTHORIZED",
                "Missing or invalid API key: send 'Authorization: Bearer "
                "<key>' with a valid key (check the connection's password)",
            )
        fault = faults.draw()
        if fault is not None and fault[0] in ("error", "burst"):
            self.stats.bump("faults_injected")
            if fault[1] == 429:
                retry = int(time.time() * 1000) + int(faults.rate_limit_retry_ms)
                return error(
                    429, "RATE_LIMITED", "Rate limit exceeded (injected by the sandbox)", retry_after=retry
                )
            code, msg = FAULT_CODES.get(fault[1], ("INTERNAL_ERROR", "Injected error"))
            return error(fault[1], code, msg)
        retry_at = self.limiter.acquire(key.strip(), info.plan)
        if retry_at is not None:
            self.stats.bump("rate_limited")
            requests, period, _ = self.limiter.limit_for(info.plan) or (0, 0.0, 0)
            return error(
                429,
                "RATE_LIMITED",
                f"Rate limit exceeded for plan {info.plan} ({requests} requests per {period:g}s)",
                retry_after=retry_at,
            )
        reply = self._route(method, target, headers, body, key.strip(), info)
        # A short body stands for a proxy cutting a success short: error replies go whole.
        if fault is not None and (fault[0] != "truncate_short" or 200 <= reply.status < 300):
            reply.fault = fault[0]
        return reply

    def _route(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, key: str, info: Any
    ) -> Reply:
        path, _, qs = target.partition("?")
        segments = [unquote(s) for s in path.split("/")[1:]]
        found = self.routes.match(segments)
        if found is None:
            return error(404, "NOT_FOUND", f"No such path: {path}")
        methods, args = found
        if method not in methods:
            reply = error(405, "METHOD_NOT_ALLOWED", f"Method {method} is not allowed on {path}")
            reply.headers.append(("Allow", ", ".join(sorted(methods))))
            return reply
        scope, func = methods[method]
        if scope not in info.scopes:
            return error(403, "FORBIDDEN", f"API key lacks scope {scope}")
        if method == "GET":
            return func(args, qs, info)
        return self._post(func, headers, body, key)

    def _post(self, func: Callable[..., Reply], headers: Mapping[str, str], raw: bytes, key: str) -> Reply:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return error(400, "BAD_REQUEST", "Request body is not valid JSON")
        if not isinstance(body, dict):
            return error(400, "BAD_REQUEST", "Request body must be a JSON object")
        idem = headers.get("Idempotency-Key")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        now = time.monotonic()
        # One lock around lookup, create and record: concurrent same-key requests create once.
        with self._create_lock:
            if idem:
                entry = self._idem.get((key, idem))
                if entry is not None and now - entry[1] < IDEMPOTENCY_TTL:
                    if entry[0] != canonical:
                        return error(
                            409, "CONFLICT", "Idempotency-Key was already used with a different body"
                        )
                    self.stats.bump("idempotent_replays")
                    first = entry[2]
                    return Reply(first.status, first.body, list(first.headers))
            reply = func(body)
            # Only successes are remembered: a rejected request may be corrected and retried.
            if idem and 200 <= reply.status < 300:
                if len(self._idem) > 10_000:
                    self._idem = {k: v for k, v in self._idem.items() if now - v[1] < IDEMPOTENCY_TTL}
                first = Reply(reply.status, reply.body, list(reply.headers))
                self._idem[(key, idem)] = (canonical, now, first)
        return reply
