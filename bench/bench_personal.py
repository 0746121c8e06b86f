#!/usr/bin/env python3
"""What pseudonymising costs: a large registration listing landed under "pseudonymise" vs "keep".

    .venv/bin/python bench/bench_personal.py                      # 20,000 registrations, 3 rounds
    .venv/bin/python bench/bench_personal.py --rows 200000 --repeat 5

A sandbox (in this process, rate limits off, ``Sandbox.store`` filled directly) holds one event
with ``--rows`` registrations as ``POST /registration`` makes them (email, name, run, ...). Each
round lands that event's registrations with ``IntervalsRegistrationsOperator.execute`` (a DAG's code path:
paging at 100 a request, the policy applied to each page, gzip JSON Lines or Parquet, manifest,
atomic publish) once per policy, interleaved, into a fresh temporary directory; the best time of
the rounds counts. It prints registrations/s per policy and format and the ratio of each policy's
time to ``keep``'s (1.00 = free; an untimed landing per format warms up first), then the
policy alone: microseconds per registration to apply it to the same items in memory, no HTTP
and no writing.

The server shares this process, so the end-to-end times include serving the pages; the ratio is
what a landing on one worker pays, an upper bound of the share the policy takes of a real pull
(where the network's round trips add time the policy does not).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-personal-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("INTERVALS_PACING_DIR", tempfile.mkdtemp(prefix="bench-personal-pacing-"))

POLICIES = ("keep", "pseudonymise", "drop")


def fill(sandbox, rows: int) -> str:
    """Give the first seeded event with runs ``rows`` registrations; return its id."""
    store = sandbox.store
    event_id = next(e["_id"] for e in store.iter_events() if store.get_event(e["_id"])["runs"])
    runs = [run["_id"] for run in store.get_event(event_id)["runs"]]
    index = store.event_index(event_id)
    for n in range(rows):
        store.create_registration(
            index,
            {
                "eventRunId": runs[n % len(runs)],
                "email": f"runner.{n}@bench{n % 7}.example",
                "name": f"Runner Number{n}",
                "registrationType": "paid" if n % 3 else "free",
                "paceGroup": "5:00/km",
            },
        )
    return event_id


def land(event_id: str, policy: str, fmt: str, root: Path) -> tuple[float, int]:
    """Land the event's registrations once; return (seconds, records)."""
    from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator

    out = root / f"{policy}-{fmt}"
    op = IntervalsRegistrationsOperator(
        task_id="bench",
        event_id=event_id,
        output_path=out.as_uri(),
        format=fmt,
        personal_data=policy,
        date_from="2025-06-01",
        date_to="2025-06-01",
        progress_interval=3600,
    )
    start = time.perf_counter()
    summary = op.execute({})
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed, summary["records"]


def transform_only(items: list[dict], key: str, repeat: int) -> dict[str, float]:
    """Microseconds per item to apply each policy in memory (best of ``repeat``)."""
    from airflow_provider_intervals.personal import PersonalData, Pseudonymiser
    from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS

    fields = PERSONAL_FIELDS["registrations"]
    out = {}
    for policy in POLICIES:
        data = PersonalData(policy, fields, Pseudonymiser(key, "v1") if policy == "pseudonymise" else None)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            for page in range(0, len(items), 100):
                data.items(items[page : page + 100])
            best = min(best, time.perf_counter() - start)
        out[policy] = best / len(items) * 1e6
    return out


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="registrations in the listing")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best time counts")
    parser.add_argument("--formats", default="jsonl,parquet", help="comma-separated: jsonl, parquet")
    args = parser.parse_args()

    from airflow_provider_intervals.sandbox import Sandbox

    logging.disable(logging.WARNING)  # the operator's progress lines would drown the table

    key = secrets.token_urlsafe(32)
    os.environ["AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION"] = json.dumps(
        {"conn_type": "generic", "password": key, "extra": {"key_version": "v1"}}
    )
    root = Path(tempfile.mkdtemp(prefix="bench-personal-"))
    try:
        with Sandbox(events=200, seed=7, rate_limits=False) as sandbox:
            os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = sandbox.connection_json()
            event_id = fill(sandbox, args.rows)
            items = list(sandbox.store.iter_registrations(event_id))
            print(f"{len(items):,} registrations of one event, {args.repeat} round(s), best time counts\n")
            print(f"{'format':<8} {'policy':<13} {'seconds':>8} {'regs/s':>10} {'time vs keep':>13}")
            for fmt in args.formats.split(","):
                land(event_id, "keep", fmt, root)  # warm-up, untimed: imports, first connections
                best = {policy: float("inf") for policy in POLICIES}
                for _ in range(args.repeat):
                    for policy in POLICIES:  # interleaved: drift hits every policy alike
                        seconds, records = land(event_id, policy, fmt, root)
                        assert records == len(items), (records, len(items))
                        best[policy] = min(best[policy], seconds)
                for policy in POLICIES:
                    ratio = best[policy] / best["keep"]
                    rate = len(items) / best[policy]
                    print(f"{fmt:<8} {policy:<13} {best[policy]:>8.2f} {rate:>10,.0f} {ratio:>12.2f}x")
        per_item = transform_only(items, key, args.repeat)
        print("\nThe policy alone, in memory (no HTTP, no writing):")
        for policy in POLICIES:
            print(f"  {policy:<13} {per_item[policy]:6.2f} us per registration")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
