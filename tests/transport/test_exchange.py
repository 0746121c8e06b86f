"""The transport core without I/O: drive one request's steps by hand, answer by answer."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_intervals import api, transport
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import Settings
from airflow_provider_intervals.retries import RetryPolicy

EVENTS = api.events_request(limit=2)
SETTINGS = Settings(retry=RetryPolicy(max_retries=2, backoff=0.01, backoff_max=0.01))


def _answer(status: int, body: object, **headers: str) -> transport.Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return transport.Answer(status, headers, raw)


def _drive(steps, outcomes):
    """Run ``steps``, answering each Send with the next outcome; return the value and the effects seen."""
    outcomes, seen = list(outcomes), []
    run = transport.Run(steps)
    while run.pending is not None:
        effect = run.pending
        seen.append(effect)
        if isinstance(effect, transport.Send):
            run.settle(outcomes.pop(0))
        elif isinstance(effect, transport.Call):
            run.settle(effect.function(*effect.args))
        else:
            run.settle(None)
    assert not outcomes
    return run.value, seen


def _kinds(seen):
    return [type(e).__name__ for e in seen]


PAGE = {"data": [{"_id": "a"}, {"_id": "b"}], "hasMore": True}


def test_a_page_is_read_and_names_the_next_request():
    page, seen = _drive(transport.exchange(EVENTS, transport.page, SETTINGS, None), [_answer(200, PAGE)])
    assert [i["_id"] for i in page.items] == ["a", "b"]
    assert page.next_request == EVENTS.with_params(after="b")
    assert _kinds(seen) == ["Send"]


@pytest.mark.parametrize(
    "failure",
    [
        _answer(503, {"error": {"code": "UNAVAILABLE", "message": "busy"}}),
        _answer(200, b'{"data": [{"_id": "a"'),  # a body cut short
        exc.IntervalsTransportError("GET /events failed: connection reset"),  # no answer at all
    ],
    ids=["5xx", "cut-short", "lost-connection"],
)
def test_a_transient_failure_is_logged_waited_out_and_retried(failure):
    page, seen = _drive(
        transport.exchange(EVENTS, transport.page, SETTINGS, None), [failure, _answer(200, PAGE)]
    )
    assert len(page.items) == 2
    assert _kinds(seen) == ["Send", "Call", "Log", "Sleep", "Send"]
    assert seen[2].level == logging.WARNING
    assert seen[2].message.startswith("GET /events: ")
    assert "retry 1/2" in seen[2].message


def test_the_retry_budget_runs_out_and_the_error_is_raised():
    busy = _answer(500, {"error": {"code": "INTERNAL_ERROR", "message": "x"}})
    with pytest.raises(exc.IntervalsServerError):
        _drive(transport.exchange(EVENTS, transport.page, SETTINGS, None), [busy] * 3)


def test_a_429_waits_until_its_retry_after_and_spends_no_retry():
    import time

    moment = time.time() + 5
    limited = _answer(
        429, {"error": {"code": "RATE_LIMITED", "message": "slow", "retryAfter": moment * 1000}}
    )
    page, seen = _drive(
        transport.exchange(EVENTS, transport.page, SETTINGS, None), [limited] * 3 + [_answer(200, PAGE)]
    )
    sleeps = [e.seconds for e in seen if isinstance(e, transport.Sleep)]
    assert len(sleeps) == 3  # three 429s with max_retries=2: they spend no retry
    assert all(4 < s <= 6 for s in sleeps)
    assert len(page.items) == 2


def test_a_client_error_is_raised_at_once():
    missing = _answer(404, {"error": {"code": "NOT_FOUND", "message": "no such event"}})
    with pytest.raises(exc.IntervalsNotFoundError):
        _drive(transport.exchange(api.event_request("e1"), transport.data, SETTINGS, None), [missing])


def test_a_post_without_an_idempotency_key_is_not_retried_and_with_one_carries_it():
    post = api.create_event_request({"name": "A", "slug": "a", "type": "race", "date": "2025-01-01"})
    busy = _answer(500, {"error": {"code": "INTERNAL_ERROR", "message": "x"}})
    with pytest.raises(exc.IntervalsServerError):
        _drive(transport.exchange(post, transport.created("eventId"), SETTINGS, None), [busy])
    steps = transport.exchange(post, transport.created("eventId"), SETTINGS, None, idempotency_key="k1")
    new_id, seen = _drive(steps, [busy, _answer(201, {"data": {"eventId": "ev1"}})])
    assert new_id == "ev1"
    assert all(e.headers == {"Idempotency-Key": "k1"} for e in seen if isinstance(e, transport.Send))


def test_a_paced_request_books_its_slot_and_counts_its_answer():
    from airflow_provider_intervals import pacing

    bucket = pacing.TokenBucket(pacing.Rate.per_minute(600, 5))
    _, seen = _drive(transport.exchange(EVENTS, transport.page, SETTINGS, bucket), [_answer(200, PAGE)])
    calls = [e.function for e in seen if isinstance(e, transport.Call)]
    assert calls == [pacing.book, bucket.answered]
    assert bucket.reserved == 1


def test_a_config_never_shows_its_key():
    config = transport.Config("https://api.intervals.run", SETTINGS, "itv_secret_key")
    assert "itv_secret_key" not in repr(config)
    assert "itv_secret_key" not in str(config)
