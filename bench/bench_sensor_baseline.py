#!/usr/bin/env python3
"""What the new-events sensor's first and later polls cost: requests, 429s and wall time.

    .venv/bin/python bench/bench_sensor_baseline.py [--events 100000] [--date-from 2026-11-01]

The sandbox runs as its own process with the enterprise plan's documented limits (1,000
requests a minute, burst 50), so the hook learns the plan and paces to it. For the whole feed
and for a feed bounded by ``--date-from``, the sensor polls twice: the first poll takes the
baseline (it lists the feed once), the second finds nothing new (one request).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import types

from airflow_provider_intervals.sandbox.process import SandboxProcess


class _AssetStates:
    """The task context's ``asset_state_store``: one dict per asset."""

    def __init__(self) -> None:
        self.states: dict[str, dict] = {}

    def __getitem__(self, asset):
        state = self.states.setdefault(asset.uri, {})
        return types.SimpleNamespace(get=lambda k, default=None: state.get(k, default), set=state.__setitem__)


def main() -> None:
    """Start the sandbox, poll each feed twice, print one line per poll."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--date-from", default="2026-11-01")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with SandboxProcess(args.events, ["--seed", "3", "--plan", "enterprise"]) as sandbox:
        os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json
        from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor

        for label, bound in (
            ("whole feed", {}),
            (f"date_from={args.date_from}", {"date_from": args.date_from}),
        ):
            context = {"asset_state_store": _AssetStates()}
            for poll in ("first", "later"):
                sandbox.control("reset-stats", {})
                started = time.perf_counter()
                IntervalsNewEventsSensor(task_id="wait", **bound).poke(context)
                stats = sandbox.control("stats")
                print(
                    f"{label:<22} {poll:<6} requests={stats['requests']:>5} "
                    f"429s={stats['by_status'].get('429', 0):>3} wall={time.perf_counter() - started:6.1f}s",
                    flush=True,
                )
            time.sleep(4)  # the server's bucket refills a little between feeds


if __name__ == "__main__":
    main()
