"""The provider's error tree.

Every failure a caller can act on has its own type; callers branch on types, never on
message text. API errors are mapped from responses in exactly one place,
:func:`airflow_provider_intervals.api.error_from_response`.

::

    IntervalsError (AirflowException)
    +-- IntervalsArgumentError (also ValueError)   bad argument, raised before any request
    |   +-- IntervalsInvalidRowsError               a bulk file has rows the API would refuse
    +-- IntervalsConfigurationError                 connection missing/malformed (no API key, bad extra)
    +-- IntervalsEmptyWindowError                   a landing found nothing and allow_empty=False
    +-- IntervalsStorageError                       destination refuses writes; output unlike its manifest
    +-- IntervalsRowsFailedError                    a bulk load finished but the API refused some rows
    +-- IntervalsTransportError                     network failure, timeout, truncated body (retried)
    |   +-- IntervalsTimeoutError
    +-- IntervalsAPIError                           the API answered with an error status
        +-- IntervalsBadRequestError        400  BAD_REQUEST
        +-- IntervalsAuthenticationError    401  UNAUTHORIZED      check the connection's API key
        +-- IntervalsPermissionError        403  FORBIDDEN         names the missing scope
        +-- IntervalsNotFoundError          404  NOT_FOUND
        +-- IntervalsConflictError          409  CONFLICT          idempotency key reuse, duplicate slug
        +-- IntervalsValidationError        422  VALIDATION_ERROR  carries the ``errors`` field map
        +-- IntervalsRateLimitError         429  RATE_LIMITED      carries ``retry_after`` (epoch seconds)
        +-- IntervalsServerError            5xx                    retried with backoff
        +-- IntervalsMalformedResponseError any status, body not the documented JSON shape

Messages never contain the API key or request headers.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException


class IntervalsError(AirflowException):
    """Base class of every error raised by this provider.

    :param message: human-readable description.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class IntervalsArgumentError(IntervalsError, ValueError):
    """A caller-supplied argument is invalid; raised before any request is made.

    :param argument: the argument's name as the caller wrote it.
    :param value: the rejected value (never a secret).
    :param expected: what is allowed, phrased as the fix.
    """

    def __init__(self, argument: str, value: Any, expected: str) -> None:
        self.argument = argument
        self.value = value
        self.expected = expected
        super().__init__(f"Invalid {argument}={value!r}: {expected}")


class IntervalsConfigurationError(IntervalsError):
    """The Airflow connection is missing or malformed (no API key, bad extra, bad host)."""


class IntervalsStorageError(IntervalsError):
    """The destination refuses writes, landed output is not what its manifest says, or a landing stopped.

    A refusal (a file where a directory must be, no permission, a read-only file system) names
    the path and the fix, and is raised ``from`` the file system's own error.
    """


class IntervalsTransportError(IntervalsError):
    """The request did not get a complete HTTP answer (connection refused/reset, truncated body)."""


class IntervalsTimeoutError(IntervalsTransportError):
    """The request timed out."""


class IntervalsAPIError(IntervalsError):
    """The API answered with an error status.

    :param status: HTTP status code.
    :param code: the API's error code (``error.code``), or ``None`` if the body had none.
    :param message: the API's message, completed with what the caller should do.
    :param request_id: the server's request id header, when sent.
    :param body_excerpt: the first bytes of the body, for malformed answers.
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api_message = message
        self.request_id = request_id
        self.body_excerpt = body_excerpt
        text = f"Intervals API {status}"
        if code:
            text += f" {code}"
        text += f": {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class IntervalsBadRequestError(IntervalsAPIError):
    """400: the request was malformed."""


class IntervalsAuthenticationError(IntervalsAPIError):
    """401: the API key is missing, malformed or unknown. Check the connection's password field."""


class IntervalsPermissionError(IntervalsAPIError):
    """403: the key lacks the scope the endpoint needs.

    :param scope: the scope the endpoint needs, when known.
    """

    def __init__(self, *args: Any, scope: str | None = None, **kwargs: Any) -> None:
        self.scope = scope
        super().__init__(*args, **kwargs)


class IntervalsNotFoundError(IntervalsAPIError):
    """404: the object (event, event run, group) does not exist."""


