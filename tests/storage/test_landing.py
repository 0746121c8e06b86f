"""Landing machinery against the sandbox over HTTP, on a local directory: parts, publish, resume."""

from __future__ import annotations

import gzip
import hashlib
import json
import time

import pytest
from airflow.sdk import ObjectStoragePath
from helpers import files, seed_failing_at, snapshot, unreachable_api

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.storage import (
    CHECKPOINT_KEY,
    MANIFEST,
    SUCCESS,
    LandingPaused,
    Stream,
    iter_records,
    land,
    partition_path,
    read_manifest,
    window_prefix,
)

YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


class DictStateStore:
    """The ``task_state_store`` interface (get/set/delete) over a dict, as shared by the tries."""

    def __init__(self) -> None:
        self.data: dict = {}
        self.writes = 0

    def get(self, key, default=None):
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key, value, *, retention=None):
        self.writes += 1
        self.data[key] = json.dumps(value)  # JSON round trip, as the real store does

    def delete(self, key):
        self.data.pop(key, None)


@pytest.fixture
def hooks(api, make_conn):
    make_conn(api)
    made = [IntervalsHook(), IntervalsHook()]
    yield made
    for hook in made:
        hook.close()


@pytest.fixture
def prefix(tmp_path):
    return window_prefix(ObjectStoragePath(f"file://{tmp_path}/lake"), "events", {"type": "all", **YEAR})


def _events(**filters):
    """A stream's pages: the events matching ``filters``, through the worker's hook, after a cursor."""
    return lambda hook, after: hook.event_pages(**filters, after=after)


def _land(prefix, hooks, streams=None, **kwargs):
    streams = streams or [Stream("000", _events(**YEAR), YEAR)]
    kwargs.setdefault("records_per_part", 250)
    return land(prefix, streams, hooks[:1], resource="events", description={"window": YEAR}, **kwargs)


def test_land_equals_store_record_for_record_in_api_order(api, hooks, prefix):
    result = _land(prefix, hooks)
    want = list(api.store.iter_events(**YEAR))
    assert list(iter_records(prefix, verify=True)) == want
    assert result.records == len(want) > 500
    assert result.parts == -(-len(want) // 250)  # parts roll by records, mid-page too
    assert result.requests == api.stats["requests"]


def test_manifest_describes_parts_with_checksums_and_success_comes_last(api, hooks, prefix):
    result = _land(prefix, hooks)
    manifest = read_manifest(prefix)
    assert (manifest["window"], manifest["format"], manifest["resource"]) == (YEAR, "jsonl", "events")
    assert manifest["records"] == result.records == sum(p["records"] for p in manifest["parts"])
    assert manifest["api_requests"] == api.stats["requests"]
    assert manifest["provider_version"]
    assert manifest["created_at"]
    for part in manifest["parts"]:
        data = (prefix / part["path"]).read_bytes()
        assert len(data) == part["bytes"]
        assert hashlib.sha256(data).hexdigest() == part["sha256"]
        assert gzip.decompress(data).count(b"\n") == part["records"]
    success = json.loads((prefix / SUCCESS).read_bytes())
    assert success["write_id"] == manifest["write_id"] == result.write_id
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in manifest["parts"])])


def test_rerun_gives_identical_bytes_and_replaces_only_its_window(api, hooks, prefix, tmp_path):
    sibling = window_prefix(
        ObjectStoragePath(f"file://{tmp_path}/lake"),
        "events",
        {"type": "all", "date_from": "2025-01-01", "date_to": "2025-12-30"},
    )
    sibling.mkdir(parents=True, exist_ok=True)
    (sibling / "keep.txt").write_bytes(b"another window")
    first = _land(prefix, hooks)
    before = read_manifest(prefix)
    second = _land(prefix, hooks)
    after = read_manifest(prefix)
    assert second.write_id != first.write_id
    assert [p["sha256"] for p in after["parts"]] == [p["sha256"] for p in before["parts"]]
    assert all(p.startswith(f"w={second.write_id}/") for p in [q["path"] for q in after["parts"]])
    assert not any(f.startswith(f"w={first.write_id}") for f in files(prefix))
    assert (sibling / "keep.txt").read_bytes() == b"another window"


def test_publish_removes_stray_files_under_the_window(api, hooks, prefix):
    stray = prefix / "w=deadbeef" / "part-000-00000.jsonl.gz"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a crashed try")
    (prefix / f"{MANIFEST}.old.tmp").write_bytes(b"{}")
    _land(prefix, hooks)
    manifest = read_manifest(prefix)
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in manifest["parts"])])


