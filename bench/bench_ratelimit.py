#!/usr/bin/env python3
"""Rate-limit benchmark: how close a landing comes to the key's allowance, and at what cost in 429s.

    .venv/bin/python bench/bench_ratelimit.py                      # every plan and contender (~15 min)
    .venv/bin/python bench/bench_ratelimit.py --plans premium --seconds 10
    .venv/bin/python bench/bench_ratelimit.py --plans enterprise --contenders operator --latency 0.03
    .venv/bin/python bench/bench_ratelimit.py --suite          # issue 19's scenarios, old and new (~25 min)

Against the real API the bound of a pull is the plan's rate limit, not the CPU. Each run
starts a fresh sandbox process (a full bucket) whose plan limit is the documented one on a
faster clock, seeds it with enough events for about ``--seconds`` of pulling at that rate,
and lands every event of its range. Plans (documented limit -> the scaled one used here):

- ``free``: 100/day, burst 20 -> 100 per 60 s (clock x1440);
- ``premium``: 100/min, burst 20 -> 100 per 6 s (clock x10);
- ``enterprise``: 1,000/min, burst 50 -> 1,000 per 12 s (clock x5).

Contenders, each in fresh processes with the connection the sandbox prints (its extras
carry the scaled limit, as a user's ``plan`` extra would carry the real one), and pacing state
of their own (a fresh ``INTERVALS_PACING_DIR`` per run, shared by its processes; the pacing's
probe period is scaled with the clock):

- ``operator``: ``IntervalsEventsOperator()`` with its default ``concurrency``, an upper bound:
  workers start as the measured round trip needs them;
- ``operator-1``: ``IntervalsEventsOperator(concurrency=1)``: one stream;
- ``operator-2``: the same with ``concurrency=2``: two sub-windows sharing the key's bucket;
- ``mapped-4``: four processes at once, each landing a quarter of the range (four mapped tasks
  with no recipe): they share the key's bucket through the per-host directory;
- ``mapped-4-alone``: the same, each process with a pacing directory of its own (one bucket
  per process, as the provider paced before issue 19's shared state);
- ``mapped-4-pool``: the four tasks one after another, each starting the moment the one
  before it ends (an Airflow pool of 1 slot for the key);
- ``mapped-4-share``: four at once on four hosts without a shared store (a pacing directory
  each), each paced to a quarter of the plan (``requests_per_minute`` and ``burst`` divided by
  ``max_active_tis_per_dag``);
- ``mapped-10``: ten processes at once, a tenth of the range each (a ten-day backfill);
- ``below-plan``: ``operator`` while the key really has 30% of the plan's rate, burst 2 (the
  sandbox enforces that; the connection still says the plan's): the pacing learns it;
- ``deferrable``: ``IntervalsEventsOperator(deferrable=True)`` (``defer_after`` its default 300 s,
  on the plan's clock): each deferral's trigger runs as the triggerer runs it, and the resume is a
  new operator (new hooks and buckets, as a new worker process has); ``worker s`` counts only the
  time in ``execute`` and ``execute_complete``, the worker slot the landing holds;
- ``bare-loop``: ``requests`` paging that waits out each 429 until its ``error.retryAfter``.

``BENCH_TIMES=PREFIX`` has each child write the moments it sent and had answered its requests to
``PREFIX.<pid>`` (JSON), to see where a pull lost time. Run it from ``python3 dev.py setup``'s
environment: its bytecode is compiled, so ten children starting at once do not spend their first
seconds compiling Airflow (under ``PYTHONDONTWRITEBYTECODE`` that cost 15% of a ten-task pull).

``--latency SECONDS`` has the sandbox answer every request that much later: a network's round
trip. On a scaled clock it stands for latency x the clock's factor (enterprise: 0.03 s is
150 ms), the same requests in flight (rate x round trip).

``--suite`` runs the scenarios of issue 19 (:data:`SUITE`) for ``--seconds`` (default 36) each,
twice: with this checkout's provider, and with the provider of ``--baseline`` (a git revision,
default :data:`BASELINE`: ``main`` before issue 19, a bucket per process adapted by a blind
x0.7 / x2 scale, ``concurrency`` 2, no deferral) put first on the children's ``PYTHONPATH``; its
time constants are scaled to the plan's clock like the pacing's probe.

Columns: the tasks' wall seconds (``task s``: execute, including imports and the publish),
the pull's (``pull s``: the sandbox's first to last answer) against the theoretical minimum
``(requests - burst) / rate``; the share of the key's real allowance used, ``successful requests /
(burst + rate * pull s)``; 429s drawn, and 429s per stream per minute of the plan's clock (the
scaled one) after the pull's first minute (``429/stream/min``; a pool's tasks count as one
stream, one runs at a time); failures (a contender that failed or landed a count
different from the API's); the most requests the sandbox answered at once (``in flight``).
Targets (issues 10 and 19): >= 95% of the allowance, 0 failures, at most one 429 per stream per
minute after the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airflow_provider_intervals.sandbox.process import SandboxProcess

# plan -> (requests, seconds, burst) on the scaled clock.
PLANS = {"free": (100, 60.0, 20), "premium": (100, 6.0, 20), "enterprise": (1000, 12.0, 50)}
# plan -> how much faster the scaled clock runs than the documented one.
SCALE = {"free": 1440.0, "premium": 10.0, "enterprise": 5.0}
CONTENDERS = (
    "operator",
    "operator-1",
    "operator-2",
    "mapped-4",
    "mapped-4-alone",
    "mapped-4-pool",
    "mapped-4-share",
    "mapped-10",
    "below-plan",
    "bare-loop",
)
# Issue 19's scenarios: (what a user does, plan, contender, added latency in seconds on the plan's
# scaled clock: enterprise's 5x makes 0.01 s a 50 ms round trip and 0.03 s a 150 ms one).
SUITE = (
    ("one task, plan as announced", "enterprise", "operator", 0.0),
    ("real allowance 30% of the plan, burst 2", "enterprise", "below-plan", 0.0),
    ("4 tasks at once on one key", "enterprise", "mapped-4", 0.0),
    ("10 tasks at once (a 10-day backfill)", "premium", "mapped-10", 0.0),
    ("4 tasks back to back (each after another drained the key)", "enterprise", "mapped-4-pool", 0.0),
    ("one task, 50 ms round trip", "enterprise", "operator", 0.01),
    ("one task, 150 ms round trip", "enterprise", "operator", 0.03),
    ("free plan, deferrable landing", "free", "deferrable", 0.0),
)
BASELINE = "5240ff7"  # main before issue 19 (the provider as released in 0.1.0 paced the same way)
BELOW = 0.3  # below-plan: the key's real rate, as a share of the plan's
PER_HOST = ("mapped-4-alone", "mapped-4-share")  # a pacing directory per process: hosts without a store
START = dt.date(2025, 1, 1)
DAYS = 120
PAGE = 100


# ----------------------------------------------------------------------------- child side


def child(spec: dict) -> None:
    """Land (or pull) one range in this process; print its timings and counts as JSON."""
    import logging

    if os.environ.get("BENCH_LOG"):  # the pacing's notes, on the child's stderr (BENCH_LOG=1)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("airflow_provider_intervals.pacing").setLevel(logging.INFO)
    else:
        logging.disable(logging.WARNING)  # one line per 429 is not what we measure
    os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = spec["conn"]
    os.environ["INTERVALS_PACING_DIR"] = spec["pacing_dir"]
    _scale_clock(spec["scale"])
    if spec["kind"] == "bare-loop":
        run = _bare_loop(spec)
    elif spec["kind"] == "deferrable":
        run = _deferrable(spec)
    else:
        from airflow_provider_intervals.operators.events import IntervalsEventsOperator

        concurrency = {} if spec["concurrency"] is None else {"concurrency": spec["concurrency"]}
        op = IntervalsEventsOperator(
            task_id="land",
            output_path=f"file://{spec['out']}",
            date_from=spec["date_from"],
            date_to=spec["date_to"],
            **concurrency,
        )

        def run() -> tuple[int, float | None]:
            return op.execute({})["records"], None

    sent = _watch_requests()
    _wait_until(spec["start_at"], spec.get("go_file"))
    started = time.time()
    records, held = run()
    ended = time.time()
    if spec.get("done_file"):  # the pool's slot is free: the next task goes (before this one exits)
        Path(spec["done_file"]).touch()
    held = ended - started if held is None else held
    pulled = [min(sent), max(sent)] if sent else None
    if os.environ.get("BENCH_TIMES"):
        Path(os.environ["BENCH_TIMES"] + f".{os.getpid()}").write_text(json.dumps(sent))
    print(
        json.dumps({"started": started, "ended": ended, "records": records, "held": held, "pulled": pulled})
    )


def _watch_requests() -> list[float]:
    """Note when this process sends requests and has their answers (``requests`` and ``aiohttp``)."""
    import requests

    moments: list[float] = []
    send = requests.Session.send

    def watched(self, *args, **kwargs):
        moments.append(time.time())
        try:
            return send(self, *args, **kwargs)
        finally:
            moments.append(time.time())

    requests.Session.send = watched
    return moments


def _scale_clock(scale: float) -> None:
    """Put the pacing's minutes on the plan's scaled clock (this checkout's, or the baseline's)."""
    try:
        from airflow_provider_intervals.pacing import allowance
    except ImportError:  # the baseline: one module, a blind scale on a 60 s / 10 s clock
        from airflow_provider_intervals import pacing

        pacing.SHARED_SECONDS /= scale
        pacing.RECOVERY_SECONDS /= scale
        return
    allowance.PROBE_SECONDS = 60.0 / scale  # a minute of the plan's clock


def _deferrable(spec: dict):
    """Land the range deferrably: run each deferral's trigger here, resume in a new operator."""
    import asyncio
    import types

    from airflow_provider_intervals.operators.events import IntervalsEventsOperator

    def operator() -> IntervalsEventsOperator:
        window = {"date_from": spec["date_from"], "date_to": spec["date_to"]}
        kwargs = {"output_path": f"file://{spec['out']}", **window}
        try:
            return IntervalsEventsOperator(
                task_id="land", deferrable=True, defer_after=300.0 / spec["scale"], **kwargs
            )
        except TypeError:  # the baseline has no deferral: the landing waits on its worker
            return IntervalsEventsOperator(task_id="land", **kwargs)

    def run() -> tuple[int, float]:
        from airflow.sdk.exceptions import TaskDeferred

        ti = types.SimpleNamespace(dag_id="bench", task_id="land", run_id="r", map_index=-1, try_number=1)
        op, event, held = operator(), None, 0.0
        while True:
            began = time.time()
            try:
                done = op.execute({"ti": ti}) if event is None else op.execute_complete({"ti": ti}, event)
            except TaskDeferred as deferred:  # (the baseline never defers: it has no such trigger)
                from airflow_provider_intervals.triggers.allowance import IntervalsAllowanceTrigger

                held += time.time() - began
                _, kwargs = deferred.trigger.serialize()
                trigger = IntervalsAllowanceTrigger(**json.loads(json.dumps(kwargs)))
                event = asyncio.run(trigger.run().__anext__()).payload  # the triggerer's wait
                op = operator()  # the resume runs in a new task process
                continue
            return done["records"], held + time.time() - began

    return run


