"""Run the sandbox as a process: ``python -m airflow_provider_intervals.sandbox --port 8787``.

Prints the URL, the full-scope key and an ``AIRFLOW_CONN_INTERVALS_DEFAULT`` export line,
then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading

from airflow_provider_intervals.sandbox.app import Sandbox
from airflow_provider_intervals.sandbox.faults import TRUNCATE_MODES


def _rate_limit(text: str) -> tuple[int, float, int]:
    try:
        requests, seconds, burst = text.split("/")
        limit = (int(requests), float(seconds), int(burst))
    except ValueError:
        expected = "expected REQUESTS/SECONDS/BURST, e.g. 100/6/20"
        raise argparse.ArgumentTypeError(f"{text!r}: {expected}") from None
    if min(limit) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: every part must be positive")
    return limit


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog="python -m airflow_provider_intervals.sandbox", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--plan", default="enterprise", choices=("free", "premium", "enterprise"))
    p.add_argument("--start-date", default="2025-01-01")
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--api-key", default=None)
    p.add_argument("--no-has-more", action="store_true", help="omit hasMore, as the reference's examples do")
    p.add_argument("--no-rate-limit", action="store_true")
    p.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="REQUESTS/SECONDS/BURST",
        help="replace the plan's documented limit, e.g. 100/6/20 (premium on a 10x clock)",
    )
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--error-statuses", default="500,503", help="comma-separated")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    p.add_argument("--drop-rate", type=float, default=0.0)
    p.add_argument("--truncate-rate", type=float, default=0.0)
    p.add_argument(
        "--truncate-mode",
        default="wire",
        choices=TRUNCATE_MODES,
        help="wire: full Content-Length, half the body, connection closed; "
        "short: half the body with a matching Content-Length, connection kept",
    )
    p.add_argument("--fault-seed", type=int, default=1)
    return p


def _limits(args: argparse.Namespace) -> dict[str, tuple[int, float, int]] | None:
    return None if args.rate_limit is None else {args.plan: args.rate_limit}


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox, print how to reach it, and serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    sandbox = Sandbox(
        events=args.events,
        seed=args.seed,
        plan=args.plan,
        has_more=not args.no_has_more,
        host=args.host,
        port=args.port,
        rate_limits=False if args.no_rate_limit else _limits(args),
        start_date=args.start_date,
        days=args.days,
        api_key=args.api_key,
    )
    sandbox.set_faults(
        error_rate=args.error_rate,
        error_statuses=tuple(int(s) for s in args.error_statuses.split(",") if s.strip()),
        latency=args.latency,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        truncate_mode=args.truncate_mode,
        seed=args.fault_seed,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    sandbox.start()
    print(f"Intervals sandbox listening on {sandbox.url}")
    print(f"API key (all scopes): {sandbox.api_key}")
    print(f"export AIRFLOW_CONN_INTERVALS_DEFAULT={shlex.quote(sandbox.connection_json())}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sandbox.stop()
    with contextlib.suppress(OSError):  # stdout may be a pipe its reader already closed
        print("Intervals sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