@pytest.mark.parametrize("records_per_part", [100, 250], ids=["part-per-page", "parts-split-pages"])
def test_retry_resumes_after_the_last_finished_part(api, make_conn, prefix, records_per_part):
    make_conn(api, max_retries=0)
    store = DictStateStore()
    crash_at = 6  # requests 0..5 succeed, request 6 fails and no retry is left
    api.set_faults(error_rate=0.2, seed=seed_failing_at(crash_at))
    with pytest.raises(exc.IntervalsServerError):
        _land(prefix, [IntervalsHook()], state_store=store, records_per_part=records_per_part)
    saved = store.get(CHECKPOINT_KEY)
    done = saved["streams"]["000"]["parts"]
    assert len(done) == crash_at * 100 // records_per_part
    assert not (prefix / MANIFEST).exists()  # nothing published by the failed try

    api.set_faults()
    api.reset_stats()
    full_pages = -(-api.store.count_events(**YEAR) // 100)
    result = _land(prefix, [IntervalsHook()], state_store=store, records_per_part=records_per_part)
    assert result.resumed_parts == len(done)
    assert result.write_id == saved["write_id"]
    assert api.stats["requests"] == result.requests < full_pages
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**YEAR))
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in read_manifest(prefix)["parts"])])
    assert CHECKPOINT_KEY not in store.data  # cleared once published


def test_without_a_state_store_a_retry_starts_over_and_leaves_no_orphan(api, make_conn, prefix):
    make_conn(api, max_retries=0)
    api.set_faults(error_rate=0.2, seed=seed_failing_at(4))
    with pytest.raises(exc.IntervalsServerError):
        _land(prefix, [IntervalsHook()], state_store=None)
    crashed = files(prefix)
    assert crashed
    assert all(f.startswith("w=") for f in crashed)

    api.set_faults()
    api.reset_stats()
    result = _land(prefix, [IntervalsHook()], state_store=None)
    assert result.resumed_parts == 0
    assert result.requests == -(-api.store.count_events(**YEAR) // 100)  # the whole window again
    assert list(iter_records(prefix)) == list(api.store.iter_events(**YEAR))
    assert not set(crashed) & set(files(prefix))


# ----------------------------------------------------------------------------- pausing for the allowance

# Four requests from a full bucket (burst 5, one token kept as headroom), then one per 10 s: past
# the hooks' max_rate_limit_wait of 1 s, so each call lands four pages and pauses.
PAUSING = {"requests_per_minute": 6, "burst": 5}


def _pausing_hooks(n: int = 1) -> list[IntervalsHook]:
    return [IntervalsHook(max_rate_limit_wait=1) for _ in range(n)]


def _land_until_published(land_once) -> tuple[object, list[LandingPaused]]:
    """Call ``land_once()`` until it publishes, each time as a new process (a full bucket)."""
    from airflow_provider_intervals import pacing

    pauses, waits = [], []
    while len(pauses) < 20:
        pacing.forget()
        try:
            result = land_once()
        except LandingPaused as pause:
            pauses.append(pause)
            waits.append(pause.retry_after - time.time())
            continue
        assert all(5 < wait < 11 for wait in waits)  # the next slot: 10 s after the last request
        return result, pauses
    raise AssertionError("no progress after 20 pauses")


def test_a_pause_keeps_every_page_fetched_and_the_resumes_fetch_none_twice(
    api, make_conn, prefix, fresh_pacing
):
    make_conn(api, **PAUSING)
    store = DictStateStore()
    pages = -(-api.store.count_events(**YEAR) // 100)

    def land_once():
        assert not (prefix / MANIFEST).exists()  # nothing is published before the last call
        return _land(prefix, _pausing_hooks(), state_store=store, pause_on_rate_limit=True)

    result, pauses = _land_until_published(land_once)
    assert len(pauses) == (pages - 1) // 4 >= 2
    assert [p.requests for p in pauses] == [4] * len(pauses)
    # Each pause finished the part it was writing early: 400 items are parts of 250 and 150.
    assert [(p.parts, p.records) for p in pauses] == [(2 * n, 400 * n) for n in range(1, len(pauses) + 1)]
    assert api.stats["pages_served"] == api.stats["requests"] == pages == result.api_requests
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**YEAR))
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in read_manifest(prefix)["parts"])])


