"""The shared allowance's rules on a fake clock: pauses, epochs, measuring the real rate, probing.

The last tests run many streams against a model of the server's token bucket (the rule the
sandbox and the API enforce) for simulated hours, in milliseconds: what the rules promise over
time (the learned rate, one probing 429 per stream per minute at most, the share of the
allowance used) is checked there; tests/pacing/test_processes.py checks it against the sandbox.
"""

from __future__ import annotations

import heapq
import math

import pytest

from airflow_provider_intervals.pacing import allowance
from airflow_provider_intervals.pacing.allowance import KeyState
from airflow_provider_intervals.pacing.bucket import TokenBucket
from airflow_provider_intervals.pacing.rates import Rate
from airflow_provider_intervals.pacing.stores import Failover, MemoryStore

T0 = 1_700_000_000.0
ENTERPRISE = Rate.for_plan("enterprise")


def test_a_state_reads_back_what_it_wrote_and_ignores_what_is_malformed():
    state = KeyState(
        tokens=-1.5, stamp=T0 + 1, epoch=3, safe=5.0, pace=5.5, window=T0, accepted=7, stepped=True, seen=T0
    )
    assert KeyState.load(state.dump(), T0) == state
    damaged = {"tokens": "soon", "epoch": True, "safe": -1, "pace": 2.0, "plan": [1], "stepped": 1}
    assert KeyState.load(damaged, T0) == KeyState()  # a pace without a safe one is no learned pace


def test_what_was_learned_is_forgotten_after_an_idle_hour():
    state = KeyState(
        tokens=0.0,
        stamp=T0,
        safe=5.0,
        pace=5.0,
        window=T0,
        accepted=3,
        seen=T0,
        plan={"rate": None, "at": T0},
    )
    kept = KeyState.load(state.dump(), T0 + allowance.FORGET_SECONDS)
    assert kept.pace == 5.0
    forgotten = KeyState.load(state.dump(), T0 + allowance.FORGET_SECONDS + 1)
    assert (forgotten.safe, forgotten.pace, forgotten.window, forgotten.accepted) == (None, None, None, 0)
    assert forgotten.plan == state.plan  # the plan has its own lifetime (PlanLookup)


def test_a_pause_moves_the_next_slot_past_retry_after_and_opens_an_epoch():
    state = KeyState()
    booked, _ = allowance.book(state, Rate(2.0, 2), T0, math.inf)
    assert booked == allowance.Booked(0.0, 0)
    allowance.pause(state, Rate(2.0, 2), T0, T0 + 10, epoch=0)
    assert (state.epoch, state.resume) == (1, T0 + 10)
    # Burst 1 from now on (the first 429 says the server's bucket is not what the plan says):
    # the first slot is half a period after retryAfter, the next ones a period apart.
    waits = [allowance.book(state, Rate(2.0, 2), T0, math.inf)[0].wait for _ in range(3)]
    assert waits == [pytest.approx(10.25), pytest.approx(10.75), pytest.approx(11.25)]
    assert allowance.pause(state, Rate(2.0, 2), T0, T0 + 99, epoch=0) is None  # booked before the pause
    assert state.epoch == 1


def test_two_429s_measure_the_rate_left_between_their_retry_after_moments():
    state, now = KeyState(), T0
    allowance.pause(state, ENTERPRISE, now, now + 0.2, epoch=None)  # the first: nothing to measure yet
    assert state.pace == ENTERPRISE.per_second
    allowance.count(state, [now + 0.1, now + 0.25, now + 0.45])  # one answer came before the window
    note = allowance.pause(state, ENTERPRISE, now + 0.5, now + 0.6, epoch=1)
    assert state.pace == pytest.approx(allowance.MARGIN * 2 / 0.4)  # 2 accepted in 0.4 s: 5/s
    assert "about 300 requests/min" in note
    assert state.rate(ENTERPRISE) == Rate(pytest.approx(4.85), 1)


