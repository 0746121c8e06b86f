"""Query and body validation, as the project's API page decides it.

Every problem is collected into an ``errors`` map (field name -> list of messages) so one
422 reports all of them. Dates are exactly ``YYYY-MM-DD`` and must exist; enums are
case-sensitive; ``limit`` is an integer in 1..100 (default 50).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from airflow_provider_intervals.sandbox.tables import (
    EVENT_TYPES,
    REGISTRATION_STATUSES,
    REGISTRATION_TYPES,
)

Errors = dict[str, list[str]]
Query = dict[str, list[str]]

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://\S+")


def _first(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def parse_date(value: Any) -> dt.date | None:
    """Return the date in ``value`` if it is exactly ``YYYY-MM-DD`` and real, else ``None``."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def parse_page(query: Query, errors: Errors) -> tuple[int, str | None, str | None]:
    """Validate ``limit``, ``after`` and ``before``; return them (cursors not yet resolved)."""
    limit = DEFAULT_LIMIT
    raw = _first(query, "limit")
    if raw is not None:
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT:
            limit = int(raw)
        else:
            errors["limit"] = [f"limit must be an integer between 1 and {MAX_LIMIT}"]
    after, before = _first(query, "after"), _first(query, "before")
    if after is not None and before is not None:
        msg = "Use only one of after and before"
        errors["after"] = [msg]
        errors["before"] = [msg]
    return limit, after, before


def parse_enum(query: Query, name: str, allowed: tuple[str, ...], errors: Errors) -> str | None:
    """Validate an optional, case-sensitive enum parameter."""
    value = _first(query, name)
    if value is not None and value not in allowed:
        errors[name] = [f"{name} must be one of: {', '.join(allowed)}"]
        return None
    return value


def parse_event_filters(query: Query, errors: Errors) -> tuple[str | None, int | None, int | None]:
    """Validate ``type``, ``dateFrom`` and ``dateTo``; return the type and the date ordinals.

    ``dateFrom`` after ``dateTo`` is an error reported on ``dateTo`` (an empty window is
    more likely a client bug than a question).
    """
    event_type = parse_enum(query, "type", EVENT_TYPES, errors)
    bounds: list[int | None] = []
    for name in ("dateFrom", "dateTo"):
        raw = _first(query, name)
        day = None if raw is None else parse_date(raw)
        if raw is not None and day is None:
            errors[name] = [f"{name} must be a date in YYYY-MM-DD format"]
        bounds.append(None if day is None else day.toordinal())
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        errors["dateTo"] = ["dateTo must not be before dateFrom"]
    return event_type, lo, hi


def _string(body: dict[str, Any], name: str, errors: Errors, required: bool, max_len: int = 500) -> None:
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = [f"{name} is required"]
    elif not isinstance(value, str) or not value.strip():
        errors[name] = [f"{name} must be a non-empty string"]
    elif len(value) > max_len:
        errors[name] = [f"{name} must be at most {max_len} characters"]


def validate_event(body: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """Validate a ``POST /events`` body; return the clean fields and the errors."""
    errors: Errors = {}
    _string(body, "name", errors, True, 200)
    _string(body, "slug", errors, True, 200)
    if "slug" not in errors and not _SLUG.fullmatch(body["slug"]):
        errors["slug"] = ["slug must be lowercase letters, digits and single hyphens"]
    if body.get("type") is None:
        errors["type"] = ["type is required"]
    elif body["type"] not in EVENT_TYPES:
        errors["type"] = [f"type must be one of: {', '.join(EVENT_TYPES)}"]
    for name in ("date", "endDate"):
        if body.get(name) is None:
            if name == "date":
                errors[name] = ["date is required"]
        elif parse_date(body[name]) is None:
            errors[name] = [f"{name} must be a date in YYYY-MM-DD format"]
    end = body.get("endDate")
    if not errors.keys() & {"date", "endDate"} and end is not None and end < body["date"]:
        errors["endDate"] = ["endDate must not be before date"]
    for name in ("startTime", "endTime"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and _TIME.fullmatch(value)):
            errors[name] = [f"{name} must be a time in HH:MM or HH:MM:SS format"]
    if body.get("address") is not None and not isinstance(body["address"], dict):
        errors["address"] = ["address must be an object"]
    for name, bound in (("lat", 90), ("lng", 180)):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound
        ):
            errors[name] = [f"{name} must be a number between -{bound} and {bound}"]
    _string(body, "description", errors, False, 5000)
    for name in ("websiteUrl", "registrationUrl"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and _URL.fullmatch(value)):
            errors[name] = [f"{name} must be an http(s) URL"]
    fields = {k: v for k, v in body.items() if v is not None}
    for name in ("startTime", "endTime"):  # responses show times as HH:MM
        if isinstance(fields.get(name), str):
            fields[name] = fields[name][:5]
    return fields, errors


def validate_registration(body: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    """Validate a ``POST /registration`` body; return the clean fields and the errors."""
    errors: Errors = {}
    _string(body, "eventRunId", errors, True, 100)
    _string(body, "email", errors, True, 320)
    if "email" not in errors and not _EMAIL.fullmatch(body["email"]):
        errors["email"] = ["email must be a valid email address"]
    if body.get("registrationType") is None:
        errors["registrationType"] = ["registrationType is required"]
    elif body["registrationType"] not in REGISTRATION_TYPES:
        errors["registrationType"] = [f"registrationType must be one of: {', '.join(REGISTRATION_TYPES)}"]
    status = body.get("status")
    if status is not None and status not in REGISTRATION_STATUSES:
        errors["status"] = [f"status must be one of: {', '.join(REGISTRATION_STATUSES)}"]
    for name in ("name", "paceGroup", "notes"):
        _string(body, name, errors, False, 1000)
    return {k: v for k, v in body.items() if v is not None}, errors
