"""Errors of the write operators, and how an API error is tied to its row and field.

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

from typing import Any

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.writes.rows import Kind

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
    return {"type": type(error).__name__, "status": error.status, "code": error.code,
            "field": error_field(kind, error), "message": error.api_message}  # fmt: skip


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
