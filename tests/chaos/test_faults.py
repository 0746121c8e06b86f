"""Chaos: the events operator, the sensor, its trigger and the bulk write under every fault kind.

Each fault kind (5xx share, 429 bursts, latency spikes past the timeout, dropped connections,
bodies truncated on the wire or cut short with a matching Content-Length) and all of them at
once (with either truncation), seeded. A run either ends complete with exactly
the sandbox's data (no missing, no duplicate record or object: compared with ``api.store``),
or, when the faults outlast the retry budget, fails with the typed error and publishes
nothing: no ``_SUCCESS`` or manifest for a new window, the old one intact for a rerun.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
import uuid

import pytest
from airflow.sdk import DAG, ObjectStoragePath
from helpers import AssetStates, files, task_context, utc

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.operators.writes import IntervalsBulkCreateEventsOperator
from airflow_provider_intervals.sandbox import Faults
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor
from airflow_provider_intervals.storage import MANIFEST, SUCCESS, iter_records, read_manifest
from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsTrigger
from airflow_provider_intervals.windows import Window

pytestmark = pytest.mark.chaos

YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}
OCTOBER = {"date_from": "2025-10-01", "date_to": "2025-10-31"}
PAGE = 25  # small pages: more requests, so more faults per run
# Generous retries: a run must get through; fast backoff keeps the suite quick. The timeout
# is what a latency spike (SPIKE seconds per request) exceeds.
CHAOS_EXTRA = {"max_retries": 10, "timeout": 0.5, "page_size": PAGE}
SPIKE = 1.0

FAULTS = {
    "5xx": {"error_rate": 0.2, "error_statuses": (500, 503)},
    "429-bursts": {"rate_limit_burst": 4, "error_rate": 0.15, "error_statuses": (429,)},
    "latency-spikes": {},
    "dropped": {"drop_rate": 0.15},
    # A body cut on the wire (full Content-Length, connection closed), or cut short by a
    # proxy with a matching Content-Length (valid HTTP, invalid JSON).
    "truncated-wire": {"truncate_rate": 0.15, "truncate_mode": "wire"},
    "truncated-short": {"truncate_rate": 0.15, "truncate_mode": "short"},
    "all": {
        "rate_limit_burst": 3,
        "error_rate": 0.08,
        "error_statuses": (500, 503, 429),
        "drop_rate": 0.04,
        "truncate_rate": 0.04,
    },
    "all-short": {
        "rate_limit_burst": 3,
        "error_rate": 0.08,
        "error_statuses": (500, 503, 429),
        "drop_rate": 0.04,
        "truncate_rate": 0.04,
        "truncate_mode": "short",
    },
}
SPIKY = {"latency-spikes", "all", "all-short"}


@contextlib.contextmanager
def latency_spikes(sb, every: int = 15, seconds: float = 0.8):
    """Make requests slower than the timeout for ``seconds``: at the start, then every ``every`` requests.

    The spike starts with the first request, so a run always meets one; later ones follow the
    request count. Afterwards we wait out requests still sleeping in the sandbox, so the
    counters include them.
    """
    stop = threading.Event()

    def spike_loop():
        mark = sb.stats["requests"]
        while not stop.is_set():
            sb.faults.latency = SPIKE
            stop.wait(seconds)
            sb.faults.latency = 0.0
            mark += every
            while not stop.is_set() and sb.stats["requests"] < mark:
                stop.wait(0.005)

    thread = threading.Thread(target=spike_loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sb.faults.latency = 0.0
        time.sleep(SPIKE + 0.3)  # let timed-out requests finish in the sandbox and be counted


@contextlib.contextmanager
def chaos(sb, kind: str):
    """Apply the fault kind for the duration of the block."""
    sb.set_faults(seed=11 + list(FAULTS).index(kind), **FAULTS[kind])
    with latency_spikes(sb) if kind in SPIKY else contextlib.nullcontext():
        yield
    sb.set_faults()


def _pages(count: int, limit: int = PAGE) -> int:
    return max(1, math.ceil(count / limit))


def _expected(store, window, concurrency):
    """The window's events as a landing with ``concurrency`` lists them: sub-window by sub-window."""
    subs = Window(**window).sub_windows(concurrency)
    return [e for sub in subs for e in store.iter_events(**sub.__dict__)]


# ----------------------------------------------------------------------------- complete runs


