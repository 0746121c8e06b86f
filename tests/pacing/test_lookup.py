"""The plan lookup: one per key, its outcome (a plan, "not paced", or a failure) shared through the
key's store by every process that uses the key."""

from __future__ import annotations

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import pacing
from airflow_provider_intervals.pacing import PlanLookup, Rate
from airflow_provider_intervals.pacing.stores import Failover, FileStore

URL = "https://api.intervals.run"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _server_error() -> exc.IntervalsServerError:
    return exc.IntervalsServerError(503, "SERVICE_UNAVAILABLE", "Service unavailable")


def _process(directory, clock) -> PlanLookup:
    """The lookup as one process has it, on the key's entry in a per-host directory."""
    return PlanLookup(Failover(FileStore(directory), "key"), clock)


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
def test_a_failed_lookup_is_raised_again_at_once_for_its_url_until_it_is_forgotten(error, tmp_path):
    clock = Clock()
    lookup, other_process = _process(tmp_path, clock), _process(tmp_path, clock)
    assert lookup.recall(URL) == (False, None)
    assert lookup.failed(URL, error) is None  # the caller raises it
    for asker in (lookup, other_process):
        with pytest.raises(type(error)) as again:
            asker.recall(URL)
        assert str(again.value).startswith(str(error))
        assert "for this key, after its retries; not asked again for 60s" in str(again.value)
        assert getattr(again.value, "retry_after", None) == getattr(error, "retry_after", None)
    assert lookup.recall("http://127.0.0.1:8787") == (False, None)  # another host: ask it
    clock.now += pacing.LOOKUP_FAILURE_SECONDS - 1
    with pytest.raises(type(error)):
        other_process.recall(URL)
    clock.now += 1
    assert lookup.recall(URL) == (False, None)  # forgotten: a long-lived process asks again


def test_a_403_means_not_paced_for_every_process_sharing_the_key(tmp_path):
    clock = Clock()
    refused = exc.IntervalsPermissionError(403, "FORBIDDEN", "API key lacks scope read:series")
    assert "requests are not paced" in _process(tmp_path, clock).failed(URL, refused)
    clock.now += 10 * pacing.LOOKUP_FAILURE_SECONDS
    assert _process(tmp_path, clock).recall(URL) == (True, None)


def test_a_plan_learned_by_one_process_is_read_by_the_next_until_it_is_an_hour_old(tmp_path):
    clock = Clock()
    first = _process(tmp_path, clock)
    first.failed(URL, _server_error())
    assert first.learned({"plan": "premium"}) is None  # replaces the failure
    assert _process(tmp_path, clock).recall(URL) == (True, Rate.for_plan("premium"))
    clock.now += pacing.PLAN_SECONDS
    assert _process(tmp_path, clock).recall(URL) == (False, None)  # asked again: plans change
    assert first.recall(URL) == (True, Rate.for_plan("premium"))  # a process keeps what it knows


def test_the_lookup_books_its_own_request_in_the_keys_bucket(fresh_pacing):
    lookup = pacing.plan_lookup("itv_learner")
    assert lookup.learned({"plan": "enterprise"}) is None
    assert lookup.recall(URL) == (True, Rate.for_plan("enterprise"))
    assert pacing.bucket_for("itv_learner", Rate.for_plan("enterprise")).reserved == 1
    assert "not a documented one" in PlanLookup().learned({"plan": "elite"})
