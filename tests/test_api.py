"""The pure API layer: error mapping, retry timing, cursors. No I/O, so no server needed.

These cover what the sandbox cannot be made to send (a repeated cursor, a non-JSON 200).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_intervals import api, validation
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


class TestRetryPolicy:
    policy = api.RetryPolicy(max_retries=3, backoff=1.0, backoff_max=5.0, max_rate_limit_wait=60.0)
    server = exc.IntervalsServerError(500, "INTERNAL_ERROR", "boom")
    transport = exc.IntervalsTransportError("reset")

    @pytest.mark.parametrize(("attempt", "expected"), [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)])
    def test_backoff_is_exponential_and_capped(self, attempt, expected):
        assert self.policy.delay(self.server, attempt, now=0.0, rand=lambda: 1.0) == expected
        assert self.policy.delay(self.server, attempt, now=0.0, rand=lambda: 0.0) == 0.0

    def test_rate_limit_waits_until_retry_after(self):
        err = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "slow", retry_after=110.0)
        assert self.policy.delay(err, 0, now=100.0, rand=lambda: 0.0) == 10.0

    def test_rate_limit_too_far_ahead_is_not_retried(self):
        err = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "slow", retry_after=100.0 + 86400)
        assert not self.policy.should_retry(err, 0, EVENTS, False, now=100.0)

    @pytest.mark.parametrize(
        ("error", "retried"),
        [
            (exc.IntervalsServerError(503, None, "x"), True),
            (exc.IntervalsTransportError("reset"), True),
            (exc.IntervalsTimeoutError("slow"), True),
            (exc.IntervalsRateLimitError(429, None, "x", retry_after=None), True),
            (exc.IntervalsValidationError(422, None, "x"), False),
            (exc.IntervalsAuthenticationError(401, None, "x"), False),
            (exc.IntervalsConflictError(409, None, "x"), False),
            (exc.IntervalsMalformedResponseError(200, None, "x"), True),  # a 200 cut short: transient
        ],
    )
    def test_which_errors_are_retried(self, error, retried):
        assert self.policy.should_retry(error, 0, EVENTS, False, now=0.0) is retried

    def test_post_retried_only_with_idempotency_key(self):
        post = api.Request("POST", "/events", body={})
        assert not self.policy.should_retry(self.transport, 0, post, idempotent=False, now=0.0)
        assert self.policy.should_retry(self.transport, 0, post, idempotent=True, now=0.0)

    def test_retry_budget(self):
        assert self.policy.should_retry(self.server, 2, EVENTS, False, now=0.0)
        assert not self.policy.should_retry(self.server, 3, EVENTS, False, now=0.0)


def test_check_date_accepts_dates_and_refuses_datetimes():
    assert validation.check_date("d", dt.date(2025, 6, 14)) == "2025-06-14"
    assert validation.check_date("d", "2025-06-14") == "2025-06-14"
    with pytest.raises(exc.IntervalsArgumentError, match="not a datetime"):
        validation.check_date("d", dt.datetime(2025, 6, 14, tzinfo=dt.UTC))


def test_retries_spend_the_budget_on_faults():
    retries = api.Retries(api.RetryPolicy(max_retries=1, backoff=1.0, backoff_max=5.0), EVENTS)
    server = exc.IntervalsServerError(503, None, "x")
    assert 0.0 <= retries.next_wait(server, now=0.0) <= 1.0
    assert retries.next_wait(server, now=0.0) is None  # the one retry is spent
    fresh = api.Retries(api.RetryPolicy(max_retries=1), EVENTS)
    assert fresh.next_wait(exc.IntervalsValidationError(422, None, "x"), now=0.0) is None


def test_a_429_with_retry_after_does_not_spend_the_budget():
    policy = api.RetryPolicy(max_retries=0, max_rate_limit_wait=60.0)
    retries = api.Retries(policy, EVENTS, paced=True)
    limited = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=110.0)
    for _ in range(5):  # max_retries=0, yet every 429 within the wait budget is waited out
        assert retries.next_wait(limited, now=100.0) == 10.0  # paced: exactly until retryAfter
    assert retries.attempt == 0
    assert retries.next_wait(limited, now=100.0) == 10.0  # 60 s of 429 waits in all
    assert retries.next_wait(limited, now=100.0) is None  # the 7th would pass max_rate_limit_wait
    blind = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=None)
    assert api.Retries(policy, EVENTS).next_wait(blind, now=0.0) is None  # no retryAfter: a fault


def test_unpaced_429_waits_add_jitter_and_posts_need_a_key():
    limited = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=110.0)
    retries = api.Retries(api.RetryPolicy(backoff=1.0), EVENTS)
    assert retries.next_wait(limited, now=100.0, rand=lambda: 0.5) == 10.5
    post = api.Request("POST", "/events", body={})
    assert api.Retries(api.RetryPolicy(), post).next_wait(limited, now=100.0) is None
    assert api.Retries(api.RetryPolicy(), post, idempotent=True).next_wait(limited, now=100.0) is not None


def test_transport_error_names_the_request_and_a_timeout():
    timed_out = api.transport_error(EVENTS, TimeoutError(), 2.5)
    assert isinstance(timed_out, exc.IntervalsTimeoutError)
    assert "GET /events timed out after 2.5s" in str(timed_out)
    reset = api.transport_error(EVENTS, ConnectionResetError("peer reset"), None)
    assert type(reset) is exc.IntervalsTransportError
    assert "ConnectionResetError: peer reset" in str(reset)