@pytest.mark.parametrize("kind", list(FAULTS))
def test_events_operator_lands_exactly_the_window_under_faults(
    api, make_conn, run_dag, tmp_path, kind, chaos_report
):
    make_conn(api, **CHAOS_EXTRA)
    dag = DAG(f"chaos_land_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2024, 1, 1))
    with dag:
        IntervalsEventsOperator(
            task_id="land", output_path=f"file://{tmp_path}/lake", records_per_part=120, concurrency=2, **YEAR
        )
    with chaos(api, kind):
        run = run_dag(dag, utc(2026, 1, 1))
    stats = api.stats
    assert run.state == "success"
    summary = run.xcom("land")
    want = _expected(api.store, YEAR, 2)
    prefix = ObjectStoragePath(summary["manifest"]).parent
    got = list(iter_records(prefix, verify=True))
    assert got == want  # every record, once, in API order
    assert len({r["_id"] for r in got}) == len(got) == summary["records"]
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in read_manifest(prefix)["parts"])])
    retries = stats["requests"] - summary["requests"]
    if kind in SPIKY:
        assert retries >= stats["faults_injected"] + 1  # at least one timeout, retried
    else:
        # Each injected fault cost exactly one retry, and nothing else was asked twice.
        assert retries == stats["faults_injected"] > 0
    chaos_report(
        faults_injected=stats["faults_injected"],
        retries=retries,
        requests=stats["requests"],
        records_checked=len(got),
    )


def _create_events(store, count: int, date: str = "2025-10-20") -> list[str]:
    """Publish events straight into the sandbox's store, as another client would (no faults)."""
    tag = uuid.uuid4().hex[:8]
    return [
        store.create_event({"name": f"C{i}", "slug": f"chaos-{tag}-{i}", "type": "race", "date": date})
        for i in range(count)
    ]


@pytest.mark.parametrize("kind", list(FAULTS))
def test_sensor_reports_every_new_event_once_under_faults(api, make_conn, kind, chaos_report):
    make_conn(api, **{**CHAOS_EXTRA, "page_size": 5})
    sensor = IntervalsNewEventsSensor(task_id="wait", first_run="all", poke_interval=0.1, **OCTOBER)
    context = {"asset_state_store": AssetStates()}
    existing = [e["_id"] for e in api.store.iter_events(**OCTOBER)]
    assert existing
    with chaos(api, kind):
        first = sensor.poke(context)
    stats_first = api.stats
    new = _create_events(api.store, 12)
    api.reset_stats()
    with chaos(api, kind):
        second = sensor.poke(context)
        third = sensor.poke(context)
    stats = api.stats
    assert first.is_done
    assert first.xcom_value["new_event_ids"] == existing[:100]
    assert first.xcom_value["new_event_count"] == len(existing)
    assert second.is_done
    assert second.xcom_value["new_event_ids"] == new
    assert second.xcom_value["new_event_count"] == 12
    assert not third.is_done  # nothing reported twice
    faults = stats_first["faults_injected"] + stats["faults_injected"]
    pages = _pages(len(existing), 5) + _pages(12, 5) + 1
    retries = stats_first["requests"] + stats["requests"] - pages
    assert retries >= faults
    assert retries > 0
    chaos_report(
        faults_injected=faults, retries=retries, requests=pages + retries, records_checked=len(existing) + 12
    )


@pytest.mark.parametrize("kind", list(FAULTS))
def test_trigger_reports_every_new_event_once_under_faults(api, make_conn, kind, chaos_report):
    make_conn(api, **{**CHAOS_EXTRA, "page_size": 5})
    existing = [e["_id"] for e in api.store.iter_events(**OCTOBER)]

    def fire(baseline, first_run="all", deadline=60.0):
        trigger = IntervalsNewEventsTrigger(
            "intervals_default",
            dict(OCTOBER, event_type=None),
            baseline=baseline,
            first_run=first_run,
            poll_interval=0.05,
            deadline=time.time() + deadline,
        )
        return asyncio.run(trigger.run().__anext__()).payload

    with chaos(api, kind):
        first = fire(None)
    stats_first = api.stats
    new = _create_events(api.store, 7)
    api.reset_stats()
    with chaos(api, kind):
        second = fire(first["baseline"])
    stats = api.stats
    quiet = fire(second["baseline"], deadline=0.3)
    assert first["status"] == "success"
    assert first["new_event_ids"] == existing[:100]
    assert first["new_event_count"] == len(existing)
    assert second["status"] == "success"
    assert second["new_event_ids"] == new
    assert second["new_event_count"] == 7
    assert quiet["status"] == "timeout"  # nothing reported twice
    faults = stats_first["faults_injected"] + stats["faults_injected"]
    pages = _pages(len(existing), 5) + _pages(7, 5)
    retries = stats_first["requests"] + stats["requests"] - pages
    assert retries >= faults
    assert retries > 0
    chaos_report(
        faults_injected=faults, retries=retries, requests=pages + retries, records_checked=len(existing) + 7
    )


