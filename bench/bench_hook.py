"""IntervalsHook vs a bare ``requests`` loop, paging the same sandbox events in one run.

    .venv/bin/python bench/bench_hook.py [--events 100000] [--repeat 3]

The sandbox runs as its own process (rate limits off). Both clients page every event
with ``limit=100`` over one keep-alive connection and count the events; the table shows
events/second (best of ``--repeat``), requests made and the ratio to the bare loop. A
last line gives the requests the hook makes for 10,000 events.
"""

from __future__ import annotations

import argparse
import os
import time

import requests

from airflow_provider_intervals.sandbox.process import SandboxProcess


def bare_loop(url: str, key: str) -> int:
    """The practical limit: a hand-written loop with no checks, retries or error mapping."""
    count, after = 0, None
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        while True:
            params = {"limit": 100, **({"after": after} if after else {})}
            response = session.get(f"{url}/events", params=params, timeout=30)
            response.raise_for_status()
            payload = response.json()
            count += len(payload["data"])
            if not payload.get("hasMore"):
                return count
            after = payload["data"][-1]["_id"]


def hook_loop(url: str, key: str) -> int:
    """The provider: IntervalsHook.iter_events, lazy, with validation, retries and typed errors."""
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

    hook = IntervalsHook()
    try:
        return sum(1 for _ in hook.iter_events())
    finally:
        hook.close()


def measure(sandbox: SandboxProcess, fn, repeat: int) -> tuple[float, int, int]:
    best, count, requests_made = 0.0, 0, 0
    for _ in range(repeat):
        sandbox.control("reset-stats", {})
        start = time.perf_counter()
        count = fn(sandbox.url, sandbox.api_key)
        rate = count / (time.perf_counter() - start)
        requests_made = sandbox.control("stats")["requests"]
        best = max(best, rate)
    return best, count, requests_made


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with SandboxProcess(args.events, ["--no-rate-limit"]) as sandbox:
        os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json
        rows = [
            (name, *measure(sandbox, fn, args.repeat))
            for name, fn in (("bare requests loop", bare_loop), ("IntervalsHook.iter_events", hook_loop))
        ]
        base = rows[0][1]
        print(f"\n{args.events:,} events, page size 100, sandbox in its own process (best of {args.repeat})")
        print(f"{'client':<28}{'events/s':>12}{'events':>10}{'requests':>10}{'vs bare':>9}")
        for name, rate, count, made in rows:
            print(f"{name:<28}{rate:>12,.0f}{count:>10,}{made:>10,}{rate / base:>8.2f}x")
    with SandboxProcess(10_000, ["--no-rate-limit"]) as sandbox:
        os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json
        _, count, made = measure(sandbox, hook_loop, 1)
        print(f"requests for {count:,} events with IntervalsHook: {made}")


if __name__ == "__main__":
    main()
