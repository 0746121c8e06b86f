"""Chaos in real processes: a task killed with SIGKILL mid-window, mapped tasks sharing a rate limit,
and a 1,000,000-event window under ``ulimit -n 256`` and a memory cap.

The tasks run in subprocesses (``tests/chaos/runner.py``: ``dag.test`` against the session's
metadata DB) and the sandbox runs as its own process (``SandboxProcess``), so a kill, a file
limit or an address-space limit hits the task and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import signal
import sys
import uuid
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from helpers import files

from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY
from airflow_provider_intervals.sandbox import Store
from airflow_provider_intervals.sandbox.process import SandboxProcess
from airflow_provider_intervals.storage import MANIFEST, SUCCESS, iter_records, read_manifest
from airflow_provider_intervals.supervisor import Child, signal_session, wait_for
from airflow_provider_intervals.windows import Window

pytestmark = pytest.mark.chaos

RUNNER = Path(__file__).with_name("runner.py")
SEED = 7
FULL = {"date_from": "2025-01-01", "date_to": "2026-12-31"}  # the sandbox's whole seeded range


def _store(events: int) -> Store:
    """The ground truth of a sandbox process started with ``--events N --seed SEED`` (CLI defaults)."""
    return Store(events, SEED, dt.date(2025, 1, 1), 730, "enterprise")


def _env(sb: SandboxProcess, **extra) -> dict[str, str]:
    conn = json.loads(sb.connection_json)  # its extras pace the client to the sandbox's limit
    conn["extra"] = {
        **conn.get("extra", {}),
        "retry_backoff": 0.01,
        "retry_backoff_max": 0.5,
        "max_retries": 10,
        "timeout": 10,
        **extra,
    }
    return {**os.environ, "AIRFLOW_CONN_INTERVALS_DEFAULT": json.dumps(conn)}


def _runner(spec: dict, env: dict, **popen) -> Child:
    """Start the runner: a supervised child in a session of its own, its output captured."""
    command = [sys.executable, RUNNER, json.dumps(spec)]
    return Child(command, name="the runner", env=env, capture=True, **popen).start()


def _result(runner: Child, timeout: float = 600) -> dict:
    """Wait for the runner's end (it is stopped, with all it started, whatever happens); its result."""
    try:
        code = runner.wait(timeout)
    finally:
        left = runner.stop()
    assert left == [], f"the runner left processes running: {left}"
    out = runner.output()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the runner printed no result (exit {code}):\n{out[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def _digest(ids) -> tuple[int, str, int]:
    """Count, a digest of the ids in order, and the number of distinct ids, streaming."""
    sha, seen, count = hashlib.sha256(), set(), 0
    for eid in ids:
        sha.update(eid.encode() + b"\n")
        seen.add(eid)
        count += 1
    return count, sha.hexdigest(), len(seen)


@pytest.mark.usefixtures("airflow_db")
def test_task_killed_mid_window_is_retried_to_a_complete_window_without_orphans(tmp_path, chaos_report):
    events = 20_000
    with SandboxProcess(events, ["--no-rate-limit", "--seed", str(SEED), "--latency", "0.02"]) as sb:
        env = _env(sb)
        output = f"file://{tmp_path}/lake"
        spec = {
            "dag_id": f"chaos_kill_{uuid.uuid4().hex[:8]}",
            "output_path": output,
            "logical_date": "2027-01-01T00:00:00+00:00",
            "operator": {**FULL, "records_per_part": 1000, "concurrency": 2, "retries": 1},
        }
        prefix = ObjectStoragePath(output) / "events/type=all" / "date_from=2025-01-01/date_to=2026-12-31"
        victim = _runner(spec, env)
        # Kill once at least three parts are finished and before the window is published.
        parts = lambda: len([f for f in files(prefix) if f.endswith(".jsonl.gz")]) >= 4  # noqa: E731
        victim.wait_until("four parts", parts, 300, every=0.05)
        signal_session(victim.pid, signal.SIGKILL)  # kill -9, the task and all it started
        victim.wait(60)
        # A request the killed try had in flight is still answered (the latency): count it too.
        sb_idle = lambda: sb.control("stats")["in_flight"] == 0  # noqa: E731
        wait_for("the sandbox to answer what the killed try sent", sb_idle, 30, every=0.05)
        killed_requests = sb.control("stats")["requests"]
        left = files(prefix)
        assert victim.returncode == -signal.SIGKILL
        assert MANIFEST not in left
        assert SUCCESS not in left

        retried = _result(_runner({**spec, "retry": True}, env))  # the task's next try, same run
        stats = sb.control("stats")
    (task,) = retried["tasks"]
    assert retried["state"] == "success"
    assert task["state"] == "success"
    assert task["try_number"] == 2  # the killed try's retry, in the same run
    summary = task["xcom"]
    # The try resumed from the parts its killed try checkpointed: it kept them and asked the API
    # only for what came after them.
    assert summary["resumed_parts"] >= 2
    assert stats["requests"] - killed_requests == summary["requests"]
    assert summary["requests"] < 200  # a window started over takes 200 pages, plus the plan
    records = list(iter_records(prefix, verify=True))
    subs = Window("2025-01-01", "2026-12-31").sub_windows(spec["operator"]["concurrency"])
    want = [
        e for sub in subs for e in _store(events).iter_events(date_from=sub.date_from, date_to=sub.date_to)
    ]
    assert [r["_id"] for r in records] == [e["_id"] for e in want]
    assert records == want
    assert len({r["_id"] for r in records}) == events
    parts = [p["path"] for p in read_manifest(prefix)["parts"]]
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *parts])  # the killed try's parts are gone
    chaos_report(
        killed_after_requests=killed_requests,
        parts_before_kill=len(left),
        resumed_parts=summary["resumed_parts"],
        requests_total=stats["requests"],
        records_checked=len(records),
        killed_tries=1,
    )