class IntervalsConflictError(IntervalsAPIError):
    """409: an idempotency key was reused with a different body, or a slug already exists."""


class IntervalsValidationError(IntervalsAPIError):
    """422: the API rejected a parameter or body field.

    :param errors: field name -> list of messages, as the API sent them.
    """

    def __init__(self, *args: Any, errors: dict[str, list[str]] | None = None, **kwargs: Any) -> None:
        self.errors = errors or {}
        super().__init__(*args, **kwargs)


class IntervalsRateLimitError(IntervalsAPIError):
    """429: over the plan's rate limit.

    :param retry_after: the moment one may retry, as Unix epoch seconds, or ``None``.
    """

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class IntervalsServerError(IntervalsAPIError):
    """5xx: the server failed; retried with backoff."""


class IntervalsMalformedResponseError(IntervalsAPIError):
    """The body is not the documented JSON shape (not JSON, missing ``data``, items without ``_id``)."""


class IntervalsEmptyWindowError(IntervalsError):
    """A landing window had no items and the operator was told not to publish an empty one."""


class IntervalsInvalidRowsError(IntervalsArgumentError):
    """A bulk file has rows the API would refuse; raised before any request.

    :param input_path: the file.
    :param problems: the first problems, each naming line and field (their ``str``).
    :param bad_rows: how many rows have problems.
    :param rows: how many rows the file has.
    """

    def __init__(self, input_path: str, problems: list[Any], bad_rows: int, rows: int) -> None:
        self.problems = problems
        self.bad_rows = bad_rows
        self.rows = rows
        listed = "\n".join(f"  {p}" for p in problems)
        more = "\n  ... and more: the task log lists every one" if bad_rows > len(problems) else ""
        expected = (
            f"{bad_rows} of {rows} rows break the API's rules, so nothing was sent. Fix them, or pass "
            f"skip_invalid=True to send the others and write these to a rejects file:\n{listed}{more}"
        )
        super().__init__("input_path", input_path, expected)


class IntervalsRowsFailedError(IntervalsError):
    """A bulk load went through every row, but the API refused some; see the results file.

    :param results_path: the results file, where every failed row has its error.
    :param failures: the first failures, as ``line N (key): error`` lines.
    :param counts: the load's counts (``created``, ``existing``, ``failed``, ...).
    """

    def __init__(self, results_path: str, failures: list[str], counts: dict[str, int]) -> None:
        self.results_path = results_path
        self.failures = failures
        self.counts = counts
        listed = "\n".join(f"  {f}" for f in failures)
        more = "\n  ..." if counts.get("failed", 0) > len(failures) else ""
        super().__init__(
            f"{counts.get('failed', 0)} row(s) were refused by the API ({counts.get('created', 0)} created, "
            f"{counts.get('existing', 0)} already there). Every row's outcome is in {results_path}. "
            f"Fix the rows and rerun (created rows are skipped), or pass fail_on_row_errors=False:"
            f"\n{listed}{more}"
        )


def error_to_dict(error: IntervalsError) -> dict[str, Any]:
    """Describe an error in primitives, for a trigger event (no secrets: messages never hold the key)."""
    payload: dict[str, Any] = {"error_type": type(error).__name__, "message": error.message}
    if isinstance(error, IntervalsAPIError):
        payload.update(status_code=error.status, code=error.code, api_message=error.api_message)
    if isinstance(error, IntervalsRateLimitError):
        payload["retry_after"] = error.retry_after
    return payload


def error_from_dict(payload: dict[str, Any]) -> IntervalsError:
    """Rebuild the typed error described by :func:`error_to_dict`."""
    cls = globals().get(str(payload.get("error_type")))
    message = str(payload.get("message", "unknown error"))
    if isinstance(cls, type) and issubclass(cls, IntervalsAPIError):
        limited = issubclass(cls, IntervalsRateLimitError)
        extra = {"retry_after": payload.get("retry_after")} if limited else {}
        error: IntervalsError = cls(
            int(payload.get("status_code") or 0), payload.get("code"), payload["api_message"], **extra
        )
        error.message = message
        return error
    if isinstance(cls, type) and issubclass(cls, IntervalsError) and cls is not IntervalsArgumentError:
        return cls(message)
    return IntervalsError(message)
