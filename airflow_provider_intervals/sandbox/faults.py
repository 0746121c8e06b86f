"""Fault injection: errors, rate-limit bursts, latency, dropped and truncated responses.

One seeded ``random.Random`` draw per request picks at most one of error / drop /
truncate, so ``error_rate`` is the share of requests answered with an error, and runs
with the same seed and request sequence fail the same way.

A truncated success is cut one of two ways (``truncate_mode``): ``wire`` announces the
full Content-Length, sends half the body and closes the connection (the client sees an
incomplete read); ``short`` sends half the body with a *matching* Content-Length and keeps
the connection open, as a proxy or load balancer can (valid HTTP, invalid JSON).
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

# What the sandbox answers an injected error status with: (code, message).
FAULT_CODES = {
    500: ("INTERNAL_ERROR", "Internal server error (injected by the sandbox)"),
    502: ("BAD_GATEWAY", "Bad gateway (injected by the sandbox)"),
    503: ("SERVICE_UNAVAILABLE", "Service unavailable (injected by the sandbox)"),
    504: ("GATEWAY_TIMEOUT", "Gateway timeout (injected by the sandbox)"),
}

TRUNCATE_MODES = ("wire", "short")


@dataclass
class Faults:
    """Fault settings. Attributes may be changed at runtime (plain attribute sets).

    :param error_rate: share of requests answered with a status drawn from ``error_statuses``.
    :param error_statuses: statuses for injected errors (5xx use the ``INTERNAL_ERROR`` family,
        429 adds ``retryAfter``).
    :param rate_limit_burst: the next N requests get 429 (counts down as they are served).
    :param rate_limit_retry_ms: how far ahead ``retryAfter`` lies for injected 429s.
    :param latency: seconds added to every API request.
    :param drop_rate: share of requests whose connection is closed with no response; the
        request *is processed first*, so a dropped POST has still created its object.
    :param truncate_rate: share of responses cut to half their body.
    :param truncate_mode: how a response is cut: ``wire`` (the full Content-Length announced,
        then the connection closes; any routed reply, 4xx included) or ``short`` (a matching
        Content-Length on a kept-alive connection; 2xx replies only, others go whole).
    :param seed: seed of the fault draws.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    rate_limit_burst: int = 0
    rate_limit_retry_ms: int = 50
    latency: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    truncate_mode: str = "wire"
    seed: int = 1
    fail_next_count: int = 0
    fail_next_status: int = 500
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.truncate_mode not in TRUNCATE_MODES:
            allowed = " or ".join(repr(m) for m in TRUNCATE_MODES)
            raise ValueError(f"truncate_mode must be {allowed}, not {self.truncate_mode!r}")
        self.error_statuses = tuple(int(s) for s in self.error_statuses)
        self._rng = random.Random(self.seed)

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next ``n`` API requests with ``status``."""
        with self._lock:
            self.fail_next_count = n
            self.fail_next_status = status

    def draw(self) -> tuple[str, int] | None:
        """Decide this request's fault.

        :return: ``None``, or ``(kind, status)`` with kind ``error``, ``burst``, ``drop``,
            ``truncate`` (a wire cut) or ``truncate_short`` (a short body).
        """
        with self._lock:
            if self.fail_next_count > 0:
                self.fail_next_count -= 1
                return ("error", self.fail_next_status)
            if self.rate_limit_burst > 0:
                self.rate_limit_burst -= 1
                return ("burst", 429)
            if not (self.error_rate or self.drop_rate or self.truncate_rate):
                return None
            r = self._rng.random()
            if r < self.error_rate and self.error_statuses:
                return ("error", self._rng.choice(self.error_statuses))
            r -= self.error_rate
            if r < self.drop_rate:
                return ("drop", 0)
            r -= self.drop_rate
            if r < self.truncate_rate:
                return ("truncate_short" if self.truncate_mode == "short" else "truncate", 0)
            return None

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-friendly primitives."""
        return {
            "error_rate": self.error_rate,
            "error_statuses": list(self.error_statuses),
            "rate_limit_burst": self.rate_limit_burst,
            "rate_limit_retry_ms": self.rate_limit_retry_ms,
            "latency": self.latency,
            "drop_rate": self.drop_rate,
            "truncate_rate": self.truncate_rate,
            "truncate_mode": self.truncate_mode,
            "seed": self.seed,
            "fail_next_count": self.fail_next_count,
            "fail_next_status": self.fail_next_status,
        }


def cut_short(body: bytes) -> bytes:
    """Return the first half of ``body``, shortened further until it is not valid JSON.

    Half a JSON object never parses; a body whose half still would (a bare number, or
    trailing whitespace) loses more bytes, down to none, so a cut body is never valid JSON.

    :param body: the whole body.
    """
    cut = body[: len(body) // 2]
    while cut and _parses(cut):
        cut = cut[:-1]
    return cut


def _parses(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:  # UnicodeDecodeError too: a cut may split a UTF-8 sequence
        return False
    return True
