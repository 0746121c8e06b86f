"""Sizing the requests in flight: round trips measured, workers needed, when another one starts."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import pytest

from airflow_provider_intervals import inflight, pacing
from airflow_provider_intervals.inflight import RoundTrips, Sizer, start_another, workers_needed

ENTERPRISE = pacing.Rate.for_plan("enterprise")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("per_second", "round_trip", "bound", "wanted"),
    [
        (1000 / 60, 0.150, 8, 4),  # 2.5 in flight, with headroom 3.75
        (1000 / 60, 0.100, 8, 3),
        (1000 / 60, 0.002, 8, 1),  # a near API: one stream spends the allowance
        (100 / 60, 0.150, 8, 1),  # premium
        (1000 / 60, 2.0, 8, 8),  # more than allowed: the bound
        (None, 0.150, 8, 8),  # not paced: up to the bound
    ],
    ids=["enterprise-150ms", "enterprise-100ms", "enterprise-loopback", "premium", "slow", "unpaced"],
)
def test_workers_needed_keep_rate_times_round_trip_in_flight(per_second, round_trip, bound, wanted):
    assert workers_needed(per_second, round_trip, bound) == wanted


@pytest.mark.parametrize("round_trip", [0.100, 0.150, 0.300])
def test_the_default_concurrency_reaches_the_enterprise_allowance(round_trip):
    needed = workers_needed(ENTERPRISE.per_second, round_trip, inflight.MAX_CONCURRENCY)
    assert needed <= inflight.DEFAULT_CONCURRENCY <= inflight.MAX_CONCURRENCY
    # The workers needed, each with one request per round trip, go faster than the key's pace.
    assert needed / round_trip >= ENTERPRISE.per_second * inflight.HEADROOM


@pytest.mark.parametrize(
    ("running", "wanted", "slot_wait", "in_flight", "start"),
    [
        (2, 4, 0.0, 2, True),  # tokens left and every stream waits on the network
        (2, 4, None, 2, True),  # not paced: only the network to wait for
        (4, 4, 0.0, 4, False),  # as many as the round trip needs
        (2, 4, 0.05, 2, False),  # the bucket is what they wait for
        (2, 4, 0.0, 1, False),  # one is busy elsewhere (parsing, writing)
    ],
    ids=["network-bound", "unpaced", "enough", "bucket-bound", "not-all-in-flight"],
)
def test_start_another_only_when_every_stream_waits_on_the_network(
    running, wanted, slot_wait, in_flight, start
):
    assert start_another(running, wanted, slot_wait, in_flight) is start


def test_round_trips_count_in_flight_and_average_the_answered_ones():
    clock = Clock()
    trips = RoundTrips(clock)
    with trips.measure():
        assert trips.in_flight == 1
        with trips.measure():
            assert trips.in_flight == 2
            clock.now += 0.100
        clock.now += 0.100
    assert (trips.in_flight, trips.samples) == (0, 2)
    assert trips.average == pytest.approx(0.100 + inflight.SMOOTHING * (0.200 - 0.100))

    def reset() -> None:
        with trips.measure():
            clock.now += 30
            raise ConnectionResetError("connection reset")

    with pytest.raises(ConnectionResetError, match="connection reset"):
        reset()  # a transport error: no answer, no round trip
    with trips.measure(record=False):  # the plan lookup
        clock.now += 5
    assert (trips.in_flight, trips.samples) == (0, 2)


def _client(bucket, round_trip=None, in_flight=0):
    trips = RoundTrips()
    if round_trip is not None:
        trips.add(round_trip)
    trips.in_flight = in_flight
    return SimpleNamespace(round_trips=trips, bucket=bucket)


def _bucket(rate=ENTERPRISE, spent=0):
    """The key's bucket, ``spent`` slots booked from full, on a clock that does not move."""
    bucket = pacing.TokenBucket(rate, clock=Clock())
    for _ in range(spent):
        bucket.reserve()
    return bucket


def test_sizer_waits_for_a_measured_answer_before_starting_another(caplog):
    clients = [_client(_bucket(), in_flight=1), _client(None)]
    assert not Sizer(8, clients, logging.getLogger("land")).more(1)


def test_sizer_starts_workers_up_to_what_the_round_trip_needs(caplog):
    bucket = _bucket()
    clients = [_client(bucket, 0.150, in_flight=1)] + [_client(bucket, in_flight=1) for _ in range(7)]
    sizer = Sizer(8, clients, logging.getLogger("land"))
    with caplog.at_level(logging.INFO, logger="land"):
        started = [sizer.more(n) for n in range(1, 8)]
    assert started == [True, True, True, False, False, False, False]
    assert sizer.peak == 4 == math.ceil(ENTERPRISE.per_second * 0.150 * inflight.HEADROOM)
    assert (
        "Starting worker 4 of at most 8: round trip 150 ms at 16.7 requests/s wants 4 in flight"
        in caplog.text
    )


def test_sizer_starts_none_while_the_bucket_is_empty():
    bucket = _bucket(spent=49)  # the burst spent (49 of 50: one token of headroom), the clock still
    assert bucket.wait_for_next() > 0
    clients = [_client(bucket, 0.150, in_flight=1), _client(bucket)]
    assert not Sizer(8, clients, logging.getLogger("land")).more(1)


def test_sizer_starts_up_to_the_bound_when_the_key_is_not_paced():
    clients = [_client(None, 0.001, in_flight=1)] + [_client(None, in_flight=1) for _ in range(3)]
    sizer = Sizer(3, clients, logging.getLogger("land"))
    assert [sizer.more(n) for n in (1, 2, 3)] == [True, True, False]