def test_concurrent_streams_pause_together_and_no_stream_starts_after_a_pause(
    api, make_conn, prefix, fresh_pacing
):
    make_conn(api, **PAUSING)
    store = DictStateStore()
    # Half-years of about 500 events: no stream can finish on the four requests a call makes.
    halves = [("2025-01-01", "2025-06-30"), ("2025-07-01", "2025-12-31"),
                ("2026-01-01", "2026-06-30"), ("2026-07-01", "2026-12-31")]  # fmt: skip
    streams = [
        Stream(f"{i:03d}", _events(date_from=a, date_to=b), {"date_from": a, "date_to": b})
        for i, (a, b) in enumerate(halves)
    ]
    started = []

    def land_once():
        try:
            return land(prefix, streams, _pausing_hooks(2), resource="events", description={},
                        records_per_part=250, state_store=store, pause_on_rate_limit=True)  # fmt: skip
        finally:
            started.append(sorted(store.get(CHECKPOINT_KEY, {"streams": {}})["streams"]))

    result, pauses = _land_until_published(land_once)
    assert started[0] == ["000", "001"]  # the two workers' streams; the others wait for a resume
    assert pauses[0].requests == 4
    pages = sum(-(-api.store.count_events(date_from=a, date_to=b) // 100) for a, b in halves)
    assert api.stats["pages_served"] == api.stats["requests"] == pages == result.api_requests
    want = [e for a, b in halves for e in api.store.iter_events(date_from=a, date_to=b)]
    assert list(iter_records(prefix, verify=True)) == want


def test_without_pausing_a_long_wait_fails_as_before_and_keeps_only_full_parts(
    api, make_conn, prefix, fresh_pacing
):
    make_conn(api, **PAUSING)
    store = DictStateStore()
    with pytest.raises(exc.IntervalsRateLimitError, match="max_rate_limit_wait=1s"):
        _land(prefix, _pausing_hooks(), state_store=store)
    parts = store.get(CHECKPOINT_KEY)["streams"]["000"]["parts"]
    assert [p["records"] for p in parts] == [250]  # the 150 items of the unfinished part are not kept


def _crash_after_five_parts(api, make_conn, prefix) -> DictStateStore:
    """A first try that finishes five parts of 100 events, then fails with no retry left."""
    make_conn(api, max_retries=0)
    store = DictStateStore()
    api.set_faults(error_rate=0.2, seed=seed_failing_at(5))
    with pytest.raises(exc.IntervalsServerError):
        _land(prefix, [IntervalsHook()], state_store=store, records_per_part=100)
    api.set_faults()
    return store


def _failing_before_the_first_record(api, make_conn, failure):
    """Point the default connection where ``failure`` happens at the first request; return its error."""
    if failure == "wrong-key":
        make_conn(api, key="itv_not_a_key")
        return exc.IntervalsAuthenticationError, _events(**YEAR)
    if failure == "missing-group":
        make_conn(api)
        return exc.IntervalsNotFoundError, lambda hook, after: hook.group_event_pages(
            "no-such-group", after=after
        )
    make_conn(unreachable_api(), max_retries=1, plan="unknown")
    return exc.IntervalsTransportError, _events(**YEAR)


FAILURES = ["wrong-key", "missing-group", "unreachable"]


@pytest.mark.parametrize("failure", FAILURES)
def test_a_landing_that_fails_before_its_first_record_creates_nothing(api, make_conn, tmp_path, failure):
    prefix = window_prefix(ObjectStoragePath(f"file://{tmp_path}/lake"), "events", {"type": "all", **YEAR})
    error, pages = _failing_before_the_first_record(api, make_conn, failure)
    with pytest.raises(error):
        _land(prefix, [IntervalsHook()], [Stream("000", pages, YEAR)], state_store=DictStateStore())
    assert list(tmp_path.iterdir()) == []  # not the prefix, not even the landing zone's root


@pytest.mark.parametrize("failure", FAILURES)
def test_a_rerun_that_fails_before_its_first_record_leaves_the_published_window_as_it_was(
    api, make_conn, hooks, prefix, failure
):
    _land(prefix, hooks)
    before = snapshot(prefix)
    error, pages = _failing_before_the_first_record(api, make_conn, failure)
    with pytest.raises(error):
        _land(prefix, [IntervalsHook()], [Stream("000", pages, YEAR)], state_store=DictStateStore())
    assert snapshot(prefix) == before  # every file byte for byte, and no new folder
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**YEAR))


def test_a_retry_that_fails_before_its_first_record_keeps_the_parts_the_next_one_resumes(
    api, make_conn, prefix
):
    store = _crash_after_five_parts(api, make_conn, prefix)
    crashed = snapshot(prefix)
    assert len(store.get(CHECKPOINT_KEY)["streams"]["000"]["parts"]) == 5

    make_conn(unreachable_api(), max_retries=1, plan="unknown")  # the second try cannot reach the API at all
    with pytest.raises(exc.IntervalsTransportError):
        _land(prefix, [IntervalsHook()], state_store=store, records_per_part=100)
    assert snapshot(prefix) == crashed

    make_conn(api)
    result = _land(prefix, [IntervalsHook()], state_store=store, records_per_part=100)
    assert result.resumed_parts == 5
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**YEAR))
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in read_manifest(prefix)["parts"])])


