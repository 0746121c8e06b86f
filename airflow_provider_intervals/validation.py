"""Argument and body checks, run before any request.

Each check returns the value in the form the API wants or raises
:class:`~airflow_provider_intervals.exceptions.IntervalsArgumentError` naming the
argument, the value and the fix. The rules are the API's (``docs/intervals-api.md``):
dates exactly ``YYYY-MM-DD``, case-sensitive enums, ``limit`` 1-100, one cursor at most.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_intervals import exceptions as exc

MAX_PAGE_SIZE = 100

EVENT_TYPES = ("race", "runClub", "timeTrial", "other")
STATUSES = ("active", "paused", "archived")
REGISTRATION_TYPES = ("free", "paid")
REGISTRATION_STATUSES = ("confirmed", "cancelled", "waitlist", "refunded")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


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


def check_whole(argument: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` (an int, or its rendered template text) if it is a whole number in ``low..high``."""
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
        raise exc.IntervalsArgumentError(argument, value, f"expected a whole number from {low} to {high}")
    return number


def check_flag(argument: str, value: Any) -> bool:
    """Return a boolean given as ``True``/``False`` or its text (``true``, ``False``, ...)."""
    if value in (True, False):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise exc.IntervalsArgumentError(argument, value, "expected True or False")


def check_rate(argument: str, value: Any) -> float | None:
    """Return a rate per minute (a number, or its rendered text) in ``0 < r <= 1e6``; ``None`` for none."""
    if value in (None, ""):
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if not 0 < rate <= 1_000_000:  # also refuses nan
        raise exc.IntervalsArgumentError(argument, value, "expected a positive number, e.g. 900")
    return rate


def check_seconds(argument: str, value: Any, high: float) -> float:
    """Return a duration in seconds (a number, or its rendered text) from 0 to ``high``."""
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= high:  # also refuses nan
        raise exc.IntervalsArgumentError(argument, value, f"expected seconds from 0 to {high:g}, e.g. 300")
    return seconds


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
    name=_text,
    slug=_slug,
    type=_enum(EVENT_TYPES),
    date=check_date,
    endDate=check_date,
    startTime=_time,
    endTime=_time,
    address=_address,
    lat=_number(-90, 90),
    lng=_number(-180, 180),
    description=_text,
    websiteUrl=_text,
    registrationUrl=_text,
)
_REGISTRATION_FIELDS.update(
    eventRunId=check_id,
    email=_email,
    registrationType=_enum(REGISTRATION_TYPES),
    name=_text,
    status=_enum(REGISTRATION_STATUSES),
    paceGroup=_text,
    notes=_text,
)
# The documented body fields, in the reference's order (e.g. for a lineage schema).
EVENT_FIELDS = tuple(_EVENT_FIELDS)
REGISTRATION_FIELDS = tuple(_REGISTRATION_FIELDS)
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
            raise exc.IntervalsArgumentError(name, None, f"must be given: {what} needs {', '.join(required)}")
    for name, value in body.items():
        if name not in fields:
            raise exc.IntervalsArgumentError(
                name, value, f"unknown field (a typo?); expected one of {', '.join(fields)}"
            )
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
