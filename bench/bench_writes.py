"""Bulk registration throughput: rows/second at the enterprise rate limit and with limits off.

    .venv/bin/python bench/bench_writes.py [--limited-rows 300] [--unlimited-rows 3000]

A sandbox process per setting (``SandboxProcess``): the documented enterprise limit
(1,000 requests/minute, burst 50), then ``--no-rate-limit``. Each case writes a fresh JSON
Lines file of registrations for seeded event runs and runs
``IntervalsBulkRegisterParticipantsOperator.execute`` on it (no scheduler: the operator's
own work, checks, results file and all). Cases:

- ``waits out 429s``: no client pacing; the hook sleeps until each 429's ``retryAfter``;
- ``paced``: ``max_requests_per_minute`` at the plan's rate, so no request is wasted on a 429;
- limits off: the operator against a bare ``requests`` loop posting the same bodies with
  the same keys (the practical ceiling), as a ratio.

Rows/second is rows over wall time; with a rate limit it approaches the plan's 16.7/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import tempfile
import time
import types
import uuid
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-writes-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# The pacing's per-host state: the benchmark's own, not the user's cache.
os.environ.setdefault("INTERVALS_PACING_DIR", tempfile.mkdtemp(prefix="bench-writes-pacing-"))

import requests

from airflow_provider_intervals.sandbox.process import SandboxProcess
from airflow_provider_intervals.sandbox.store import Store

EVENTS, SEED = 2000, 7


def event_runs(count: int) -> list[str]:
    """Run ids of seeded events, computed from the same seed as the sandbox process."""
    store = Store(EVENTS, SEED, dt.date(2025, 1, 1), 730)
    runs: list[str] = []
    for event_id in store.event_ids_sample(200):
        runs += [r["_id"] for r in store.get_event(event_id)["runs"]]
    return runs[:count]


def write_input(directory: Path, rows: int, runs: list[str]) -> str:
    tag = uuid.uuid4().hex[:8]
    path = directory / f"participants-{tag}.jsonl"
    with path.open("w") as out:
        for i in range(rows):
            body = {
                "eventRunId": runs[i % len(runs)],
                "email": f"bench{i}.{tag}@bench.example",
                "registrationType": "paid",
            }
            out.write(json.dumps(body) + "\n")
    return f"file://{path}"


def run_operator(sandbox: SandboxProcess, input_path: str, **kwargs) -> tuple[float, dict, dict]:
    from airflow_provider_intervals.operators.writes import IntervalsBulkRegisterParticipantsOperator

    os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json
    op = IntervalsBulkRegisterParticipantsOperator(task_id="bench", input_path=input_path, **kwargs)
    ti = types.SimpleNamespace(
        dag_id="bench", task_id="bench", run_id=uuid.uuid4().hex, map_index=-1, try_number=1
    )
    sandbox.control("reset-stats", {})
    start = time.perf_counter()
    summary = op.execute({"ti": ti})
    elapsed = time.perf_counter() - start
    return summary["created"] / elapsed, summary, sandbox.control("stats")


def run_bare(sandbox: SandboxProcess, input_path: str) -> float:
    """The ceiling: one keep-alive session posting each line, no checks, results or retries."""
    bodies = [json.loads(line) for line in Path(input_path.removeprefix("file://")).read_text().splitlines()]
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
        start = time.perf_counter()
        for body in bodies:
            response = session.post(
                f"{sandbox.url}/registration",
                json=body,
                timeout=30,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            response.raise_for_status()
        return len(bodies) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limited-rows", type=int, default=300)
    parser.add_argument("--unlimited-rows", type=int, default=3000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the hook's 429 retry lines; the table says it all
    runs = event_runs(50)
    directory = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    sandbox_args = ["--seed", str(SEED), "--plan", "enterprise"]
    print(f"{'case':<44} {'rows':>6} {'rows/s':>8} {'requests':>9} {'429s':>5}")

    with SandboxProcess(EVENTS, sandbox_args) as sandbox:
        cases = {
            "enterprise limit, waits out 429s": {},
            "enterprise limit, paced at 1000/min": {"max_requests_per_minute": 1000},
        }
        for label, kwargs in cases.items():
            path = write_input(directory, args.limited_rows, runs)
            rate, summary, stats = run_operator(sandbox, path, **kwargs)
            limited = stats.get("rate_limited", 0)
            print(f"{label:<44} {summary['created']:>6} {rate:>8.1f} {stats['requests']:>9} {limited:>5}")

    with SandboxProcess(EVENTS, [*sandbox_args, "--no-rate-limit"]) as sandbox:
        rate, summary, stats = run_operator(sandbox, write_input(directory, args.unlimited_rows, runs))
        bare = run_bare(sandbox, write_input(directory, args.unlimited_rows, runs))
        print(
            f"{'limits off, operator':<44} {summary['created']:>6} {rate:>8.1f} {stats['requests']:>9} {0:>5}"
        )
        print(f"{'limits off, bare requests loop':<44} {args.unlimited_rows:>6} {bare:>8.1f}")
        print(f"operator / bare loop: {rate / bare:.2f}")


if __name__ == "__main__":
    main()
