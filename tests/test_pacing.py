"""The token bucket on a fake clock: rate, burst, headroom, pauses after a 429, the registry, plan lookups."""

from __future__ import annotations

import itertools
import threading

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import pacing
from airflow_provider_intervals.pacing import Rate, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drain(bucket: TokenBucket, clock: Clock, n: int) -> list[float]:
    """Send ``n`` requests as a caller would: book, sleep the wait; return each send time."""
    sent = []
    for _ in range(n):
        clock.now += bucket.reserve()
        sent.append(clock.now)
    return sent


@pytest.mark.parametrize(
    ("plan", "per_second", "burst"),
    [
        ("free", 100 / 86400, 20),
        ("premium", 100 / 60, 20),
        ("enterprise", 1000 / 60, 50),
        ("unknown", None, None),
        ("elite", None, None),
        (None, None, None),
    ],
    ids=["free", "premium", "enterprise", "unknown", "undocumented", "none"],
)
def test_plans_have_the_documented_rates(plan, per_second, burst):
    rate = Rate.for_plan(plan)
    assert (rate is None) if per_second is None else rate == Rate(pytest.approx(per_second), burst)


def test_burst_then_the_plan_rate_keeping_one_token_of_headroom():
    clock = Clock()
    bucket = TokenBucket(Rate(5.0, 4), clock)  # 5/s, burst 4: 3 at once (one held back), then 0.2 s apart
    start = clock.now
    sent = drain(bucket, clock, 13)
    assert [round(t - start, 6) for t in sent] == [0, 0, 0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    # In every window the server sees at most burst + rate * length requests, with a token to spare.
    for i, t in enumerate(sent):
        in_window = sum(1 for u in sent if t <= u <= t + 1.0)
        assert in_window <= 4 + 5 * 1.0 - 1, i


def test_an_idle_bucket_refills_to_its_capacity_only():
    clock = Clock()
    bucket = TokenBucket(Rate(1.0, 3), clock)
    drain(bucket, clock, 5)
    clock.now += 3600
    # Capacity 2 (the burst of 3 less the headroom), then 1 s apart.
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, pytest.approx(1.0), pytest.approx(2.0)]


def test_pause_until_retry_after_then_resume_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(Rate(2.0, 2), clock)
    drain(bucket, clock, 1)
    bucket.pause_until(clock.now + 10.0)  # a 429 said: come back in 10 s
    waits = []
    for _ in range(3):  # three callers book at once, as the streams of a task would
        waits.append(bucket.reserve())
    # The first goes at retryAfter plus the headroom (half a period), the others at the rate.
    assert waits == [pytest.approx(10.5), pytest.approx(11.0), pytest.approx(11.5)]


def test_an_earlier_pause_never_brings_requests_forward():
    clock = Clock()
    bucket = TokenBucket(Rate(1.0, 1), clock)
    _, epoch = bucket.book()
    bucket.pause_until(clock.now + 30, epoch)
    bucket.pause_until(clock.now + 5, epoch)  # a later answer for a request booked before the pause
    assert bucket.reserve() == pytest.approx(30.5)


def test_a_slot_past_max_wait_books_nothing():
    clock = Clock()
    bucket = TokenBucket(Rate(100 / 86400, 20), clock)  # the free plan
    assert [bucket.reserve() for _ in range(19)] == [0.0] * 19  # the burst, less the headroom
    assert bucket.reserve(max_wait=900) == pytest.approx(864.0)  # one request per 864 s
    assert bucket.reserve(max_wait=900) is None  # 1,728 s ahead: the caller raises instead
    assert bucket.wait_for_next() == pytest.approx(1728.0)
    assert bucket.reserved == 20


def test_threads_share_one_bucket_without_double_booking():
    clock = Clock()
    bucket = TokenBucket(Rate(10.0, 1), clock)
    waits: list[float] = []
    lock = threading.Lock()

    def book():
        for _ in range(50):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=book) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The clock stood still: 200 bookings, each 0.1 s after the one before, none shared.
    assert sorted(round(w, 6) for w in waits) == [round(0.05 + 0.1 * i, 6) for i in range(200)]


def test_the_registry_keys_buckets_by_a_digest_of_the_key():
    pacing.forget()
    try:
        one = pacing.bucket_for("itv_secret_one", Rate(1.0, 1))
        assert pacing.bucket_for("itv_secret_one", Rate(1.0, 1)) is one
        assert pacing.bucket_for("itv_secret_two", Rate(1.0, 1)) is not one
        assert pacing.bucket_for("itv_secret_one", Rate(2.0, 5)) is one
        assert one.rate == Rate(2.0, 5)
        assert not any("secret" in name for name in pacing._BUCKETS)
        pacing.remember_rate("itv_secret_one", None)
        assert pacing.learned_rate("itv_secret_one") == (True, None)
        assert pacing.learned_rate("itv_secret_two") == (False, None)
        assert pacing.plan_lookup("itv_secret_one") is pacing.plan_lookup("itv_secret_one")
        assert not any("secret" in name for name in pacing._LOOKUPS)
    finally:
        pacing.forget()


