"""The token bucket on a fake clock: rate, burst, headroom, pauses, max_wait, threads, and the
state it shares with other processes through a store."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import pacing
from airflow_provider_intervals.pacing import Rate, TokenBucket
from airflow_provider_intervals.pacing.stores import Failover, FileStore, MemoryStore


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

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
    want = [0, 0, 0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    assert [t - start for t in sent] == pytest.approx(want, abs=1e-6)
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


def test_pause_until_retry_after_then_resume_at_the_rate_with_a_burst_of_one():
    clock = Clock()
    bucket = TokenBucket(Rate(2.0, 2), clock)
    drain(bucket, clock, 1)
    bucket.pause_until(clock.now + 10.0)  # a 429 said: come back in 10 s
    assert bucket.resumes_at == clock.now + 10.0
    waits = [bucket.reserve() for _ in range(3)]  # three callers book at once, as the streams of a task
    # The first goes at retryAfter plus the headroom (half a period), the others at the rate.
    assert waits == [pytest.approx(10.25), pytest.approx(10.75), pytest.approx(11.25)]
    assert (bucket.pace, bucket.pauses) == (Rate(2.0, 1), 1)


def test_an_earlier_pause_never_brings_requests_forward():
    clock = Clock()
    bucket = TokenBucket(Rate(1.0, 1), clock)
    _, epoch = bucket.book()
    bucket.pause_until(clock.now + 30, epoch)
    bucket.pause_until(clock.now + 5, epoch)  # a later answer for a request booked before the pause
    bucket.pause_until(clock.now + 5)  # a 429 of this epoch that names an earlier moment
    assert bucket.reserve() == pytest.approx(30.5)


def test_a_slot_past_max_wait_books_nothing():
    clock = Clock()
    bucket = TokenBucket(Rate(100 / 86400, 20), clock)  # the free plan
    assert [bucket.reserve() for _ in range(19)] == [0.0] * 19  # the burst, less the headroom
    assert bucket.reserve(max_wait=900) == pytest.approx(864.0)  # one request per 864 s
    assert bucket.reserve(max_wait=900) is None  # 1,728 s ahead: the caller raises instead
    assert bucket.wait_for_next() == pytest.approx(1728.0)
    assert bucket.reserved == 20


def test_book_raises_with_the_moment_the_slot_frees_and_sends_nothing():
    bucket = TokenBucket(Rate(100 / 86400, 20))
    for _ in range(20):
        pacing.book(bucket, "GET /events", max_wait=900)
    with pytest.raises(exc.IntervalsRateLimitError, match="max_rate_limit_wait=900s") as raised:
        pacing.book(bucket, "GET /events", max_wait=900)
    assert raised.value.retry_after == pytest.approx(__import__("time").time() + 1728.0, abs=5)
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
    # (Epoch seconds near 1.7e9 carry about 0.2 us of precision: 200 bookings add up to 20 us.)
    assert sorted(waits) == pytest.approx([0.05 + 0.1 * i for i in range(200)], abs=1e-4)


def test_only_answers_that_spent_a_token_are_counted():
    clock = Clock()
    bucket = TokenBucket(Rate(10.0, 2), clock)
    bucket.book()
    bucket.pause_until(clock.now)  # opens the measuring window now
    for status in (200, 201, 404, 422, 429, 500, 503):
        bucket.answered(status)
    bucket.wait_for_next()  # hands the answers to the store
    assert bucket._state.accepted == 4


# ----------------------------------------------------------------------------- shared by processes


def _process(store, rate: Rate, clock: Clock) -> TokenBucket:
    """A bucket as another process has it: its own handle on the key's entry in ``store``."""
    return TokenBucket(rate, clock, Failover(store, "key"))


