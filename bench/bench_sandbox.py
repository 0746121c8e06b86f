"""
Sandbox throughput: page through a million-event sandbox running as its own process.

    python bench/bench_sandbox.py [--pages 2000] [--limit 100]

Prints pages/s and events/s for a keep-alive ``requests.Session`` client.
"""

from __future__ import annotations

import argparse
import time

import requests

from airflow_provider_intervals.sandbox.process import SandboxProcess


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=100)
    args = ap.parse_args()
    with SandboxProcess(args.events, ["--no-rate-limit"]) as sandbox:
        url, key = sandbox.url, sandbox.api_key
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


if __name__ == "__main__":
    main()