def test_checkpoint_from_other_settings_is_ignored(api, make_conn, prefix):
    store = _crash_after_five_parts(api, make_conn, prefix)
    result = _land(prefix, [IntervalsHook()], state_store=store, records_per_part=300)
    assert result.resumed_parts == 0
    assert list(iter_records(prefix)) == list(api.store.iter_events(**YEAR))


def test_checkpoint_whose_parts_vanished_starts_over(api, make_conn, prefix):
    store = _crash_after_five_parts(api, make_conn, prefix)
    first = store.get(CHECKPOINT_KEY)["streams"]["000"]["parts"][0]["path"]
    (prefix / first).unlink()
    result = _land(prefix, [IntervalsHook()], state_store=store, records_per_part=100)
    assert result.resumed_parts == 0
    assert list(iter_records(prefix)) == list(api.store.iter_events(**YEAR))


def test_concurrent_streams_use_one_session_each_and_land_in_stream_order(api, hooks, prefix):
    halves = [("2025-01-01", "2025-06-30"), ("2025-07-01", "2025-12-31")]
    streams = [
        Stream(f"{i:03d}", _events(date_from=a, date_to=b), {"date_from": a, "date_to": b})
        for i, (a, b) in enumerate(halves)
    ]
    result = land(prefix, streams, hooks, resource="events", description={}, records_per_part=200)
    want = [e for a, b in halves for e in api.store.iter_events(date_from=a, date_to=b)]
    assert list(iter_records(prefix, verify=True)) == want
    assert result.records == len(want)
    assert all("session" in h.__dict__ for h in hooks)  # both workers fetched


def test_parquet_round_trip_keeps_nested_fields_and_a_stable_schema(api, hooks, tmp_path):
    import pyarrow.parquet as pq

    root = ObjectStoragePath(f"file://{tmp_path}/lake")
    schemas = []
    for window in (YEAR, {"date_from": "2026-03-01", "date_to": "2026-03-02"}):
        prefix = window_prefix(root, "events", {"type": "all", **window})
        streams = [Stream("000", _events(**window), window)]
        land(
            prefix, streams, hooks[:1], resource="events", description={}, fmt="parquet", records_per_part=400
        )
        want = list(api.store.iter_events(**window))
        assert list(iter_records(prefix, verify=True)) == want
        assert any("address" in e for e in want)
        for part in read_manifest(prefix)["parts"]:
            with (prefix / part["path"]).open("rb") as f:
                schemas.append(pq.read_schema(f))
    assert all(s.equals(schemas[0]) for s in schemas)
    assert str(schemas[0].field("date").type) == "date32[day]"
    assert str(schemas[0].field("address").type) == "string"  # nested object kept as JSON text


def test_empty_window_publishes_an_empty_manifest_or_fails(api, hooks, prefix):
    streams = [Stream("000", _events(date_from="2020-01-01", date_to="2020-01-02"))]
    result = land(prefix, streams, hooks[:1], resource="events", description={})
    assert result.records == 0
    assert read_manifest(prefix)["parts"] == []
    other = prefix.parent / "date_to=2020-01-03"
    with pytest.raises(exc.IntervalsEmptyWindowError, match="allow_empty=True"):
        land(other, streams, hooks[:1], resource="events", description={}, allow_empty=False)
    assert not (other / MANIFEST).exists()
    assert not other.exists()  # not even an empty series directory


def test_window_prefix_refuses_path_segments_that_escape():
    root = ObjectStoragePath("file:///tmp/lake")
    with pytest.raises(exc.IntervalsArgumentError, match="plain path segment"):
        window_prefix(root, "events", {"type": "../x"})
    assert str(window_prefix(root, "events", {"type": "race", "date_from": "2025-06-01"})).endswith(
        "/lake/events/type=race/date_from=2025-06-01"
    )


@pytest.mark.parametrize(
    ("partition", "expected"),
    [
        ({"type": "race", **YEAR}, "type=race/date_from=2025-01-01/date_to=2025-12-31"),
        ({"snapshot": "2025-06-01"}, "snapshot=2025-06-01"),
        ({}, ""),
    ],
    ids=["filters-then-window", "snapshot", "none"],
)
def test_partition_path_is_the_window_prefix_below_the_resource(partition, expected):
    root = ObjectStoragePath("file:///tmp/lake")
    assert partition_path(partition) == expected
    assert str(window_prefix(root, "groups", partition)) == "/".join(
        filter(None, ["file:///tmp/lake/groups", expected])
    )


@pytest.mark.parametrize("value", ["", "a/b", ".", ".."], ids=["empty", "slash", "dot", "dot-dot"])
def test_partition_path_refuses_what_is_not_one_plain_segment(value):
    with pytest.raises(exc.IntervalsArgumentError, match="plain path segment"):
        partition_path({"type": "race", "group": value})
