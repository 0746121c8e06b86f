"""The Intervals API without I/O.

What a request and an answer mean lives here, for both hooks: the endpoints and their
scopes, argument checks, request building, response-to-data-or-error mapping and
pagination cursors; what to do with a request (pace, send, retry, wait) is
:mod:`airflow_provider_intervals.transport`. Nothing in this module opens a socket or sleeps, so
every rule is testable on its own and both hooks obey the same rules. Retry timing is
:mod:`airflow_provider_intervals.retries`; connection settings are
:mod:`airflow_provider_intervals.connection`.

The reference is ``docs/intervals-api.md``; comments mark where the API surprises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation as v

# The API defaults to 50; we ask for 100 because fewer requests is the scarce resource.
DEFAULT_PAGE_SIZE = 100

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
#: Endpoints whose bodies carry personal data (the spec's registrations): errors and logs about
#: them quote no byte of a body, only its status, request id and length, whatever the policy.
PERSONAL_ENDPOINTS = frozenset({"/registration"})


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
        return SCOPES.get((self.method, "/" + self.path.strip("/").split("/")[0]))

    @property
    def personal(self) -> bool:
        """Whether the endpoint's bodies carry personal data (then no error quotes them)."""
        return "/" + self.path.strip("/").split("/")[0] in PERSONAL_ENDPOINTS

    def with_params(self, **params: Any) -> Request:
        """Return a copy with ``params`` merged in (``None`` removes a parameter)."""
        merged = {**self.params, **params}
        return Request(self.method, self.path, {k: v for k, v in merged.items() if v is not None}, self.body)


# --------------------------------------------------------------------------- request building
# One builder per endpoint. Each checks its arguments first, so a bad argument fails
# before any request, whichever transport sends it.


def list_request(
    path: str,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    before: str | None = None,
    **filters: Any,
) -> Request:
    """Build a paginated GET after checking the page size and cursors."""
    after, before = v.check_cursors(after, before)
    params = {"limit": v.check_limit(limit), "after": after, "before": before, **filters}
    return Request("GET", path, {k: val for k, val in params.items() if val is not None})


#: The filters of the event listings (``GET /events``, ``GET /groups/{slug}/events``), named as
#: the builders and the hooks' keyword arguments name them.
EVENT_FILTERS = ("event_type", "date_from", "date_to")
#: The filters of ``GET /recurrences``, named as the builder and the hooks name them.
RECURRENCE_FILTERS = ("status",)


def _event_filters(event_type: str | None, date_from: Any, date_to: Any) -> dict[str, Any]:
    start, end = v.check_date_range(date_from, date_to)
    return {"type": v.check_enum("event_type", event_type, v.EVENT_TYPES), "dateFrom": start, "dateTo": end}


def organization_request() -> Request:
    """``GET /organization``: the key's organisation."""
    return Request("GET", "/organization")


def events_request(
    *, event_type: str | None = None, date_from: Any = None, date_to: Any = None, **paging: Any
) -> Request:
    """``GET /events`` with its filters; ``paging`` is ``limit``, ``after``, ``before``."""
    return list_request("/events", **paging, **_event_filters(event_type, date_from, date_to))


def event_request(event_id: str) -> Request:
    """``GET /events/{id}``."""
    return Request("GET", f"/events/{v.check_id('event_id', event_id)}")


def create_event_request(event: Any) -> Request:
    """``POST /events`` with a checked body."""
    return Request("POST", "/events", body=v.check_event_body(event))


def registrations_request(event_id: str, **paging: Any) -> Request:
    """``GET /registration?eventId=``: an event's registrations (personal data)."""
    return list_request("/registration", **paging, eventId=v.check_id("event_id", event_id))


def register_participant_request(registration: Any) -> Request:
    """``POST /registration`` with a checked body."""
    return Request("POST", "/registration", body=v.check_registration_body(registration))


def recurrences_request(*, status: str | None = None, **paging: Any) -> Request:
    """``GET /recurrences``, optionally filtered by status."""
    return list_request("/recurrences", **paging, status=v.check_enum("status", status, v.STATUSES))