def test_a_window_in_which_the_key_sat_idle_teaches_nothing():
    """A landing that stops sending for half a second (it starts workers, writes a part): the
    server's bucket filled up to its burst and dropped the rest, so the count (3 in 0.55 s) is
    no measure of the rate. The pace stays the plan's (burst 1), and the next window, busy
    throughout, measures it."""
    state, now = KeyState(), T0
    allowance.pause(state, ENTERPRISE, now, now + 0.02, epoch=None)
    for moment in (now + 0.03, now + 0.53, now + 0.54):  # half a second with nothing going on
        allowance.book(state, ENTERPRISE, moment, math.inf)
        allowance.count(state, [moment + 0.005])
    assert state.idle
    assert allowance.pause(state, ENTERPRISE, now + 0.55, now + 0.57, epoch=1) is None
    assert (state.pace, state.measured, state.span, state.idle) == (ENTERPRISE.per_second, 0, 0.0, False)
    for i in range(10):  # busy: a request every 200 ms (within four periods of 60 ms)
        moment = now + 0.58 + i * 0.2
        allowance.book(state, ENTERPRISE, moment, math.inf)
        allowance.count(state, [moment + 0.005])
    assert not state.idle
    note = allowance.pause(state, ENTERPRISE, now + 2.6, now + 2.6, epoch=2)
    assert state.pace == pytest.approx(allowance.MARGIN * 10 / 2.03)  # 10 accepted in 2.03 s
    assert "about 295.6 requests/min" in note


def test_the_pace_probes_up_once_a_period_and_back_down_on_a_429():
    state = KeyState(safe=5.0, pace=5.0, window=T0, probe_at=T0 + 60, seen=T0)
    assert allowance.probe(state, ENTERPRISE, T0 + 59) is None
    assert allowance.probe(state, ENTERPRISE, T0 + 60) is None  # 5/s held: still the learned rate
    assert (state.safe, state.pace, state.stepped) == (5.0, pytest.approx(5.5), True)
    assert allowance.probe(state, ENTERPRISE, T0 + 61) is None  # one step a period
    note = allowance.probe(state, ENTERPRISE, T0 + 120)  # 5.5/s held a period: learned
    assert (state.safe, state.pace) == (pytest.approx(5.5), pytest.approx(6.05))
    assert "330 requests/min held for 60s" in note
    allowance.count(state, [T0 + 121])
    allowance.pause(state, ENTERPRISE, T0 + 125, T0 + 125.2, epoch=0)  # the probe drew a 429
    assert (state.safe, state.pace, state.stepped) == (pytest.approx(5.5), pytest.approx(5.5), False)


def test_a_period_at_the_plans_rate_restores_the_plan_and_its_burst():
    premium = Rate.for_plan("premium")
    state = KeyState(safe=premium.per_second, pace=premium.per_second, probe_at=T0, seen=T0)
    assert state.rate(premium).burst == 1
    note = allowance.probe(state, premium, T0)
    assert (state.safe, state.pace) == (None, None)
    assert state.rate(premium) == premium
    assert "held for 60s: pacing at 100 requests/min (burst 20) again" in note