def test_processes_sharing_a_directory_book_one_bucket(tmp_path):
    clock = Clock()
    first, second = (_process(FileStore(tmp_path), Rate(5.0, 4), clock) for _ in range(2))
    waits = [bucket.reserve() for bucket in (first, second) * 3]
    assert waits == pytest.approx([0, 0, 0, 0.2, 0.4, 0.6], abs=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["key.json"]


def test_a_process_that_starts_after_another_inherits_its_pause_and_learned_pace(tmp_path):
    clock = Clock()
    first = _process(FileStore(tmp_path), Rate.for_plan("enterprise"), clock)
    first.book()
    first.pause_until(clock.now + 0.2)
    clock.now += 0.3
    first.answered(200)
    first.book()
    first.pause_until(clock.now + 0.3)  # 1 accepted from 0.2 s to 0.6 s: 2.5/s
    later = _process(FileStore(tmp_path), Rate.for_plan("enterprise"), clock)
    assert later.wait_for_next() == pytest.approx(0.3 + 0.5 / (2.5 * pacing.MARGIN))
    assert later.pace == Rate(pytest.approx(2.5 * pacing.MARGIN), 1)


@pytest.mark.parametrize(
    "skew", [0.05, 0.5, 2.0, -0.5], ids=["lags-50ms", "lags-500ms", "lags-2s", "leads-500ms"]
)
def test_hosts_whose_clocks_disagree_spend_at_most_their_skews_worth_early_and_no_less(skew):
    """Two hosts, eight streams each, share a bucket; the second host's clock is ``skew`` behind.

    Each stream books, sleeps to the slot on its own host's clock, sends, and books again after
    the answer. In true time the server sees at most the skew's worth of tokens (rate x skew)
    more in any second than the bucket allows, and the pair still uses the whole rate.
    """
    rate, true = Rate(10.0, 4), Clock()
    store = MemoryStore()
    hosts = [TokenBucket(rate, lambda d=d: true.now - d, Failover(store, "key")) for d in (0.0, skew)]
    events = [(true.now, h, s, "book") for h in range(2) for s in range(8)]
    heapq.heapify(events)
    sent: list[float] = []
    while len(sent) < 600:
        true.now, host, stream, what = heapq.heappop(events)
        if what == "book":
            wait = hosts[host].reserve()  # slept on the host's clock: the same span in true time
            heapq.heappush(events, (true.now + wait, host, stream, "send"))
        else:
            sent.append(true.now)
            heapq.heappush(events, (true.now + 0.05, host, stream, "book"))
    busiest = max(sum(1 for u in sent if t <= u < t + 1.0) for t in sent)
    assert busiest <= rate.burst - 1 + rate.per_second * (1.0 + abs(skew))
    assert (len(sent) - rate.burst) / (sent[-1] - sent[0]) >= 0.97 * rate.per_second


def test_a_capped_hook_keeps_to_its_own_rate_and_counts_in_the_keys_bucket(tmp_path):
    clock = Clock()
    plan = _process(FileStore(tmp_path), Rate(10.0, 1), clock)
    capped = TokenBucket(Rate(10.0, 1), clock, Failover(FileStore(tmp_path), "key"), cap=Rate(2.0, 1))
    waits = [plan.reserve(), capped.reserve(), plan.reserve(), plan.reserve(), capped.reserve()]
    # The key's bucket takes every request at 10/s; the capped hook also waits for its own 2/s.
    assert waits == pytest.approx([0.05, 0.25, 0.25, 0.35, 0.75], abs=1e-6)
    assert capped.reserve() == pytest.approx(1.25, abs=1e-6)
    assert capped.pace == Rate(2.0, 1)


def test_tasks_capped_at_a_share_each_together_use_the_keys_whole_rate(tmp_path):
    """Four tasks, each capped at a quarter of the key's 8/s (the README's share recipe)."""
    clock = Clock()
    tasks = [
        TokenBucket(Rate(8.0, 1), clock, Failover(FileStore(tmp_path), "key"), cap=Rate(2.0, 1))
        for _ in range(4)
    ]
    sends = {i: [] for i in range(4)}
    for _ in range(10):
        for i, task in enumerate(tasks):
            sends[i].append(task.reserve())
    everyone = sorted(t for times in sends.values() for t in times)
    assert everyone[-1] == pytest.approx(40 / 8.0, abs=0.3)  # 40 requests at the key's 8/s
    for times in sends.values():  # and none of the tasks above its 2/s
        assert all(b - a >= 0.5 - 1e-6 for a, b in itertools.pairwise(times))


def test_the_learned_pace_is_logged_once_by_the_process_that_learned_it(tmp_path, caplog):
    clock = Clock()
    one, two = (_process(FileStore(tmp_path), Rate.for_plan("enterprise"), clock) for _ in range(2))
    caplog.set_level(logging.INFO, logger="airflow_provider_intervals.pacing")
    one.book()
    one.pause_until(clock.now + 0.2)
    clock.now += 0.3
    one.answered(200)
    _, first = one.book()  # hands its answer to the store
    _, second = two.book()
    two.pause_until(clock.now + 0.3, second)  # 1 accepted from 0.2 s to 0.6 s
    one.pause_until(clock.now + 0.3, first)  # the same empty bucket, met by the other process
    for _ in range(20):
        one.book()
        two.book()
    learned = [r.getMessage() for r in caplog.records if "429s show an allowance" in r.getMessage()]
    assert learned == [
        "Pacing API key key: 429s show an allowance of about 150 requests/min for this key "
        "(the plan's is 1000 requests/min (burst 50)): pacing at 145.5 requests/min (burst 1)"
    ]
