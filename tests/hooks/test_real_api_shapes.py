"""Both hooks against the shapes the reference allows but the sandbox does not send.

A canned loopback server answers exactly the bytes each test scripts: the error fields at
the top level as well as inside ``error``, a ``Retry-After`` header, a ``200`` cut short with
a matching ``Content-Length``. The sandbox itself is pinned to the reference's shapes in
``tests/sandbox``; here the client proves it reads every tolerated form.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook

PAGE = json.dumps(
    {"data": [{"_id": "e1", "name": "A"}, {"_id": "e2", "name": "B"}], "hasMore": False}
).encode()
CUT = PAGE[: len(PAGE) // 2]  # valid HTTP (Content-Length matches), invalid JSON
ORG = json.dumps({"data": {"_id": "o1", "name": "North Shore", "plan": "premium"}}).encode()


def sync_list() -> list[str]:
    return [e["_id"] for e in IntervalsHook().iter_events()]


def async_list() -> list[str]:
    async def run():
        ids = []
        async for page in IntervalsAsyncHook().event_pages(limit=100):
            ids += [e["_id"] for e in page.items]
        return ids

    return asyncio.run(run())


HOOKS = pytest.mark.parametrize("listing", [sync_list, async_list], ids=["sync", "async"])


def _429(where: str) -> tuple:
    retry_ms = int((time.time() + 0.05) * 1000)
    error = {"code": "RATE_LIMITED", "message": "Rate limit exceeded"}
    if where == "nested":
        return 429, json.dumps({"error": {**error, "retryAfter": retry_ms}}).encode()
    if where == "top-level":
        return 429, json.dumps({"error": error, "retryAfter": retry_ms}).encode()
    if where == "header":
        return 429, json.dumps({"error": error}).encode(), {"Retry-After": "0"}
    return 429, json.dumps({"error": error}).encode()


@HOOKS
def test_a_200_cut_short_is_retried_within_the_budget(canned, listing):
    canned.script = [(200, CUT)]
    canned.canned = (200, PAGE)
    assert listing() == ["e1", "e2"]
    assert canned.hits == 2


@HOOKS
def test_a_200_cut_short_past_the_budget_is_a_malformed_error(canned, listing):
    canned.canned = (200, CUT)
    with pytest.raises(exc.IntervalsMalformedResponseError) as raised:
        listing()
    assert "Intervals API 200" in str(raised.value)
    assert CUT[:20].decode() in str(raised.value)
    assert canned.hits == 2  # the first try and its one retry (max_retries=1)


def test_a_post_answered_short_replays_under_the_same_idempotency_key(canned):
    canned.script = [(201, b'{"data": {"eventId": "ev')]
    canned.canned = (201, b'{"data": {"eventId": "ev_1"}}')
    body = {"name": "A", "slug": "a", "type": "race", "date": "2026-01-01"}
    assert IntervalsHook().create_event(body, idempotency_key="k-1") == "ev_1"
    keys = [headers.get("Idempotency-Key") for _, _, headers in canned.seen]
    assert keys == ["k-1", "k-1"]


@HOOKS
@pytest.mark.parametrize("where", ["nested", "top-level", "header"])
def test_429_retry_after_is_read_in_every_tolerated_form(canned, listing, where):
    # No retries at all: only a 429 whose retry moment the client found is waited out.
    canned.configure(max_retries=0)
    canned.script = [_429(where)]
    canned.canned = (200, PAGE)
    assert listing() == ["e1", "e2"]
    assert canned.hits == 2


@HOOKS
def test_429_with_neither_field_spends_the_retry_budget(canned, listing):
    canned.configure(max_retries=0)
    canned.canned = _429("neither")
    with pytest.raises(exc.IntervalsRateLimitError) as raised:
        listing()
    assert raised.value.retry_after is None
    assert canned.hits == 1


VALIDATION = {"limit": ["Must be between 1 and 100"], "dateFrom": ["Expected YYYY-MM-DD"]}


@HOOKS
@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"error": {"code": "VALIDATION_ERROR", "message": "Invalid query", "errors": VALIDATION}},
            VALIDATION,
        ),
        (
            {"error": {"code": "VALIDATION_ERROR", "message": "Invalid query"}, "errors": VALIDATION},
            VALIDATION,
        ),
        ({"error": {"code": "VALIDATION_ERROR", "message": "Invalid query"}}, {}),
    ],
    ids=["nested", "top-level", "neither"],
)
def test_422_field_messages_reach_the_user(canned, listing, body, errors):
    canned.canned = (422, json.dumps(body).encode())
    with pytest.raises(exc.IntervalsValidationError) as raised:
        listing()
    assert raised.value.errors == errors
    expected = "Intervals API 422 VALIDATION_ERROR: Invalid query"
    if errors:
        expected += ": limit: Must be between 1 and 100; dateFrom: Expected YYYY-MM-DD"
    assert str(raised.value) == expected
    assert canned.hits == 1  # a 422 is never retried


@HOOKS
def test_the_plan_is_learned_once_from_the_organisation(canned, listing):
    from airflow_provider_intervals import pacing

    canned.configure(plan=None, max_retries=0)
    canned.script = [(200, ORG)]
    canned.canned = (200, PAGE)
    pacing.forget()
    try:
        assert listing() == ["e1", "e2"]
        assert listing() == ["e1", "e2"]
        assert pacing.learned_rate("itv_canned") == (True, pacing.Rate.for_plan("premium"))
    finally:
        pacing.forget()
    assert [path.split("?")[0] for _, path, _ in canned.seen] == ["/organization", "/events", "/events"]