def groups_request(**paging: Any) -> Request:
    """``GET /groups``."""
    return list_request("/groups", **paging)


def group_request(slug: str) -> Request:
    """``GET /groups/{slug}``."""
    return Request("GET", f"/groups/{v.check_id('slug', slug)}")


def group_events_request(
    slug: str, *, event_type: str | None = None, date_from: Any = None, date_to: Any = None, **paging: Any
) -> Request:
    """``GET /groups/{slug}/events`` with the ``GET /events`` filters."""
    path = f"/groups/{v.check_id('slug', slug)}/events"
    return list_request(path, **paging, **_event_filters(event_type, date_from, date_to))


# --------------------------------------------------------------------------- responses


def _excerpt(body: bytes, personal: bool = False, size: int = 200) -> str | None:
    """Return the body's first bytes as text, or ``None`` for personal data (never quoted)."""
    return None if personal else body[:size].decode("utf-8", errors="replace")


def _quote(body: bytes, personal: bool = False) -> str:
    """Return how a message shows a body: its start, or only its length for personal data."""
    text = _excerpt(body, personal)
    return repr(text) if text is not None else f"a body of {len(body)} bytes (not quoted: personal data)"


def decode_json(status: int, body: bytes, request_id: str | None = None, personal: bool = False) -> Any:
    """Parse a JSON body, or raise quoting the status and the body's start (``personal``: its length)."""
    try:
        return json.loads(body)
    except ValueError:
        raise _malformed(status, "a JSON body", body, request_id, personal) from None


def _field(payload: Any, name: str) -> Any:
    """Return ``error.<name>`` as the reference nests it, else a top-level ``<name>``, else ``None``.

    The reference puts every detail of an error inside ``error``; reading the top level too
    keeps the client working if an edition of the API moves a field (the spec's tolerant
    reading decision).
    """
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict) and error.get(name) is not None:
        return error[name]
    return payload.get(name)


def parse_retry_after(payload: Any, header: str | None, now: float) -> float | None:
    """Return the moment to retry as epoch seconds, from ``error.retryAfter`` or ``Retry-After``.

    The API sends ``retryAfter`` in epoch *milliseconds*; a value below 10^11 can only be
    epoch seconds (10^11 ms is 1973), so we accept both. A standard ``Retry-After`` header
    (delta seconds) is honoured too.
    """
    value = _field(payload, "retryAfter")
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
        message = f"unexpected body {_quote(body, request.personal)}"
    cls = _ERRORS.get(status, exc.IntervalsServerError if status >= 500 else exc.IntervalsAPIError)
    kwargs: dict[str, Any] = {"request_id": request_id, "body_excerpt": _excerpt(body, request.personal)}
    if cls is exc.IntervalsAuthenticationError:
        message += ". Check the API key in the Airflow connection's password field."
    elif cls is exc.IntervalsPermissionError:
        kwargs["scope"] = request.scope
        message += f". The key needs the scope {request.scope!r} for {request.method} {request.path}."
    elif cls is exc.IntervalsValidationError:
        errors = _field(payload, "errors")
        kwargs["errors"] = errors if isinstance(errors, dict) else {}
        if kwargs["errors"]:
            message += ": " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in kwargs["errors"].items())
    elif cls is exc.IntervalsRateLimitError:
        kwargs["retry_after"] = parse_retry_after(payload, retry_after_header, now)
    return cls(status, code if isinstance(code, str) else None, message, **kwargs)


def raise_for_status(request: Request, status: int, headers: Any, body: bytes, now: float) -> None:
    """Raise the typed error for an error status (``headers``: any mapping with ``get``)."""
    if status >= 400:
        raise error_from_response(
            request,
            status,
            body,
            request_id=headers.get("X-Request-Id"),
            retry_after_header=headers.get("Retry-After"),
            now=now,
        )


