"""The Intervals API without I/O.

Everything the sync and async transports share lives here: the endpoints and their
scopes, argument checks, request building, response-to-data-or-error mapping, retry
timing and pagination cursors. Nothing in this module opens a socket or sleeps, so
every rule is testable on its own and both hooks obey the same rules.

The reference is ``shared/intervals-api.md``; comments mark where the API surprises.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intervals import exceptions as exc

DEFAULT_BASE_URL = "https://api.intervals.run"
MAX_PAGE_SIZE = 100
# The API defaults to 50; we ask for 100 because fewer requests is the scarce resource.
DEFAULT_PAGE_SIZE = 100

EVENT_TYPES = ("race", "runClub", "timeTrial", "other")
STATUSES = ("active", "paused", "archived")
REGISTRATION_TYPES = ("free", "paid")
REGISTRATION_STATUSES = ("confirmed", "cancelled", "waitlist", "refunded")

# Endpoint -> scope, as in the reference's scope table. Used to name the scope in a 403.
SCOPES = {
    ("GET", "/organization"): "read:series",
    ("GET", "/events"): "read:events",
    ("POST", "/events"): "write:events",
    ("GET", "/registration"): "read:participants",
    ("POST", "/registration"): "write:participants",
    ("GET", "/recurrences"): "read:recurrences",
    ("GET", "/groups"): "read:groups",
}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Request:
    """One HTTP request, described without I/O.

    :param method: ``GET`` or ``POST``.
    :param path: path below the base URL, e.g. ``/events``.
    :param params: query parameters (already validated, ``None`` values dropped).
    :param body: JSON body for POSTs.
    """

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def scope(self) -> str | None:
        """The scope this request needs, used to explain a 403."""
        root = "/" + self.path.strip("/").split("/")[0]
        return SCOPES.get((self.method, root))

    def with_params(self, **params: Any) -> Request:
        """Return a copy with ``params`` merged in (``None`` removes a parameter)."""
        merged = {**self.params, **params}
        return Request(self.method, self.path, {k: v for k, v in merged.items() if v is not None}, self.body)


# --------------------------------------------------------------------------- argument checks


def check_date(argument: str, value: Any) -> str | None:
    """Return ``value`` as ``YYYY-MM-DD`` or raise; ``None`` passes through.

    A ``datetime`` is refused rather than silently truncated: which day it means depends
    on its timezone, so the caller must choose (``{{ ds }}`` in a template).
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise exc.IntervalsArgumentError(
            argument, value, "pass a date, not a datetime (use value.date(), or '{{ ds }}' in a template)"
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise exc.IntervalsArgumentError(argument, value, "expected a real date as YYYY-MM-DD, e.g. '2025-06-14'")


def check_date_range(date_from: Any, date_to: Any) -> tuple[str | None, str | None]:
    """Check both dates and that ``date_from <= date_to`` (both inclusive)."""
    start, end = check_date("date_from", date_from), check_date("date_to", date_to)
    if start and end and start > end:
        raise exc.IntervalsArgumentError(
            "date_to", end, f"must be on or after date_from={start!r} (both ends are inclusive)"
        )
    return start, end


def check_enum(argument: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    """Return ``value`` if it is one of ``allowed`` (case-sensitive, as the API is)."""
    if value is None or value in allowed:
        return value
    raise exc.IntervalsArgumentError(
        argument, value, f"expected one of {', '.join(allowed)} (case-sensitive)"
    )


def check_limit(value: Any, argument: str = "limit") -> int:
    """Return a page size in 1..100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise exc.IntervalsArgumentError(argument, value, f"expected an integer from 1 to {MAX_PAGE_SIZE}")
    return value


def check_id(argument: str, value: Any) -> str:
    """Return an object id or slug safe to put in a path or query."""
    if isinstance(value, str) and _ID_RE.match(value):
        return value
    raise exc.IntervalsArgumentError(
        argument, value, "expected a non-empty id of letters, digits, '-' or '_' (e.g. 'e72tuv901wxy234')"
    )


def check_cursors(after: Any, before: Any) -> tuple[str | None, str | None]:
    """Check the cursors: at most one of them, each an item's ``_id``."""
    if after is not None and before is not None:
        raise exc.IntervalsArgumentError("after", after, "pass either after or before, not both")
    return (
        None if after is None else check_id("after", after),
        None if before is None else check_id("before", before),
    )


# --------------------------------------------------------------------------- body checks

_EVENT_FIELDS: dict[str, Callable[[str, Any], Any]] = {}
_REGISTRATION_FIELDS: dict[str, Callable[[str, Any], Any]] = {}


def _text(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise exc.IntervalsArgumentError(name, value, "expected a non-empty string")
    return value


def _time(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        raise exc.IntervalsArgumentError(name, value, "expected a time as HH:MM or HH:MM:SS, e.g. '08:00'")
    return value


def _number(low: float, high: float) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise exc.IntervalsArgumentError(name, value, f"expected a number from {low} to {high}")
        return value

    return check


def _slug(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        raise exc.IntervalsArgumentError(
            name, value, "expected lowercase letters and digits joined by '-', e.g. 'lakefront-5k-june-14'"
        )
    return value


def _email(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not _EMAIL_RE.match(value):
        # The value is personal data: never echo it back.
        raise exc.IntervalsArgumentError(
            name, "<redacted>", "expected an email address like name@example.com"
        )
    return value


def _address(name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise exc.IntervalsArgumentError(name, value, "expected an object (a JSON mapping)")
    return value


def _enum(allowed: tuple[str, ...]) -> Callable[[str, Any], Any]:
    return lambda name, value: check_enum(name, value, allowed)


_EVENT_FIELDS.update(
    name=_text, slug=_slug, type=_enum(EVENT_TYPES), date=check_date, endDate=check_date,
    startTime=_time, endTime=_time, address=_address, lat=_number(-90, 90), lng=_number(-180, 180),
    description=_text, websiteUrl=_text, registrationUrl=_text,
)  # fmt: skip
_REGISTRATION_FIELDS.update(
    eventRunId=check_id, email=_email, registrationType=_enum(REGISTRATION_TYPES), name=_text,
    status=_enum(REGISTRATION_STATUSES), paceGroup=_text, notes=_text,
)  # fmt: skip
EVENT_REQUIRED = ("name", "slug", "type", "date")
REGISTRATION_REQUIRED = ("eventRunId", "email", "registrationType")


def check_body(
    body: Any, fields: Mapping[str, Callable[[str, Any], Any]], required: tuple[str, ...], what: str
) -> dict[str, Any]:
    """Check a POST body field by field, by the API's rules; unknown fields are refused.

    Unknown fields are refused rather than dropped so that a typo (``startime``) is an
    error the caller sees, not data the API silently ignores.
    """
    if not isinstance(body, Mapping):
        raise exc.IntervalsArgumentError(what, type(body).__name__, "expected a mapping of field -> value")
    for name in required:
        if body.get(name) is None:
            raise exc.IntervalsArgumentError(name, None, f"is required for {what}")
    for name, value in body.items():
        if name not in fields:
            raise exc.IntervalsArgumentError(name, value, f"unknown field; allowed: {', '.join(fields)}")
        if value is not None:
            fields[name](name, value)
    if what == "event" and body.get("endDate") and body["endDate"] < body["date"]:
        raise exc.IntervalsArgumentError("endDate", body["endDate"], "must be on or after date")
    return {k: v for k, v in body.items() if v is not None}


def check_event_body(body: Any) -> dict[str, Any]:
    """Check a ``POST /events`` body (name, slug, type and date required)."""
    return check_body(body, _EVENT_FIELDS, EVENT_REQUIRED, "event")


def check_registration_body(body: Any) -> dict[str, Any]:
    """Check a ``POST /registration`` body (eventRunId, email and registrationType required)."""
    return check_body(body, _REGISTRATION_FIELDS, REGISTRATION_REQUIRED, "registration")


# --------------------------------------------------------------------------- request building


def list_request(
    path: str,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    before: str | None = None,
    **filters: Any,
) -> Request:
    """Build a paginated GET after checking the page size and cursors."""
    after, before = check_cursors(after, before)
    params = {"limit": check_limit(limit), "after": after, "before": before, **filters}
    return Request("GET", path, {k: v for k, v in params.items() if v is not None})


def event_filters(
    event_type: str | None = None, date_from: Any = None, date_to: Any = None
) -> dict[str, Any]:
    """Check the ``GET /events`` filters and return them as query parameters."""
    start, end = check_date_range(date_from, date_to)
    return {"type": check_enum("event_type", event_type, EVENT_TYPES), "dateFrom": start, "dateTo": end}


# --------------------------------------------------------------------------- responses


def _excerpt(body: bytes, size: int = 200) -> str:
    return body[:size].decode("utf-8", errors="replace")


def decode_json(status: int, body: bytes, request_id: str | None = None) -> Any:
    """Parse a JSON body, or raise an error that quotes the status and the body's start."""
    try:
        return json.loads(body)
    except ValueError:
        raise exc.IntervalsMalformedResponseError(
            status,
            None,
            f"expected a JSON body, got {_excerpt(body)!r}",
            request_id=request_id,
            body_excerpt=_excerpt(body),
        ) from None


def parse_retry_after(payload: Any, header: str | None, now: float) -> float | None:
    """Return the moment to retry as epoch seconds, from the body's ``retryAfter`` or ``Retry-After``.

    The API sends ``retryAfter`` in epoch *milliseconds*; a value below 10^11 can only be
    epoch seconds (10^11 ms is 1973), so we accept both. A standard ``Retry-After`` header
    (delta seconds) is honoured too.
    """
    value = payload.get("retryAfter") if isinstance(payload, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return value / 1000.0 if value >= 1e11 else float(value)
    if header:
        try:
            return now + max(0.0, float(header))
        except ValueError:
            return None
    return None


_ERRORS: dict[int, type[exc.IntervalsAPIError]] = {
    400: exc.IntervalsBadRequestError,
    401: exc.IntervalsAuthenticationError,
    403: exc.IntervalsPermissionError,
    404: exc.IntervalsNotFoundError,
    409: exc.IntervalsConflictError,
    422: exc.IntervalsValidationError,
    429: exc.IntervalsRateLimitError,
}


def error_from_response(
    request: Request,
    status: int,
    body: bytes,
    *,
    request_id: str | None = None,
    retry_after_header: str | None = None,
    now: float = 0.0,
) -> exc.IntervalsAPIError:
    """Map an error response to its exception: the one place statuses become types."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        message = f"unexpected body {_excerpt(body)!r}"
    cls = _ERRORS.get(status, exc.IntervalsServerError if status >= 500 else exc.IntervalsAPIError)
    kwargs: dict[str, Any] = {"request_id": request_id, "body_excerpt": _excerpt(body)}
    if cls is exc.IntervalsAuthenticationError:
        message += ". Check the API key in the Airflow connection's password field."
    elif cls is exc.IntervalsPermissionError:
        kwargs["scope"] = request.scope
        message += f". The key needs the scope {request.scope!r} for {request.method} {request.path}."
    elif cls is exc.IntervalsValidationError:
        errors = payload.get("errors") if isinstance(payload, dict) else None
        kwargs["errors"] = errors if isinstance(errors, dict) else {}
        if kwargs["errors"]:
            message += ": " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in kwargs["errors"].items())
    elif cls is exc.IntervalsRateLimitError:
        kwargs["retry_after"] = parse_retry_after(payload, retry_after_header, now)
    return cls(status, code if isinstance(code, str) else None, message, **kwargs)


def envelope_from_response(status: int, body: bytes, request_id: str | None = None) -> dict[str, Any]:
    """Return a success body, checking it is an object with ``data`` as documented."""
    payload = decode_json(status, body, request_id)
    if not isinstance(payload, dict) or "data" not in payload:
        raise exc.IntervalsMalformedResponseError(
            status, None, f"expected an object with 'data', got {_excerpt(body)!r}", request_id=request_id
        )
    return payload


def data_from_response(status: int, body: bytes, request_id: str | None = None) -> Any:
    """Return the ``data`` member of a single-object success body."""
    data = envelope_from_response(status, body, request_id)["data"]
    if not isinstance(data, dict):
        raise exc.IntervalsMalformedResponseError(
            status, None, f"expected 'data' to be an object, got {_excerpt(body)!r}", request_id=request_id
        )
    return data


# --------------------------------------------------------------------------- pagination


@dataclass(frozen=True)
class Page:
    """One page of a listing.

    :param items: the page's items, in API order.
    :param has_more: the API's ``hasMore``, or ``None`` when the API omitted it.
    :param next_request: the request for the following page, or ``None`` at the end.
    """

    items: list[dict[str, Any]]
    has_more: bool | None
    next_request: Request | None

    @property
    def cursor(self) -> str | None:
        """The ``_id`` of the last item: resume after it to continue the listing."""
        return self.items[-1]["_id"] if self.items else None


def parse_page(request: Request, status: int, body: bytes, request_id: str | None = None) -> Page:
    """Turn a list response into a :class:`Page` whose ``next_request`` continues the listing.

    The reference's examples omit ``hasMore``; without it a page shorter than ``limit``
    ends the listing and a full page asks for the next. A cursor equal to the one just
    used means the server is looping: we stop instead of paging forever.
    """
    payload = envelope_from_response(status, body, request_id)
    items = payload["data"]
    if not isinstance(items, list) or not all(isinstance(i, dict) and "_id" in i for i in items):
        raise exc.IntervalsMalformedResponseError(
            status,
            None,
            f"expected a list of objects with '_id', got {_excerpt(body)!r}",
            request_id=request_id,
        )
    has_more = payload.get("hasMore")
    has_more = has_more if isinstance(has_more, bool) else None
    more = has_more if has_more is not None else len(items) >= request.params.get("limit", 50)
    cursor = items[-1]["_id"] if items else None
    if not more or cursor is None or cursor == request.params.get("after"):
        return Page(items, has_more, None)
    return Page(items, has_more, request.with_params(after=cursor, before=None))


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying.

    :param max_retries: retries after the first attempt.
    :param backoff: base of the exponential backoff, in seconds.
    :param backoff_max: cap of one backoff wait, in seconds.
    :param max_rate_limit_wait: longest wait for a 429's ``retryAfter``; beyond it the
        error is raised (a free plan's daily limit is no reason to hold a worker for hours).
    """

    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    max_rate_limit_wait: float = 900.0

    def should_retry(
        self, error: Exception, attempt: int, request: Request, idempotent: bool, now: float
    ) -> bool:
        """Retry transport errors, 429 and 5xx; a POST only when it carries an Idempotency-Key.

        :param attempt: how many retries have been made already.
        :param idempotent: whether a POST carries an ``Idempotency-Key``.
        :param now: the current epoch time, to judge a 429's ``retryAfter``.
        """
        if attempt >= self.max_retries or (request.method != "GET" and not idempotent):
            return False
        if isinstance(error, exc.IntervalsRateLimitError):
            return error.retry_after is None or error.retry_after - now <= self.max_rate_limit_wait
        return isinstance(error, exc.IntervalsTransportError | exc.IntervalsServerError)

    def delay(
        self, error: Exception, attempt: int, now: float, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        Full-jitter exponential backoff, capped; a 429's ``retryAfter`` wins (plus a little
        jitter so concurrent tasks sharing one key do not return in lockstep).
        """
        if isinstance(error, exc.IntervalsRateLimitError) and error.retry_after is not None:
            return max(0.0, error.retry_after - now) + rand() * min(1.0, self.backoff)
        return rand() * min(self.backoff_max, self.backoff * 2**attempt)