def _bulk_file(tmp_path, count: int, tag: str) -> ObjectStoragePath:
    path = ObjectStoragePath(f"file://{tmp_path}/plans/season-{tag}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "name": f"Chaos {tag} {i}",
            "slug": f"chaos-{tag}-{i}",
            "type": "race",
            "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
        }
        for i in range(count)
    ]
    with path.open("wb") as out:
        out.write("".join(json.dumps(r) + "\n" for r in rows).encode())
    return path


def _created(store, tag: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in store.iter_events():
        if event["slug"].startswith(f"chaos-{tag}-"):
            found.setdefault(event["slug"], []).append(event["_id"])
    return found


def _results(path: ObjectStoragePath) -> list[dict]:
    results = path.parent / f"{path.name}.results.jsonl"
    with results.open("rb") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("kind", list(FAULTS))
def test_bulk_write_creates_every_row_exactly_once_under_faults(api, make_conn, tmp_path, kind, chaos_report):
    make_conn(api, **CHAOS_EXTRA)
    rows, tag = 40, uuid.uuid4().hex[:8]
    path = _bulk_file(tmp_path, rows, tag)
    op = IntervalsBulkCreateEventsOperator(task_id="bulk", input_path=str(path))
    with chaos(api, kind):
        summary = op.execute(task_context("chaos", "bulk", "manual__chaos"))
    stats = api.stats
    created = _created(api.store, tag)
    results = _results(path)
    assert summary["created"] == rows
    assert summary["failed"] == 0
    assert sorted(created) == sorted(f"chaos-{tag}-{i}" for i in range(rows))
    assert all(len(ids) == 1 for ids in created.values())  # no duplicate object
    assert {r["key"]: [r["id"]] for r in results} == created
    retries = stats["requests"] - rows
    if kind in SPIKY:
        assert retries >= stats["faults_injected"] + 1
    else:
        assert retries == stats["faults_injected"] > 0
    # A dropped POST was processed before its connection closed: its retry was a replay.
    assert stats["idempotent_replays"] >= stats["dropped"]
    chaos_report(
        faults_injected=stats["faults_injected"],
        retries=retries,
        requests=stats["requests"],
        replays=stats["idempotent_replays"],
        records_checked=rows,
    )


# ----------------------------------------------------------------------------- faults outlast retries


def _seed_failing_run(faults: dict, start: int, length: int) -> int:
    """A seed whose fault draws pass until request ``start``, then fail ``length`` times in a row."""
    for seed in range(100_000):
        draws = Faults(**faults, seed=seed)
        outcomes = [draws.draw() is not None for _ in range(start + length)]
        if not any(outcomes[:start]) and all(outcomes[start:]):
            return seed
    raise AssertionError("no such seed")


BUDGET = {
    "5xx": ({"error_rate": 0.5, "error_statuses": (500, 503)}, exc.IntervalsServerError),
    # A 429 that names its retry moment spends no retry: the budget is the longest wait.
    "429": (
        {"error_rate": 0.5, "error_statuses": (429,), "rate_limit_retry_ms": 100},
        exc.IntervalsRateLimitError,
    ),
    "dropped": ({"drop_rate": 0.5}, exc.IntervalsTransportError),
    "truncated-wire": ({"truncate_rate": 0.5}, exc.IntervalsTransportError),
    "truncated-short": (
        {"truncate_rate": 0.5, "truncate_mode": "short"},
        exc.IntervalsMalformedResponseError,
    ),
    "latency": ({"latency": 0.6}, exc.IntervalsTimeoutError),
}
FAIL_AT = 6  # the request where the faults start: pages (and parts) were already written


def _land(tmp_path, name, concurrency=1):
    return IntervalsEventsOperator(
        task_id="land",
        output_path=f"file://{tmp_path}/{name}",
        records_per_part=PAGE,
        concurrency=concurrency,
        **YEAR,
    )


@pytest.mark.parametrize("kind", list(BUDGET))
def test_faults_outlasting_retries_fail_typed_and_publish_nothing(
    api, make_conn, tmp_path, kind, chaos_report
):
    retries = 2
    # Two 100 ms waits fit in 0.25 s of rate-limit waiting, a third does not: the 429s fail as
    # the other faults do, on the third in a row.
    make_conn(api, **{**CHAOS_EXTRA, "max_retries": retries, "timeout": 0.2, "max_rate_limit_wait": 0.25})
    faults, error_type = BUDGET[kind]
    if kind != "latency":  # a seed that fails requests FAIL_AT, FAIL_AT + 1, ... in a row
        faults = {**faults, "seed": _seed_failing_run(faults, FAIL_AT, retries + 1)}

    # A window published earlier (the old one), and a window never published (the new one).
    old = _land(tmp_path, "old").execute({})
    old_prefix = ObjectStoragePath(old["manifest"]).parent
    before = {name: (old_prefix / name).read_bytes() for name in (MANIFEST, SUCCESS)}
    api.reset_stats()
    failures = 0
    for name in ("old", "new"):
        api.set_faults(**faults)
        with pytest.raises(error_type) as raised:
            _land(tmp_path, name).execute({})
        failures += 1
        if isinstance(raised.value, exc.IntervalsAPIError):
            assert str(raised.value).startswith(f"Intervals API {raised.value.status}")
        else:
            assert str(raised.value).startswith("GET /events ")
    stats = api.stats
    api.set_faults()

    # The old window is untouched and complete; the new one has no manifest and no marker.
    assert {name: (old_prefix / name).read_bytes() for name in before} == before
    assert list(iter_records(old_prefix, verify=True)) == list(api.store.iter_events(**YEAR))
    new_prefix = ObjectStoragePath(str(old_prefix).replace("/old/", "/new/"))
    leftovers = files(new_prefix)
    assert MANIFEST not in leftovers
    assert SUCCESS not in leftovers
    if kind != "latency":
        assert len(leftovers) >= FAIL_AT - 1  # finished parts of the failed try, unpublished

    # Once the faults stop, a rerun publishes the whole window and removes what the failure left.
    again = _land(tmp_path, "new").execute({})
    assert list(iter_records(new_prefix, verify=True)) == list(api.store.iter_events(**YEAR))
    parts = [p["path"] for p in read_manifest(new_prefix)["parts"]]
    assert files(new_prefix) == sorted([MANIFEST, SUCCESS, *parts])
    chaos_report(
        faults_injected=stats["faults_injected"],
        retries=2 * retries,
        requests=stats["requests"],
        records_checked=2 * again["records"],
        expected_failed_tries=failures,
        error=error_type.__name__,
    )


def test_bulk_write_failing_midway_then_retried_creates_each_row_once(api, make_conn, tmp_path, chaos_report):
    make_conn(api, **{**CHAOS_EXTRA, "max_retries": 2})
    rows, tag = 30, uuid.uuid4().hex[:8]
    path = _bulk_file(tmp_path, rows, tag)
    faults = {"error_rate": 0.5, "error_statuses": (503,)}
    api.set_faults(**faults, seed=_seed_failing_run(faults, FAIL_AT + 4, 3))
    op = IntervalsBulkCreateEventsOperator(task_id="bulk", input_path=str(path), checkpoint_rows=3)
    with pytest.raises(exc.IntervalsServerError, match="503"):
        op.execute(task_context("chaos", "bulk", "manual__chaos", try_number=1))
    stats = api.stats
    api.set_faults()
    assert len(_created(api.store, tag)) == FAIL_AT + 4  # the rows before the failure exist
    retry = IntervalsBulkCreateEventsOperator(task_id="bulk", input_path=str(path), checkpoint_rows=3)
    summary = retry.execute(task_context("chaos", "bulk", "manual__chaos", try_number=2))
    created = _created(api.store, tag)
    assert len(created) == rows
    assert all(len(ids) == 1 for ids in created.values())
    assert summary["created"] + summary["existing"] == rows
    # Rows in a checkpoint are skipped; the rest were replayed by their idempotency keys.
    assert FAIL_AT + 4 - 3 < summary["existing"] <= FAIL_AT + 4
    assert {r["key"]: [r["id"]] for r in _results(path)} == created
    chaos_report(
        faults_injected=stats["faults_injected"],
        retries=2,
        records_checked=rows,
        expected_failed_tries=1,
        resumed_rows=summary["existing"],
    )