def transport_error(request: Request, error: Exception, timeout: float | None) -> exc.IntervalsTransportError:
    """Describe a request that got no complete answer; ``timeout`` is set when it timed out."""
    if timeout is not None:
        return exc.IntervalsTimeoutError(f"{request.method} {request.path} timed out after {timeout}s")
    return exc.IntervalsTransportError(
        f"{request.method} {request.path} failed: {type(error).__name__}: {error}"
    )


def _malformed(
    status: int, expected: str, body: bytes, request_id: str | None, personal: bool
) -> exc.IntervalsMalformedResponseError:
    message, excerpt = f"expected {expected}, got {_quote(body, personal)}", _excerpt(body, personal)
    return exc.IntervalsMalformedResponseError(
        status, None, message, request_id=request_id, body_excerpt=excerpt
    )


def envelope_from_response(
    status: int, body: bytes, request_id: str | None = None, personal: bool = False
) -> Any:
    """Return a success body, an object with ``data`` (``personal``: errors give the body's length)."""
    payload = decode_json(status, body, request_id, personal)
    if not isinstance(payload, dict) or "data" not in payload:
        raise _malformed(status, "an object with 'data'", body, request_id, personal)
    return payload


def data_from_response(
    status: int, body: bytes, request_id: str | None = None, personal: bool = False
) -> Any:
    """Return the ``data`` member of a single-object success body (``personal``: as above)."""
    data = envelope_from_response(status, body, request_id, personal)["data"]
    if not isinstance(data, dict):
        raise _malformed(status, "'data' to be an object", body, request_id, personal)
    return data


def created_id(
    data: dict[str, Any], key: str, status: int = 201, body: bytes | None = None, personal: bool = False
) -> str:
    """Return the new object's id from a 201 body's ``data`` (``eventId`` or ``participantId``).

    :param status: the response's status and ``body`` its body, quoted if the id is missing
        (only its length if ``personal``).
    """
    value = data.get(key)
    if not isinstance(value, str) or not value:
        got = body if body is not None else repr(data).encode()
        raise _malformed(status, f"data.{key} in the response", got, None, personal)
    return value


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


class Listing(Iterator[Page]):
    """A listing's pages, fetched as they are asked for; ``request`` is the first page's request.

    The request names what the listing is (path and filters), e.g. for lineage, without
    sending anything. Closing the listing stops it.
    """

    def __init__(self, request: Request, pages: Iterator[Page]) -> None:
        self.request = request
        self._pages = pages

    def __next__(self) -> Page:
        return next(self._pages)

    def close(self) -> None:
        """Stop the listing (no further request is sent)."""
        close = getattr(self._pages, "close", None)
        if close is not None:
            close()


def pages_for(count: int, limit: int, has_more: bool = True) -> int:
    """Return the requests one listing of ``count`` items takes at page size ``limit``.

    With ``hasMore`` the page holding the last item ends the listing (an empty listing
    still costs one request); without it (the reference's examples) a full page always
    asks for the next, so a count that fills its last page costs one request more.
    """
    if has_more:
        return max(1, -(-count // limit))
    return count // limit + 1


def parse_page(request: Request, status: int, body: bytes, request_id: str | None = None) -> Page:
    """Turn a list response into a :class:`Page` whose ``next_request`` continues the listing.

    The reference's examples omit ``hasMore``; without it a page shorter than ``limit``
    ends the listing and a full page asks for the next. A cursor equal to the one just
    used means the server is looping: we stop instead of paging forever.
    """
    payload = envelope_from_response(status, body, request_id, request.personal)
    items = payload["data"]
    if not isinstance(items, list) or not all(isinstance(i, dict) and "_id" in i for i in items):
        raise _malformed(status, "a list of objects with '_id'", body, request_id, request.personal)
    has_more = payload.get("hasMore")
    has_more = has_more if isinstance(has_more, bool) else None
    more = has_more if has_more is not None else len(items) >= request.params.get("limit", 50)
    cursor = items[-1]["_id"] if items else None
    if not more or cursor is None or cursor == request.params.get("after"):
        return Page(items, has_more, None)
    return Page(items, has_more, request.with_params(after=cursor, before=None))