def test_mapped_tasks_share_one_keys_rate_limit_without_a_429_failure(
    api, make_conn, run_dag, tmp_path, chaos_report
):
    """Four mapped tasks, up to four sub-windows at once each, under 4 requests/s (burst 2) for their key.

    ``dag.test`` runs the mapped task instances one after the other (its executor-backed mode
    needs an API server) in this process: every stream of every task books its requests in
    the key's one token bucket, so the limit is spent at its rate and not hammered.
    """
    from airflow.sdk import DAG

    from airflow_provider_intervals import pacing
    from airflow_provider_intervals.operators.events import IntervalsEventsOperator

    # Slow enough that the pace binds even on a busy machine: its 40-odd requests cannot all come
    # a quarter of a second apart on their own.
    api.rate_limits = {"enterprise": (4, 1.0, 2)}
    make_conn(api, max_retries=8, page_size=50)  # its extras carry the limit: 240/min, burst 2
    pacing.forget()
    quarters = [
        ("2025-01-01", "2025-03-31"),
        ("2025-04-01", "2025-06-30"),
        ("2025-07-01", "2025-09-30"),
        ("2025-10-01", "2025-12-31"),
    ]
    dag = DAG(
        f"chaos_mapped_{uuid.uuid4().hex[:8]}",
        schedule=None,
        start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    with dag:
        IntervalsEventsOperator.partial(
            task_id="land", output_path=f"file://{tmp_path}/lake", concurrency=4, records_per_part=300
        ).expand_kwargs([{"date_from": a, "date_to": b} for a, b in quarters])
    try:
        run = run_dag(dag, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        (bucket,) = pacing.registry._BUCKETS.values()
    finally:
        stats = api.stats
        api.rate_limits = False
        pacing.forget()
    assert run.state == "success"
    summaries = [_xcom(run.dag_run, "land", i) for i in range(4)]
    checked = 0
    for summary, (date_from, date_to) in zip(summaries, quarters, strict=False):
        assert (summary["date_from"], summary["date_to"]) == (date_from, date_to)
        prefix = ObjectStoragePath(summary["manifest"]).parent
        got = list(iter_records(prefix, verify=True))
        want = [
            e
            for sub in Window(date_from, date_to).sub_windows(4)
            for e in api.store.iter_events(**sub.__dict__)
        ]
        assert got == want
        assert len({r["_id"] for r in got}) == len(got)
        checked += len(got)
    # The limit bound the pull: the bucket booked every request and made them wait for the rate ...
    pages = sum(s["requests"] for s in summaries)
    assert bucket.reserved == pages + stats["rate_limited"]
    assert bucket.waited > 0
    print(f"\n[chaos] mapped: {pages} pages, waited {bucket.waited:.1f} s, 429s {stats['rate_limited']}")
    # ... and the sixteen workers (at most four a task) drew at most one 429 each, where the old
    # client drew one a page.
    assert stats["rate_limited"] <= 16
    assert stats["requests"] == pages + stats["rate_limited"]
    chaos_report(
        tasks=4,
        workers_per_task=4,
        rate_limited_429s=stats["rate_limited"],
        requests=stats["requests"],
        records_checked=checked,
    )


@pytest.mark.usefixtures("airflow_db")
@pytest.mark.parametrize("recipe", ["pool", "share"])
def test_tasks_on_separate_workers_keep_to_one_allowance(tmp_path, chaos_report, recipe):
    """Four tasks in four processes, one key, 10 requests/s (burst 4), with the README's recipes.

    ``pool``: an Airflow pool of one slot for the key runs them one after another, each at the
    whole allowance (the next one inherits the key's drained bucket); ``share``: four hosts
    without a shared pacing store (a pacing directory each), ``max_active_tis_per_dag=4`` with the
    connection paced to a quarter of the plan (``requests_per_minute`` 150, ``burst`` 1), at once.
    """
    events = 2_000
    quarters = [
        ("2025-01-01", "2025-06-30"),
        ("2025-07-01", "2025-12-31"),
        ("2026-01-01", "2026-06-30"),
        ("2026-07-01", "2026-12-31"),
    ]
    with SandboxProcess(events, ["--seed", str(SEED), "--rate-limit", "10/1/4"]) as sb:
        extra = {"page_size": 25}
        if recipe == "share":
            extra.update(requests_per_minute=150, burst=1)
        env = _env(sb, **extra)
        specs = [
            {
                "execute": True,
                "output_path": f"file://{tmp_path}/lake-{i}",
                "operator": {"date_from": a, "date_to": b, "concurrency": 1},
            }
            for i, (a, b) in enumerate(quarters)
        ]
        if recipe == "pool":
            results = [_result(_runner(spec, env)) for spec in specs]
        else:
            hosts = [{**env, "INTERVALS_PACING_DIR": str(tmp_path / f"host-{i}")} for i in range(len(specs))]
            results = [
                _result(p) for p in [_runner(spec, host) for spec, host in zip(specs, hosts, strict=True)]
            ]
        stats = sb.control("stats")
    store = _store(events)
    landed = 0
    for result, (a, b) in zip(results, quarters, strict=True):
        (task,) = result["tasks"]
        prefix = ObjectStoragePath(task["xcom"]["manifest"]).parent
        assert list(iter_records(prefix, verify=True)) == list(store.iter_events(date_from=a, date_to=b))
        landed += task["xcom"]["records"]
    assert landed == events
    limited = stats["by_status"].get("429", 0)
    # A pool's tasks share the key's bucket (one host): none starts with a fresh burst. A share's
    # fresh buckets may meet a server bucket the others emptied: one 429 per task at most, waited
    # out, never a failure.
    assert limited <= (1 if recipe == "pool" else 4)
    chaos_report(
        recipe=recipe, tasks=4, rate_limited_429s=limited, requests=stats["requests"], records_checked=landed
    )


def _xcom(dag_run, task_id: str, map_index: int):
    """The return value of one mapped task instance."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(
        run_id=dag_run.run_id,
        dag_ids=dag_run.dag_id,
        task_ids=task_id,
        map_indexes=map_index,
        key="return_value",
    )
    with create_session() as session:
        return XComModel.deserialize_value(session.scalars(query).one())


OPEN_FILES = 256
# Address space: each worker thread (up to the default concurrency, 8, each with a prefetch
# helper) reserves a stack and a malloc arena of address space it barely touches (1,304 MB of
# address space for 155 MB resident, measured): the cap on address space stops a runaway, the
# cap that matters to a container, resident memory, is asserted.
MEMORY_CAP_MB = 2048
RESIDENT_CAP_MB = 384


def _limit_resources() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_MB << 20, MEMORY_CAP_MB << 20))


@pytest.mark.slow
def test_a_million_event_window_lands_under_256_open_files_and_a_memory_cap(tmp_path, chaos_report):
    """1,000,000 events, one window, ``ulimit -n 256``, 2 GB address space, 384 MB resident (about 70 s)."""
    events = 1_000_000
    with SandboxProcess(events, ["--no-rate-limit", "--seed", str(SEED)]) as sb:
        spec = {"execute": True, "output_path": f"file://{tmp_path}/lake", "operator": dict(FULL)}
        result = _result(_runner(spec, _env(sb), preexec_fn=_limit_resources), timeout=1200)
        stats = sb.control("stats")
    (task,) = result["tasks"]
    process = result["process"]
    assert process["nofile"] == OPEN_FILES
    assert process["as"] == MEMORY_CAP_MB << 20
    assert process["VmHWM"] // 1024 <= RESIDENT_CAP_MB  # peak resident set, kB
    summary = task["xcom"]
    assert summary["records"] == events
    prefix = ObjectStoragePath(summary["manifest"]).parent
    # The window's streams, in the manifest's order: its sub-windows at the default concurrency.
    subs = Window(FULL["date_from"], FULL["date_to"]).sub_windows(DEFAULT_CONCURRENCY)
    store = _store(events)
    # The truth: the sandbox's list order per sub-window, ids only (rendering a million events
    # again would only re-check the sandbox's rendering, which its own tests pin).
    want = _digest(i for w in subs for i in store.iter_event_ids(date_from=w.date_from, date_to=w.date_to))
    got = _digest(record["_id"] for record in iter_records(prefix, verify=True))
    assert got == want
    assert got[2] == events
    assert stats["requests"] == summary["requests"]
    chaos_report(
        records_checked=got[0],
        requests=stats["requests"],
        open_files_limit=OPEN_FILES,
        memory_cap_mb=MEMORY_CAP_MB,
        peak_rss_mb=process["VmHWM"] // 1024,
        peak_vm_mb=process["VmPeak"] // 1024,
    )
