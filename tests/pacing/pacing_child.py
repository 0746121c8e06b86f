"""Real processes for the pacing tests: :func:`run_children` starts one per spec.

The children are forked from a server process that has imported Airflow, the hook and the
pacing once (``multiprocessing``'s forkserver), as Airflow's own task processes are forked from
a supervisor that has: each child is a process of its own (its own memory, buckets and
connections, nothing shared but the per-host directory and the stores), started in
milliseconds instead of the two CPU-seconds of importing Airflow again.

A child takes the spec's environment, gets ready (connections, the store), marks a file, waits
for the parent's "go" file so that every child starts at once, does its job, and writes its
result as JSON:

- ``increment``: ``count`` atomic increments of one entry of the store (``pacing_conn_id``, or the
  per-host directory), after one that connects before the start (at the start: ``connect_at_start``);
- ``pull``: ``streams`` threads, each with its own ``IntervalsHook`` (as the sub-windows of a
  landing have), list the events of its share of ``days``, one page of ``page_size`` per request;
  ``probe_seconds`` scales the pacing's probe period along with the sandbox's faster clock.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

#: What the fork server imports once, before any child is forked from it.
PRELOAD = [
    "pacing_child",
    "airflow_provider_intervals.hooks.intervals",
    "airflow_provider_intervals.pacing",
    "airflow_provider_intervals.pacing.servers",
    "redis",
    "psycopg2",
]


@functools.cache
def _context() -> multiprocessing.context.BaseContext:
    """The fork server's context, made once per process (the server starts with the first child)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def run_children(specs: list[dict], env: dict[str, str], timeout: float = 300) -> list[dict]:
    """Run one child per spec, all started together once all are ready; return each one's result.

    A spec with ``"after": True`` starts the moment the child before it has finished (an Airflow
    pool's next task), already imported and connected, as the others are.
    """
    with tempfile.TemporaryDirectory(prefix="pacing-go-") as folder:
        files = [
            {name: str(Path(folder) / f"{name}-{i}") for name in ("go", "ready", "done", "result", "log")}
            for i in range(len(specs))
        ]
        procs = [
            _context().Process(target=_child, args=({**spec, **paths}, env), name=f"pacing-child-{i}")
            for i, (spec, paths) in enumerate(zip(specs, files, strict=True))
        ]
        try:
            for proc in procs:
                proc.start()
            deadline = time.monotonic() + timeout
            while not all(Path(paths["ready"]).exists() for paths in files):
                for proc, paths in zip(procs, files, strict=True):
                    if proc.exitcode is not None:
                        raise AssertionError(f"a child exited before it was ready:\n{_log(paths)}")
                assert time.monotonic() < deadline, "the children did not get ready"
                time.sleep(0.02)
            for spec, paths in zip(specs, files, strict=True):
                if not spec.get("after"):
                    Path(paths["go"]).touch()
            for i, (spec, paths) in enumerate(zip(specs, files, strict=True)):
                if spec.get("after"):  # the moment the one before has its last answer
                    while not Path(files[i - 1]["done"]).exists() and procs[i - 1].exitcode is None:
                        time.sleep(0.001)
                    Path(paths["go"]).touch()
            return [_finish(proc, paths, timeout) for proc, paths in zip(procs, files, strict=True)]
        finally:
            for proc in procs:  # a failed or timed-out run leaves no child behind
                if proc.exitcode is None and proc.pid is not None:
                    proc.kill()
                    proc.join(5)


def _log(paths: dict) -> str:
    log = Path(paths["log"])
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def _finish(proc: multiprocessing.process.BaseProcess, paths: dict, timeout: float) -> dict:
    proc.join(timeout)
    assert proc.exitcode is not None, f"a child did not finish in {timeout:g}s:\n{_log(paths)}"
    assert proc.exitcode == 0, f"a child failed ({proc.exitcode}):\n{_log(paths)}"
    result = json.loads(Path(paths["result"]).read_text())
    result["stderr"] = _log(paths)
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
    for hook in hooks:  # each connection and session ready before the start, as a landing's are
        hook.prepare()
    hooks[0].bucket  # the key's store and plan, before the start  # noqa: B018
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


def _child(spec: dict, env: dict[str, str]) -> None:
    """The child: the spec's environment, its output in the log file, the job, its result."""
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = sys.stderr = open(log, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    if "pacing_dir" in spec:  # a per-host directory of its own: the process paces the key alone
        os.environ["INTERVALS_PACING_DIR"] = spec["pacing_dir"]
    job = {"increment": _increment, "pull": _pull}[spec["job"]]
    Path(spec["result"]).write_text(json.dumps(job(spec)))