# ----------------------------------------------------------------------------- against a model server


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Server:
    """The API's rule: a token bucket per key; a refusal names the moment a token is back (ms)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), T0
        self.accepted = 0
        self.refused: list[float] = []

    def take(self, now: float) -> float | None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.accepted += 1
            return None
        self.refused.append(now)
        return math.ceil((now + (1 - self.tokens) / self.rate) * 1000) / 1000


def simulate(buckets, server, clock, streams_per_bucket, seconds, rtt=0.02, change=None):
    """Run streams that book, sleep, send and honour 429s as the hooks do, until ``seconds`` pass."""
    events = [(clock.now, i, b, "book", 0) for b in range(len(buckets)) for i in range(streams_per_bucket)]
    heapq.heapify(events)
    while events:
        moment, stream, b, what, epoch = heapq.heappop(events)
        if moment > T0 + seconds:
            break
        clock.now = moment
        if change is not None:
            change(moment - T0, server)
        bucket = buckets[b]
        if what == "book":
            wait, epoch = bucket.book()
            heapq.heappush(events, (moment + wait, stream, b, "send", epoch))
        elif what == "answered":
            bucket.answered(200)
            heapq.heappush(events, (moment, stream, b, "book", 0))
        elif moment < bucket.resumes_at:  # a pause came while this stream slept: book again
            heapq.heappush(events, (moment, stream, b, "book", 0))
        elif (retry_at := server.take(moment)) is None:
            heapq.heappush(events, (moment + rtt, stream, b, "answered", 0))
        else:
            bucket.pause_until(retry_at, epoch)
            heapq.heappush(events, (max(retry_at, moment + rtt), stream, b, "book", 0))


def _after(refused, seconds):
    return sum(1 for t in refused if t - T0 >= seconds)


def test_processes_sharing_the_plans_allowance_spend_it_whole_without_429s():
    clock, server = Clock(), Server(100 / 60, 20)  # premium, as the server enforces it
    shared = Failover(MemoryStore(), "key")
    processes = [TokenBucket(Rate.for_plan("premium"), clock, shared) for _ in range(4)]
    simulate(processes, server, clock, streams_per_bucket=4, seconds=600)
    assert server.refused == []
    assert server.accepted >= 0.99 * (20 + 100 / 60 * 600)


@pytest.mark.parametrize("streams", [1, 4, 10], ids=["1-stream", "4-streams", "10-streams"])
def test_a_real_allowance_below_the_plan_is_learned_and_probed_once_a_minute_at_most(streams):
    """The plan says 1,000/min (burst 50); the key really has 5/s (burst 2): 30 simulated minutes."""
    clock, server = Clock(), Server(5.0, 2)
    shared = Failover(MemoryStore(), "key")
    bucket = TokenBucket(ENTERPRISE, clock, shared)
    simulate([bucket], server, clock, streams_per_bucket=streams, seconds=1800)
    assert bucket.learned.per_second == pytest.approx(5.0 * allowance.MARGIN, rel=0.06)
    # After the first minute (the learning), at most one probing 429 per stream per minute; and
    # fewer: each probe that draws a 429 doubles the wait for the next (1, 2, 4, 8, 8, ... minutes).
    assert _after(server.refused, 60) <= streams * 29
    assert _after(server.refused, 60) <= 6
    assert len(server.refused) - _after(server.refused, 60) <= 4 * streams
    assert server.accepted >= 0.95 * (2 + 5.0 * 1800)


def test_the_pace_follows_an_allowance_that_others_take_and_give_back():
    """Another system takes half the key's 10/s from minute 10 to minute 20, then stops."""
    clock, server = Clock(), Server(10.0, 4)

    def others(elapsed, srv):
        srv.rate = 5.0 if 600 <= elapsed < 1200 else 10.0

    bucket = TokenBucket(Rate(10.0, 4), clock, Failover(MemoryStore(), "key"))
    paces = []
    for minute in range(40):
        simulate([bucket], server, clock, streams_per_bucket=2, seconds=60 * (minute + 1), change=others)
        paces.append(bucket.pace.per_second)
    assert paces[9] == pytest.approx(10.0, rel=0.1)
    assert paces[19] == pytest.approx(5.0 * allowance.MARGIN, rel=0.1)
    assert paces[39] == pytest.approx(10.0, rel=0.1)  # probed back up to the plan within 20 minutes
    assert _after(server.refused, 60) <= 2 * 39


def test_hosts_that_share_no_store_learn_their_parts_instead_of_asking_at_every_retry_after():
    """Four hosts pace one enterprise key each on its own (no shared store), ten simulated minutes.

    Each sees the others as "another system spending the key": short windows with one answer or
    none add up to its part, and a host left without a token backs off.
    """
    clock, server = Clock(), Server(ENTERPRISE.per_second, 50)
    hosts = [TokenBucket(ENTERPRISE, clock, Failover(MemoryStore(), f"host-{i}")) for i in range(4)]
    simulate(hosts, server, clock, streams_per_bucket=1, seconds=600)
    assert server.accepted >= 0.9 * (50 + ENTERPRISE.per_second * 600)
    assert _after(server.refused, 60) <= 4 * 9  # one a minute per stream at most
    assert sum(host.pace.per_second for host in hosts) <= 1.1 * ENTERPRISE.per_second