def test_a_shared_key_slows_the_pace_then_recovers():
    clock = Clock()
    bucket = TokenBucket(Rate(4.0, 2), clock)
    drain(bucket, clock, 3)
    bucket.pause_until(clock.now + 1.0)  # the first 429: a pause, the pace stays
    assert bucket.scale == 1.0
    drain(bucket, clock, 2)
    bucket.pause_until(clock.now + 1.0)  # another within a minute: someone else spends the key
    assert bucket.scale == pacing.SLOWDOWN
    clock.now += 1.0
    sent = drain(bucket, clock, 3)
    gap = 1 / (4.0 * pacing.SLOWDOWN)
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent)] == [round(gap, 6)] * 2
    clock.now += pacing.RECOVERY_SECONDS  # a quiet minute speeds it up again
    drain(bucket, clock, 1)
    assert bucket.scale == pytest.approx(min(1.0, pacing.SLOWDOWN * pacing.SPEEDUP))


def test_the_429s_of_streams_that_met_the_same_empty_bucket_count_once():
    clock = Clock()
    bucket = TokenBucket(Rate(4.0, 2), clock)
    epochs = [bucket.book()[1] for _ in range(3)]  # three streams book, and all three are refused
    for epoch in epochs:
        bucket.pause_until(clock.now + 1.0, epoch)
    assert (bucket.pauses, bucket.scale) == (1, 1.0)
    _, after = bucket.book()
    bucket.pause_until(clock.now + 2.0, after)  # refused again though booked after the pause
    assert (bucket.pauses, bucket.scale) == (2, pacing.SLOWDOWN)


def test_the_pace_never_drops_below_its_floor():
    clock = Clock()
    bucket = TokenBucket(Rate(16.0, 1), clock)
    for _ in range(20):
        bucket.pause_until(clock.now + 100.0 + bucket.wait_for_next())
    assert bucket.scale == pacing.MIN_SCALE


# ----------------------------------------------------------------------------- plan lookups

URL = "https://api.intervals.run"


def _server_error() -> exc.IntervalsServerError:
    return exc.IntervalsServerError(503, "SERVICE_UNAVAILABLE", "Service unavailable")


@pytest.mark.parametrize(
    "error",
    [
        exc.IntervalsTransportError("GET /organization failed: ConnectionError: refused"),
        _server_error(),
        exc.IntervalsAuthenticationError(401, "UNAUTHORIZED", "Missing or invalid API key"),
        exc.IntervalsRateLimitError(429, "RATE_LIMITED", "Rate limit exceeded", retry_after=5000.0),
    ],
    ids=["transport", "5xx", "401", "429-past-the-longest-wait"],
)
def test_a_failed_lookup_is_raised_again_at_once_for_its_url_until_it_is_forgotten(error):
    clock = Clock()
    lookup = pacing.PlanLookup(clock)
    assert lookup.recall(URL) == (False, None)
    assert lookup.failed(URL, error) is None  # the caller raises it
    with pytest.raises(type(error)) as again:
        lookup.recall(URL)
    assert str(again.value).startswith(str(error))
    assert "not asked again for 60s" in str(again.value)
    assert getattr(again.value, "retry_after", None) == getattr(error, "retry_after", None)
    assert lookup.recall("http://127.0.0.1:8787") == (False, None)  # another host: ask it
    clock.now += pacing.LOOKUP_FAILURE_SECONDS - 1
    with pytest.raises(type(error)):
        lookup.recall(URL)
    clock.now += 1
    assert lookup.recall(URL) == (False, None)  # forgotten: a long-lived process asks again


def test_a_403_means_not_paced_for_the_rest_of_the_process():
    clock = Clock()
    lookup = pacing.PlanLookup(clock)
    refused = exc.IntervalsPermissionError(403, "FORBIDDEN", "API key lacks scope read:series")
    note = lookup.failed(URL, refused)
    assert "requests are not paced" in note
    clock.now += 10 * pacing.LOOKUP_FAILURE_SECONDS
    assert lookup.recall(URL) == (True, None)


def test_a_learned_plan_replaces_a_failure_and_books_the_lookup_in_the_bucket():
    pacing.forget()
    try:
        lookup = pacing.plan_lookup("itv_learner")
        lookup.failed(URL, _server_error())
        assert lookup.learned("itv_learner", {"plan": "enterprise"}) is None
        assert lookup.recall(URL) == (True, Rate.for_plan("enterprise"))
        assert pacing.bucket_for("itv_learner", Rate.for_plan("enterprise")).reserved == 1
        assert "not a documented one" in pacing.PlanLookup().learned("itv_learner", {"plan": "elite"})
    finally:
        pacing.forget()
