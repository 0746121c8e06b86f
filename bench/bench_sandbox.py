"""
Sandbox throughput: page through a million-event sandbox running as its own process.

    python bench/bench_sandbox.py [--pages 2000] [--limit 100]

Prints pages/s and events/s for a keep-alive ``requests.Session`` client.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import requests


def start_sandbox(events: int) -> tuple[subprocess.Popen[str], str, str]:
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_intervals.sandbox",
        "--port",
        "0",
        "--events",
        str(events),
        "--no-rate-limit",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    url = key = ""
    t0 = time.perf_counter()
    while not (url and key):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("sandbox exited before announcing its URL")
        if m := re.search(r"listening on (\S+)", line):
            url = m.group(1)
        if m := re.search(r"API key \(all scopes\): (\S+)", line):
            key = m.group(1)
    print(f"sandbox with {events:,} events ready in {time.perf_counter() - t0:.2f}s at {url}")
    return proc, url, key


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=100)
    args = ap.parse_args()
    proc, url, key = start_sandbox(args.events)
    try:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {key}"
            s.get(f"{url}/organization").raise_for_status()  # warm up the connection
            after = None
            t0 = time.perf_counter()
            n_events = 0
            for _ in range(args.pages):
                params = {"limit": args.limit, **({"after": after} if after else {})}
                r = s.get(f"{url}/events", params=params)
                r.raise_for_status()
                data = r.json()["data"]
                n_events += len(data)
                after = data[-1]["_id"]
            elapsed = time.perf_counter() - t0
        print(
            f"{args.pages} pages of {args.limit} in {elapsed:.2f}s: "
            f"{args.pages / elapsed:,.0f} pages/s, {n_events / elapsed:,.0f} events/s"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