def _wait_until(moment: float, go_file: str | None) -> None:
    """Wait for ``moment``, or for ``go_file`` to exist (the previous task of a pool finished)."""
    if go_file:
        while not os.path.exists(go_file):
            time.sleep(0.005)
        return
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.05))


def _bare_loop(spec: dict):
    """A hand-written loop that waits out each 429 until its ``retryAfter`` (nested, as documented)."""
    import requests

    conn = json.loads(spec["conn"])
    url = f"http://{conn['host']}:{conn['port']}/events"

    def run() -> tuple[int, None]:
        count, after = 0, None
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {conn['password']}"
            while True:
                params = {"limit": PAGE, "dateFrom": spec["date_from"], "dateTo": spec["date_to"]}
                response = session.get(
                    url, params={**params, **({"after": after} if after else {})}, timeout=30
                )
                if response.status_code == 429:
                    retry_ms = response.json()["error"]["retryAfter"]
                    time.sleep(max(0.0, retry_ms / 1000 - time.time()))
                    continue
                response.raise_for_status()
                payload = response.json()
                count += len(payload["data"])
                if not payload["hasMore"]:
                    return count, None
                after = payload["data"][-1]["_id"]

    return run


# ----------------------------------------------------------------------------- parent side


def _parts(days: int, n: int) -> list[tuple[str, str]]:
    bounds = [round(i * days / n) for i in range(n + 1)]
    return [
        ((START + dt.timedelta(bounds[i])).isoformat(), (START + dt.timedelta(bounds[i + 1] - 1)).isoformat())
        for i in range(n)
    ]


