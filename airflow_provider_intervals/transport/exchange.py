"""One request's steps: the headers, pacing, the attempt, retry and wait, and reading the answer.

See :mod:`airflow_provider_intervals.transport` for the protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from airflow_provider_intervals import __version__, api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import Settings
from airflow_provider_intervals.retries import Retries
from airflow_provider_intervals.transport.effects import Answer, Call, Log, Send, Sleep, Steps

T = TypeVar("T")


class Config(NamedTuple):
    """What a hook reads from its connection: base URL, settings and the API key.

    :param url: the API's base URL (:func:`~airflow_provider_intervals.connection.resolve_base_url`).
    :param settings: the extras' settings, capped by the hook's own ``max_rate_limit_wait``.
    :param key: the API key, to name the key's bucket and plan lookup (by a digest).
    """

    url: str
    settings: Settings
    key: str

    def __repr__(self) -> str:
        return f"Config(url={self.url!r}, key=<{pacing.key_digest(self.key)}>)"  # never the key itself


def headers(settings: Settings, agent: str) -> dict[str, str]:
    """Return the provider's headers: ``Accept``, ``User-Agent`` and a pinned ``Intervals-Version``.

    :param agent: the HTTP library's own ``User-Agent``, appended to ours.
    """
    out = {"Accept": "application/json", "User-Agent": f"airflow-provider-intervals/{__version__} {agent}"}
    if settings.version:
        out["Intervals-Version"] = settings.version
    return out


def missing_key(conn_id: str) -> exc.IntervalsConfigurationError:
    """Return the error for a connection without an API key (raised before any request)."""
    return exc.IntervalsConfigurationError(
        f"Connection {conn_id!r} has no API key: put the Intervals API key in the connection's password field"
    )


# --------------------------------------------------------------------------- answers


def data(request: api.Request, answer: Answer) -> dict[str, Any]:
    """Read a single object's ``data``."""
    return api.data_from_response(answer.status, answer.body, answer.request_id, request.personal)


def page(request: api.Request, answer: Answer) -> api.Page:
    """Read one page of a listing."""
    return api.parse_page(request, answer.status, answer.body, answer.request_id)


def created(id_field: str) -> Callable[[api.Request, Answer], str]:
    """Return a reader of a ``201``'s new id (``eventId`` or ``participantId``)."""

    def read(request: api.Request, answer: Answer) -> str:
        return api.created_id(data(request, answer), id_field, answer.status, answer.body, request.personal)

    return read


# --------------------------------------------------------------------------- one request


def pace(bucket: pacing.TokenBucket, request: api.Request, limit: float) -> Steps[int]:
    """Wait for the request's slot in the key's bucket; return the booking's epoch.

    A slot that comes before a pause this process learned of while it waited (another
    stream's 429) is booked again, after the pause.
    """
    while True:
        wait, epoch = yield Call(pacing.book, (bucket, f"{request.method} {request.path}", limit))
        if wait > 0:
            yield Sleep(wait)
        if time.time() >= bucket.resumes_at:
            return epoch


def exchange(
    request: api.Request,
    parse: Callable[[api.Request, Answer], T],
    settings: Settings,
    bucket: pacing.TokenBucket | None,
    *,
    idempotency_key: str | None = None,
    measured: bool = True,
) -> Steps[T]:
    """Send ``request`` paced by ``bucket``, with retries; return ``parse``'s reading of the success.

    Parsing is inside the retry loop: a ``200`` whose body is cut short is retried like a
    5xx (a POST replays under its ``Idempotency-Key``). A 429 on a paced request pauses the
    key's bucket for everyone (:meth:`~airflow_provider_intervals.retries.Retries.after_failure`).

    :param bucket: the key's token bucket, or ``None`` (not paced).
    :param idempotency_key: sent as ``Idempotency-Key``; a POST is retried only with one.
    :param measured: whether the round trips join the hook's average.
    """
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    retries = Retries(settings.retry, request, bool(idempotency_key), paced=bucket is not None)
    while True:
        epoch = None
        try:
            if bucket is not None:
                epoch = yield from pace(bucket, request, settings.retry.max_rate_limit_wait)
            answer: Answer = yield Send(request, extra, measured)
            if bucket is not None:
                yield Call(bucket.answered, (answer.status,))
            api.raise_for_status(request, answer.status, answer.headers, answer.body, time.time())
            return parse(request, answer)
        except exc.IntervalsError as error:
            wait = yield Call(retries.after_failure, (error, bucket, epoch))
            if wait is None:
                raise
            yield Log(logging.WARNING, retries.log_line(error, wait))
            yield Sleep(wait)
