"""Real processes for the pacing tests: :func:`run_children` starts this file once per spec.

A child gets ready (imports, connections, the store), marks a file, waits for the parent's "go"
file so that every child starts at once, does its job, and prints one JSON line:

- ``increment``: ``count`` atomic increments of one entry of the store (``pacing_conn_id``, or the
  per-host directory), after one that connects before the start (at the start: ``connect_at_start``);
- ``pull``: ``streams`` threads, each with its own ``IntervalsHook`` (as the sub-windows of a
  landing have), list the events of its share of ``days``, one page of ``page_size`` per request;
  ``probe_seconds`` scales the pacing's probe period along with the sandbox's faster clock.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__)


def run_children(specs: list[dict], env: dict[str, str], timeout: float = 300) -> list[dict]:
    """Run one child per spec, all started together once all are ready; return each one's result.

    A spec with ``"after": True`` starts the moment the child before it has finished (an Airflow
    pool's next task), already imported and connected, as the others are.
    """
    with tempfile.TemporaryDirectory(prefix="pacing-go-") as folder:
        gos = [Path(folder) / f"go-{i}" for i in range(len(specs))]
        marks = [Path(folder) / f"ready-{i}" for i in range(len(specs))]
        dones = [Path(folder) / f"done-{i}" for i in range(len(specs))]
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE),
                    json.dumps({**spec, "go": str(go), "ready": str(mark), "done": str(done)}),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for spec, go, mark, done in zip(specs, gos, marks, dones, strict=True)
        ]
        deadline = time.monotonic() + timeout
        while not all(mark.exists() for mark in marks):
            for proc in procs:
                if proc.poll() is not None:
                    raise AssertionError(f"a child exited before it was ready:\n{proc.stderr.read()[-4000:]}")
            assert time.monotonic() < deadline, "the children did not get ready"
            time.sleep(0.02)
        for spec, go in zip(specs, gos, strict=True):
            if not spec.get("after"):
                go.touch()
        for i, (spec, go) in enumerate(zip(specs, gos, strict=True)):
            if spec.get("after"):  # the moment the one before has its last answer
                while not dones[i - 1].exists() and procs[i - 1].poll() is None:
                    time.sleep(0.001)
                go.touch()
        return [_finish(proc, timeout) for proc in procs]


def _finish(proc: subprocess.Popen, timeout: float) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"a child failed ({proc.returncode}):\n{err[-4000:]}"
    result = json.loads(out.strip().splitlines()[-1])
    result["stderr"] = err
    return result


# ----------------------------------------------------------------------------- child side


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


def _wait(spec: dict) -> None:
    Path(spec["ready"]).touch()
    while not Path(spec["go"]).exists():
        time.sleep(0.002)


def _increment(spec: dict) -> dict:
    from airflow_provider_intervals import pacing

    store = pacing.store_for(spec.get("pacing_conn_id"))

    def add(entry: dict) -> None:
        entry["n"] = entry.get("n", 0) + 1

    if not spec.get("connect_at_start"):
        store.update("counter", add)  # connects, creates the table: before the start
    _wait(spec)
    if spec.get("connect_at_start"):  # every child connects and creates the table at the same moment
        store.update("counter", add)
    for _ in range(spec["count"]):
        store.update("counter", add)
    return {"n": store.update("counter", lambda entry: entry.get("n"))}


def _pull(spec: dict) -> dict:
    import datetime as dt

    from airflow_provider_intervals import pacing
    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.pacing import allowance

    records = _Records()
    logging.getLogger("airflow_provider_intervals.pacing").addHandler(records)
    logging.getLogger("airflow_provider_intervals.pacing").setLevel(logging.INFO)
    if "probe_seconds" in spec:
        allowance.PROBE_SECONDS = spec["probe_seconds"]
    first, days, streams = dt.date.fromisoformat(spec["date_from"]), spec["days"], spec["streams"]
    hooks = [IntervalsHook() for _ in range(streams)]
    hooks[0].bucket  # the connection, the store and the plan, before the start  # noqa: B018
    _wait(spec)
    counts = [0] * streams

    def work(i: int) -> None:
        start = first + dt.timedelta(days=i * days // streams)
        end = first + dt.timedelta(days=(i + 1) * days // streams - 1)
        for _ in hooks[i].iter_events(
            date_from=start.isoformat(), date_to=end.isoformat(), limit=spec["page_size"]
        ):
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(spec["done"]).touch()
    bucket = hooks[0].bucket
    if bucket is not None:
        bucket.wait_for_next()  # reads the key's state as the others left it
    return {
        "records": sum(counts),
        "pace": None if bucket is None else bucket.per_second,
        "learned": None if bucket is None or bucket.learned is None else bucket.learned.per_second,
        "burst": None if bucket is None else bucket.pace.burst,
        "pauses": 0 if bucket is None else bucket.pauses,
        "logs": records.lines,
        "digest": None if bucket is None else bucket.digest,
        "pacing_dir": str(pacing.default_directory()),
    }


def main() -> None:
    """Run the job the spec names and print its result as one JSON line."""
    spec = json.loads(sys.argv[1])
    if "pacing_dir" in spec:  # a per-host directory of its own: the process paces the key alone
        os.environ["INTERVALS_PACING_DIR"] = spec["pacing_dir"]
    job = {"increment": _increment, "pull": _pull}[spec["job"]]
    print(json.dumps(job(spec)))


if __name__ == "__main__":
    main()