def _available(results: list[dict], burst: int, rate: float) -> float:
    """Return the requests the server's bucket made available while the tasks pulled.

    A full burst, then the rate over the time some task was pulling (the union of each task's
    first to last request); between pulls (a pool's next task starting) the bucket refills at
    most a burst.
    """
    spans = sorted(r["pulled"] for r in results if r.get("pulled"))
    if not spans:
        return float("nan")
    total, (start, end) = float(burst), spans[0]
    for first, last in spans[1:]:
        if first > end:  # nobody pulled in between
            total += rate * (end - start) + min(burst, rate * (first - end))
            start = first
        end = max(end, last)
    return total + rate * (end - start)


def _start(spec: dict) -> subprocess.Popen:
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    env = dict(os.environ)
    if spec.get("pythonpath"):  # the baseline's package comes first
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [spec["pythonpath"], env.get("PYTHONPATH")]))
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _baseline(revision: str, tmp: Path) -> Path:
    """Extract ``revision``'s package into ``tmp`` (``git archive``) and return the directory."""
    into = tmp / f"baseline-{revision}"
    into.mkdir()
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", revision, "airflow_provider_intervals"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _finish(proc: subprocess.Popen) -> dict | None:
    out, err = proc.communicate(timeout=1800)
    if os.environ.get("BENCH_LOG"):
        sys.stderr.write(err)
    if proc.returncode:
        print(f"    a child failed:\n{err[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.strip().splitlines()[-1])


def run_contender(
    name: str, plan: str, seconds: float, tmp: Path, latency: float = 0.0, baseline: Path | None = None
) -> dict:
    """Run one contender under one plan against a fresh sandbox; return its measurements.

    :param baseline: a directory holding another revision's ``airflow_provider_intervals``:
        the children import it instead of this checkout's.
    """
    requests_, period, burst = PLANS[plan]
    rate = requests_ / period
    events = int(max(1.0, (burst + rate * seconds)) * PAGE)
    limit = f"{requests_}/{period:g}/{burst}"
    conn_extra = None
    if name == "below-plan":  # the key really has less than the connection (the plan) says
        real = max(1, round(requests_ * BELOW))
        conn_extra = {"requests_per_minute": requests_ * 60.0 / period, "burst": burst}
        rate, burst, limit = real / period, 2, f"{real}/{period:g}/2"
        events = int(max(1.0, (burst + rate * seconds)) * PAGE)
    args = [
        "--seed",
        "5",
        "--plan",
        plan,
        "--rate-limit",
        limit,
        "--start-date",
        START.isoformat(),
        "--days",
        str(DAYS),
        *(["--latency", str(latency)] if latency else []),
    ]
    sandbox = SandboxProcess(events, args)
    with sandbox:
        conn = sandbox.connection_json
        if conn_extra is not None:
            conn = json.dumps({**json.loads(conn), "extra": conn_extra})
        whole = (START.isoformat(), (START + dt.timedelta(DAYS - 1)).isoformat())
        streams, kind = 1, "operator"
        ranges, concurrency, sequential = [whole], 1, False
        if name in ("operator", "below-plan"):
            concurrency = None  # the default; streams are counted as the most in flight
        elif name == "deferrable":
            kind = "deferrable"
        elif name == "operator-2":
            concurrency = streams = 2
        elif name.startswith("mapped-"):
            streams = int(name.split("-")[1])
            ranges, sequential = _parts(DAYS, streams), name == "mapped-4-pool"
            if name == "mapped-4-share":
                extra = json.loads(conn).get("extra", {})
                share = {"requests_per_minute": extra["requests_per_minute"] / 4, "burst": max(1, burst // 4)}
                conn = json.dumps({**json.loads(conn), "extra": share})
        elif name == "bare-loop":
            kind = "bare-loop"
        tag = f"{plan}-{name}-{latency:g}-{'old' if baseline else 'new'}"
        pacing_dir = tmp / f"{tag}-pacing"
        specs = [
            {
                "kind": kind,
                "conn": conn,
                "date_from": a,
                "date_to": b,
                "concurrency": concurrency,
                "out": str(tmp / f"{tag}-{i}"),
                "start_at": 0.0,
                # mapped-4-alone and -share: a directory per process (a host each), a bucket each
                "pacing_dir": str(pacing_dir / str(i)) if name in PER_HOST else str(pacing_dir),
                "scale": SCALE[plan],
                "pythonpath": str(baseline) if baseline else None,
            }
            for i, (a, b) in enumerate(ranges)
        ]
        results: list[dict | None] = []
        if sequential:
            # The pool's next task is started (imports done) while the previous one runs, and
            # goes the moment it ends, as a free slot is taken at once: no idle refill between.
            go = [tmp / f"{tag}-go-{i}" for i in range(len(specs))]
            done = [tmp / f"{tag}-done-{i}" for i in range(len(specs))]
            procs = [
                _start({**spec, "go_file": str(g), "done_file": str(d)})
                for spec, g, d in zip(specs, go, done, strict=True)
            ]
            time.sleep(3 + 1.5 * len(procs))  # every child has imported Airflow by then
            for proc, g, d in zip(procs, go, done, strict=True):
                g.touch()
                while not d.exists() and proc.poll() is None:
                    time.sleep(0.002)
            results = [_finish(proc) for proc in procs]
        else:
            start_at = time.time() + 3 + 1.5 * len(specs)  # every child has imported Airflow by then
            procs = [_start({**spec, "start_at": start_at}) for spec in specs]
            results = [_finish(p) for p in procs]
        stats = sandbox.control("stats")
    ok = [r for r in results if r is not None]
    failures = len(results) - len(ok) + (sum(r["records"] for r in ok) != events)
    held = sum(r["held"] for r in ok) if ok else float("nan")
    if sequential and ok:
        wall = sum(r["ended"] - r["started"] for r in ok)
    else:
        wall = max(r["ended"] for r in ok) - min(r["started"] for r in ok) if ok else float("nan")
    by_status = {int(k): v for k, v in stats["by_status"].items()}  # JSON keys are strings
    served, limited = by_status.get(200, 0), by_status.get(429, 0)
    # The pull spans the sandbox's first to last answer.
    span = (stats["last_at"] or 0) - (stats["first_at"] or 0)
    minimum = max(0.0, (served - burst) / rate)
    allowance = served / _available(ok, burst, rate) if span > 0 else float("nan")
    if concurrency is None and kind == "operator":
        streams = max(1, stats["peak_in_flight"])  # the default: as many as were in flight
    if sequential:
        streams = 1  # one task of the pool at a time
    minute = 60 / SCALE[plan]  # a minute of the plan's clock, in seconds
    steady = [t for t in stats["limited_at"] if t > (stats["first_at"] or 0) + minute]
    steady_minutes = (span - minute) / minute
    per_stream_minute = len(steady) / (streams * steady_minutes) if steady_minutes > 0 else float("nan")
    return {
        "plan": plan,
        "contender": name,
        "events": events,
        "requests": served,
        "limited": limited,
        "wall": wall,
        "held": held,
        "children": [[r["started"], r["ended"], r["records"]] if r else None for r in results],
        "first_at": stats["first_at"],
        "last_at": stats["last_at"],
        "span": span,
        "minimum": minimum,
        "allowance": allowance,
        "per_stream_minute": per_stream_minute,
        "failures": failures,
        "in_flight": stats["peak_in_flight"],
        "limit": (round(rate * period), period, burst),
    }


def _print_table(rows: list[dict]) -> None:
    header = (
        f"{'plan (scaled)':<24} {'contender':<15} {'events':>7} {'pages':>6} {'task s':>7} {'pull s':>7} "
        f"{'min s':>6} {'allowance':>9} {'429s':>5} {'429/stream/min':>14} {'failures':>8} {'in flight':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        n, period, burst = r["limit"]
        label = f"{r['plan']} {n}/{period:g}s b{burst}"
        print(
            f"{label:<24} {r['contender']:<15} {r['events']:>7,} {r['requests']:>6,} {r['wall']:>7.1f} "
            f"{r['span']:>7.1f} {r['minimum']:>6.1f} {r['allowance']:>8.1%} {r['limited']:>5} "
            f"{r['per_stream_minute']:>14.2f} {r['failures']:>8} {r['in_flight']:>9}"
        )


def _print_suite(rows: list[dict]) -> None:
    """One Markdown row per scenario and provider: the issue's table, before and after."""
    print(
        "| scenario | provider | share of the real allowance | 429s | 429s per stream-minute after the "
        "first | pull s / minimum s | worker s | windows exact |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["span"] / r["minimum"] if r["minimum"] else float("nan")
        print(
            f"| {r['scenario']} | {r['provider']} | {r['allowance']:.1%} | {r['limited']} | "
            f"{r['per_stream_minute']:.2f} | {r['span']:.1f} / {r['minimum']:.1f} ({ratio:.2f}x) | "
            f"{r['held']:.1f} | {'yes' if not r['failures'] else 'NO'} |"
        )


def main() -> None:
    """Parse arguments, run every plan x contender, print one table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plans", default=",".join(PLANS))
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--seconds", type=float, help="pulling time per run at the plan's rate (default 15; --suite: 36)"
    )
    parser.add_argument(
        "--suite", action="store_true", help="issue 19's scenarios, this checkout and --baseline"
    )
    parser.add_argument(
        "--baseline", default=BASELINE, help=f"git revision to compare with (default {BASELINE}; none: skip)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the sandbox adds to every request"
    )
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp:
        if args.suite:
            old = None if args.baseline == "none" else _baseline(args.baseline, Path(tmp))
            for scenario, plan, name, latency in SUITE:
                for provider, path in (("new", None), (f"old ({args.baseline})", old)):
                    if provider != "new" and path is None:
                        continue
                    print(f"  {scenario}: {provider} ...", file=sys.stderr, flush=True)
                    row = run_contender(name, plan, args.seconds or 36.0, Path(tmp), latency, path)
                    rows.append({**row, "scenario": scenario, "provider": provider})
        else:
            for plan in args.plans.split(","):
                for name in args.contenders.split(","):
                    print(f"  {plan}: {name} ...", file=sys.stderr, flush=True)
                    rows.append(run_contender(name, plan, args.seconds or 15.0, Path(tmp), args.latency))
    _print_table(rows)
    if args.suite:
        print()
        _print_suite(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if any(math.isnan(r["wall"]) or r["failures"] for r in rows if r.get("provider", "new") == "new"):
        sys.exit(1)


if __name__ == "__main__":
    main()
