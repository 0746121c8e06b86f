"""The pure API layer: error mapping, cursors. No I/O, so no server needed.

These cover what the sandbox cannot be made to send (a repeated cursor, a non-JSON 200).
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_intervals import api
from airflow_provider_intervals import exceptions as exc

EVENTS = api.Request("GET", "/events", {"limit": 3})


def _body(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BAD_REQUEST", exc.IntervalsBadRequestError),
        (401, "UNAUTHORIZED", exc.IntervalsAuthenticationError),
        (403, "FORBIDDEN", exc.IntervalsPermissionError),
        (404, "NOT_FOUND", exc.IntervalsNotFoundError),
        (409, "CONFLICT", exc.IntervalsConflictError),
        (422, "VALIDATION_ERROR", exc.IntervalsValidationError),
        (429, "RATE_LIMITED", exc.IntervalsRateLimitError),
        (500, "INTERNAL_ERROR", exc.IntervalsServerError),
        (503, "SERVICE_UNAVAILABLE", exc.IntervalsServerError),
        (418, "TEAPOT", exc.IntervalsAPIError),
    ],
)
def test_each_status_maps_to_its_exception(status, code, cls):
    err = api.error_from_response(EVENTS, status, _body({"error": {"code": code, "message": "Nope"}}))
    assert type(err) is cls
    assert (err.status, err.code, err.api_message.startswith("Nope")) == (status, code, True)
    assert str(status) in str(err)


def test_403_names_the_scope_and_401_the_key():
    forbidden = api.error_from_response(EVENTS, 403, _body({"error": {"code": "FORBIDDEN", "message": "No"}}))
    assert forbidden.scope == "read:events"
    assert "read:events" in str(forbidden)
    groups = api.Request("GET", "/groups/runners/events")
    assert api.error_from_response(groups, 403, b"{}").scope == "read:groups"
    unauthorized = api.error_from_response(
        EVENTS, 401, _body({"error": {"code": "UNAUTHORIZED", "message": "x"}})
    )
    assert "API key" in str(unauthorized)


FIELD_ERRORS = {"eventRunId": ["Required"], "email": ["Required"]}


@pytest.mark.parametrize(
    "body",
    [
        # The reference's own example: everything about the error inside ``error``.
        {"error": {"code": "VALIDATION_ERROR", "message": "Invalid request body", "errors": FIELD_ERRORS}},
        # Tolerated: an edition that moves the map to the top level.
        {"error": {"code": "VALIDATION_ERROR", "message": "Invalid request body"}, "errors": FIELD_ERRORS},
    ],
    ids=["nested", "top-level"],
)
def test_422_carries_field_errors(body):
    err = api.error_from_response(EVENTS, 422, _body(body))
    assert err.errors == FIELD_ERRORS
    assert (
        str(err)
        == "Intervals API 422 VALIDATION_ERROR: Invalid request body: eventRunId: Required; email: Required"
    )


@pytest.mark.parametrize(
    "body",
    [{"error": {"code": "VALIDATION_ERROR", "message": "Invalid"}}, {"error": "bad"}, {}, []],
    ids=["no-errors", "error-not-object", "empty-object", "not-object"],
)
def test_422_without_a_field_map_still_maps(body):
    err = api.error_from_response(EVENTS, 422, _body(body))
    assert type(err) is exc.IntervalsValidationError
    assert err.errors == {}


@pytest.mark.parametrize(
    ("retry_after", "header", "expected"),
    [
        (1709234567890, None, 1709234567.89),  # documented: epoch milliseconds
        (1709234567, None, 1709234567.0),  # below 10^11: epoch seconds (Decision)
        (None, "30", 1000030.0),  # standard Retry-After delta seconds
        (None, None, None),
    ],
    ids=["ms", "s", "header", "none"],
)
@pytest.mark.parametrize("where", ["nested", "top-level"])
def test_retry_after_units(retry_after, header, expected, where):
    body = {"error": {"code": "RATE_LIMITED", "message": "Slow down"}}
    if retry_after is not None:
        (body["error"] if where == "nested" else body)["retryAfter"] = retry_after
    err = api.error_from_response(EVENTS, 429, _body(body), retry_after_header=header, now=1_000_000.0)
    assert err.retry_after == pytest.approx(expected) if expected else err.retry_after is None


def test_nested_retry_after_wins_over_a_top_level_one():
    body = {"error": {"code": "RATE_LIMITED", "message": "x", "retryAfter": 1709234567890}, "retryAfter": 5}
    assert api.error_from_response(EVENTS, 429, _body(body)).retry_after == pytest.approx(1709234567.89)


def test_error_body_not_json_quotes_status_and_body():
    err = api.error_from_response(EVENTS, 502, b"<html>Bad gateway</html>")
    assert isinstance(err, exc.IntervalsServerError)
    assert "502" in str(err)
    assert "<html>Bad gateway" in str(err)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b'{"items": []}',
        b'{"data": [{"name": "no id"}]}',
        b'{"data": {"_id": "x"}}',
        b"",
    ],
    ids=["not-json", "no-data", "item-without-id", "data-not-list", "empty"],
)
def test_malformed_list_bodies_are_clear_errors(body):
    with pytest.raises(exc.IntervalsMalformedResponseError) as err:
        api.parse_page(EVENTS, 200, body)
    assert "200" in str(err.value)
    assert not isinstance(err.value, KeyError)


def test_page_with_has_more_false_ends():
    page = api.parse_page(
        EVENTS, 200, _body({"data": [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}], "hasMore": False})
    )
    assert page.next_request is None
    assert page.cursor == "c"


def test_page_with_has_more_true_continues_after_last_id():
    page = api.parse_page(EVENTS, 200, _body({"data": [{"_id": "a"}], "hasMore": True}))
    assert page.next_request.params == {"limit": 3, "after": "a"}


@pytest.mark.parametrize(("count", "more"), [(3, True), (2, False), (0, False)])
def test_page_without_has_more_uses_page_length(count, more):
    items = [{"_id": f"i{n}"} for n in range(count)]
    page = api.parse_page(EVENTS, 200, _body({"data": items}))
    assert page.has_more is None
    assert (page.next_request is not None) is more


def test_repeated_cursor_stops_paging():
    request = EVENTS.with_params(after="c")
    page = api.parse_page(request, 200, _body({"data": [{"_id": "c"}], "hasMore": True}))
    assert page.next_request is None


def test_backward_page_continues_forward_from_its_last_item():
    request = api.list_request("/events", limit=2, before="z")
    page = api.parse_page(request, 200, _body({"data": [{"_id": "x"}, {"_id": "y"}], "hasMore": True}))
    assert page.next_request.params == {"limit": 2, "after": "y"}


def test_transport_error_names_the_request_and_a_timeout():
    timed_out = api.transport_error(EVENTS, TimeoutError(), 2.5)
    assert isinstance(timed_out, exc.IntervalsTimeoutError)
    assert "GET /events timed out after 2.5s" in str(timed_out)
    reset = api.transport_error(EVENTS, ConnectionResetError("peer reset"), None)
    assert type(reset) is exc.IntervalsTransportError
    assert "ConnectionResetError: peer reset" in str(reset)
