"""The kinds of rows the write operators send, and how an API error is tied to a row's field.

:class:`Kind` says how to check, parse and name one kind (:data:`EVENT`, :data:`REGISTRATION`);
the functions below use it to name the field an API error is about.

The bulk operators' own errors live in the provider's tree
(:class:`~airflow_provider_intervals.exceptions.IntervalsInvalidRowsError`: a bulk file has
rows that break the API's rules, no request sent;
:class:`~airflow_provider_intervals.exceptions.IntervalsRowsFailedError`: a bulk load
finished, but the API refused some rows).

An API error on one row (409, 422, 404, 400) keeps its own type
(:class:`~airflow_provider_intervals.exceptions.IntervalsConflictError`, ...); the single-row
operators raise it with the row and field added to its message and as ``.field``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS


@dataclass(frozen=True)
class Kind:
    """What a bulk file's rows are: how to check, parse and name them.

    :param name: ``event`` or ``registration`` (used in messages).
    :param check: the body check from :mod:`~airflow_provider_intervals.validation`.
    :param numbers: fields a CSV cell gives as a number.
    :param objects: fields a CSV cell gives as JSON.
    :param personal: fields whose values are personal data: never quoted in messages.
    :param quotable: when set, the only fields whose values messages may quote (so that an
        unknown column of a personal export, say ``phone``, is never quoted either).
    :param key_field: the field that names a row in results and messages (not personal).
    :param unique_field: a field that must be unique across the file (events: ``slug``).
    :param hook_method: the :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`
        method that creates one.
    :param path: the endpoint that creates one (``POST``), e.g. for lineage.
    :param fields: the body's documented fields.
    :param placeholders: a valid stand-in for each required field, so that the checks can
        go on past a bad required field to report the row's other problems.
    :param status_fields: HTTP status -> the field a row error of that status is about.
        With derived keys a 409 cannot be a key reused with another body (the key covers
        the body), so for events it is the slug; for registrations only an explicit
        ``idempotency_key`` can collide.
    """

    name: str
    check: Callable[[Any], dict[str, Any]]
    numbers: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()
    personal: frozenset[str] = frozenset()
    key_field: str = ""
    unique_field: str | None = None
    hook_method: str = ""
    path: str = ""
    fields: tuple[str, ...] = ()
    placeholders: dict[str, Any] = field(default_factory=dict)
    quotable: frozenset[str] | None = None
    status_fields: dict[int, str] = field(default_factory=dict)

    def may_quote(self, name: str) -> bool:
        """Return whether a message may show the value of field ``name`` (never personal data)."""
        return name not in self.personal and (self.quotable is None or name in self.quotable)


#: Events: ``POST /events``, one row per event, named by its ``slug``.
EVENT = Kind(
    "event",
    validation.check_event_body,
    numbers=frozenset({"lat", "lng"}),
    objects=frozenset({"address"}),
    key_field="slug",
    unique_field="slug",
    hook_method="create_event",
    path="/events",
    fields=validation.EVENT_FIELDS,
    status_fields={409: "slug"},
    placeholders={"name": "x", "slug": "x", "type": "race", "date": "0001-01-01"},
)
#: Registrations: ``POST /registration``, personal data never quoted in messages.
REGISTRATION = Kind(
    "registration",
    validation.check_registration_body,
    personal=PERSONAL_FIELDS["registrations"],
    key_field="eventRunId",
    hook_method="register_participant",
    path="/registration",
    fields=validation.REGISTRATION_FIELDS,
    placeholders={"eventRunId": "x", "email": "x@example.com", "registrationType": "free"},
    quotable=frozenset({"eventRunId", "registrationType", "status", "paceGroup"}),
    status_fields={404: "eventRunId", 409: "idempotency_key"},
)


# API errors that concern one row: recorded per row by the bulk operators. Anything else
# (401, 403, transport failures and 5xx beyond the retries, 429 beyond the longest wait)
# concerns every row and stops the load; a retry resumes it.
ROW_ERRORS = (
    exc.IntervalsBadRequestError,
    exc.IntervalsNotFoundError,
    exc.IntervalsConflictError,
    exc.IntervalsValidationError,
)
# How many rows an exception message lists; the log and the results file have them all.
SHOWN = 50

_FIXES = {
    409: "the {field} is already taken (choose another), or this key was sent before with another body",
    422: "correct the field(s) named by the API",
    404: "the {field} does not exist: check it against the event's runs",
    400: "the API could not read the request",
}


def error_field(kind: Kind, error: exc.IntervalsAPIError) -> str | None:
    """Return the field an API error is about: the 422 field map, else by status, else ``None``."""
    if isinstance(error, exc.IntervalsValidationError) and error.errors:
        return ",".join(error.errors)
    return kind.status_fields.get(error.status)


def error_record(kind: Kind, error: exc.IntervalsAPIError) -> dict[str, Any]:
    """Return a row's error for the results file: type, status, code, field, message (no body)."""
    return {
        "type": type(error).__name__,
        "status": error.status,
        "code": error.code,
        "field": error_field(kind, error),
        "message": error.api_message,
    }


def describe(kind: Kind, where: str, error: exc.IntervalsAPIError) -> str:
    """Return ``where``: status, code, field, the API's message and the fix, on one line."""
    field = error_field(kind, error)
    fix = _FIXES.get(error.status, "").format(field=field or "field")
    about = f" (field {field})" if field else ""
    return f"{where}: {error.status} {error.code or ''}{about}: {error.api_message}; {fix}".replace("  ", " ")


def annotate(kind: Kind, where: str, error: exc.IntervalsAPIError) -> exc.IntervalsAPIError:
    """Put the row and field into an API error's message (same type, same facts); return it."""
    error.field = error_field(kind, error)
    error.message = describe(kind, where, error)
    error.args = (error.message,)
    return error
