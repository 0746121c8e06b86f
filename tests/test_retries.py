"""Retry timing and the retry budget: pure, so no server is needed."""

from __future__ import annotations

import time

import pytest

from airflow_provider_intervals import api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.retries import Retries, RetryPolicy

EVENTS = api.Request("GET", "/events", {"limit": 3})


class TestRetryPolicy:
    policy = RetryPolicy(max_retries=3, backoff=1.0, backoff_max=5.0, max_rate_limit_wait=60.0)
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


def test_retries_spend_the_budget_on_faults():
    retries = Retries(RetryPolicy(max_retries=1, backoff=1.0, backoff_max=5.0), EVENTS)
    server = exc.IntervalsServerError(503, None, "x")
    assert 0.0 <= retries.next_wait(server, now=0.0) <= 1.0
    assert retries.next_wait(server, now=0.0) is None  # the one retry is spent
    fresh = Retries(RetryPolicy(max_retries=1), EVENTS)
    assert fresh.next_wait(exc.IntervalsValidationError(422, None, "x"), now=0.0) is None


def test_a_429_with_retry_after_does_not_spend_the_budget():
    policy = RetryPolicy(max_retries=0, max_rate_limit_wait=60.0)
    retries = Retries(policy, EVENTS, paced=True)
    limited = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=110.0)
    for _ in range(5):  # max_retries=0, yet every 429 within the wait budget is waited out
        assert retries.next_wait(limited, now=100.0) == 10.0  # paced: exactly until retryAfter
    assert retries.attempt == 0
    assert retries.next_wait(limited, now=100.0) == 10.0  # 60 s of 429 waits in all
    assert retries.next_wait(limited, now=100.0) is None  # the 7th would pass max_rate_limit_wait
    blind = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=None)
    assert Retries(policy, EVENTS).next_wait(blind, now=0.0) is None  # no retryAfter: a fault


def test_unpaced_429_waits_add_jitter_and_posts_need_a_key():
    limited = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=110.0)
    retries = Retries(RetryPolicy(backoff=1.0), EVENTS)
    assert retries.next_wait(limited, now=100.0, rand=lambda: 0.5) == 10.5
    post = api.Request("POST", "/events", body={})
    assert Retries(RetryPolicy(), post).next_wait(limited, now=100.0) is None
    assert Retries(RetryPolicy(), post, idempotent=True).next_wait(limited, now=100.0) is not None


def test_after_failure_pauses_the_bucket_only_for_a_429_that_was_sent():
    bucket = pacing.TokenBucket(pacing.Rate.per_minute(600, 1))
    limited = exc.IntervalsRateLimitError(429, "RATE_LIMITED", "x", retry_after=time.time() + 5)
    retries = Retries(RetryPolicy(), EVENTS, paced=True)
    refused = retries.after_failure(limited, bucket, epoch=None)  # the bucket refused: nothing sent
    assert refused is not None
    assert bucket.wait_for_next() < 1
    booked = bucket.book(max_wait=60)
    assert booked is not None
    wait = retries.after_failure(limited, bucket, epoch=booked[1])
    assert 4 < wait <= 5
    assert bucket.wait_for_next() > 4


def test_log_line_names_the_request_the_error_and_the_wait():
    retries = Retries(RetryPolicy(max_retries=5), EVENTS)
    server = exc.IntervalsServerError(503, None, "busy")
    wait = retries.after_failure(server)
    assert retries.log_line(server, wait) == f"GET /events: {server}; retry 1/5 in {wait:.2f}s"
