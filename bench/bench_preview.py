#!/usr/bin/env python3
"""Preview benchmark: does ``preview`` tell what a landing then costs, and what does the preview cost?

    .venv/bin/python bench/bench_preview.py                 # premium and enterprise, ~1 min
    .venv/bin/python bench/bench_preview.py --plans premium --seconds 20

For each plan, on the documented limit with a faster clock (as in ``bench_ratelimit.py``:
premium 100 per 6 s with burst 20, enterprise 1,000 per 12 s with burst 50), a sandbox
process holds enough events for about ``--seconds`` of pulling. Three contenders run on the
same data, each against a fresh sandbox (a full bucket) and with fresh pacing state (the
benchmark's own ``INTERVALS_PACING_DIR``):

- ``preview``: a full count (``preview.preview_events``), which predicts the landing's
  requests and its time at the plan;
- ``preview --sample-days N``: the sampled estimate;
- ``landing``: ``IntervalsEventsOperator()`` (its default ``concurrency``) landing the whole range.

Columns: requests (sandbox-counted), pull seconds (the sandbox's first to last answer) and,
for the landing, the ratio of measured to predicted requests and seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time

# The pacing's per-host state: the benchmark's own (``pacing.forget()`` empties it), not the user's.
os.environ.setdefault("INTERVALS_PACING_DIR", tempfile.mkdtemp(prefix="bench-preview-pacing-"))

from airflow_provider_intervals import pacing
from airflow_provider_intervals.sandbox.process import SandboxProcess

PLANS = {"premium": (100, 6.0, 20), "enterprise": (1000, 12.0, 50)}
DAYS = 120
START = "2025-01-01"
END = "2025-04-30"


def _sandbox(plan: str, events: int) -> SandboxProcess:
    requests, period, burst = PLANS[plan]
    args = ["--seed", "5", "--plan", plan, "--rate-limit", f"{requests}/{period:g}/{burst}"]
    return SandboxProcess(events, [*args, "--start-date", START, "--days", str(DAYS)])


def _pull_seconds(stats: dict) -> float:
    return (stats["last_at"] or 0) - (stats["first_at"] or 0)


def run(plan: str, seconds: float, sample: int) -> list[dict]:
    """Preview, sampled preview and landing under one plan; return their rows."""
    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.operators.events import IntervalsEventsOperator
    from airflow_provider_intervals.preview import preview_events

    requests, period, burst = PLANS[plan]
    events = int((burst + requests / period * seconds) * 100)
    rows = []
    predicted = None
    for name in ("preview", f"preview --sample-days {sample}", "landing"):
        pacing.forget()
        with _sandbox(plan, events) as sandbox:
            os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json
            started = time.monotonic()
            if name == "landing":
                with tempfile.TemporaryDirectory() as out:
                    op = IntervalsEventsOperator(
                        task_id="land", output_path=f"file://{out}", date_from=START, date_to=END
                    )
                    counted = op.execute({})["records"]
            else:
                hook = IntervalsHook()
                preview = preview_events(
                    hook, date_from=START, date_to=END, sample_days=sample if "sample" in name else None
                )
                hook.close()
                counted = preview.events
                if predicted is None:
                    predicted = (preview.landing_requests(), preview.landing_seconds())
            wall = time.monotonic() - started
            stats = sandbox.control("stats")
        row = {"plan": plan, "contender": name, "events": counted, "requests": stats["requests"]}
        row.update(pull_s=_pull_seconds(stats), wall_s=wall, rate_limited=stats["rate_limited"])
        if name == "landing" and predicted is not None:
            row.update(predicted_requests=predicted[0], predicted_s=predicted[1])
        rows.append(row)
    return rows


def main() -> None:
    """Run the plans and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plans", default="premium,enterprise")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of pulling per landing")
    parser.add_argument("--sample-days", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = [row for plan in args.plans.split(",") for row in run(plan, args.seconds, args.sample_days)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'plan':<11}{'contender':<27}{'events':>8}{'requests':>9}{'429s':>6}{'pull s':>8}  vs preview")
    for r in rows:
        versus = ""
        if "predicted_requests" in r:
            asked, predicted = r["requests"], r["predicted_requests"]
            took, expected = r["pull_s"], r["predicted_s"]
            versus = (
                f"requests {asked}/{predicted} = {asked / predicted:.2f}x, "
                f"seconds {took:.1f}/{expected:.1f} = {took / max(expected, 1e-9):.2f}x"
            )
        print(
            f"{r['plan']:<11}{r['contender']:<27}{r['events']:>8}{r['requests']:>9}{r['rate_limited']:>6}"
            f"{r['pull_s']:>8.1f}  {versus}"
        )


if __name__ == "__main__":
    main()
