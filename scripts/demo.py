"""The demo: the provider's main job on embedded defaults, from a fresh clone.

Run by ``python3 dev.py demo``. It prepares a local Airflow home under ``.local/demo``,
starts the Intervals sandbox (its own process, realistic seeded data), runs the example
DAG ``intervals_land_events`` for a few days with ``airflow dags test`` (a real Airflow
with a real metadata DB), checks every landed window against the sandbox, prints where
the outputs are and what they contain, and stops everything it started.

    python3 dev.py demo [--days 3] [--first-day 2025-06-02] [--events 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "intervals_land_events"


def main() -> None:
    """Prepare, run the DAG for each day, verify and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--first-day", default="2025-06-02", help="logical date of the first run")
    parser.add_argument("--events", type=int, default=100_000, help="events in the sandbox")
    args = parser.parse_args()

    started = time.monotonic()
    work = ROOT / ".local" / "demo"
    shutil.rmtree(work, ignore_errors=True)
    home, lake = work / "airflow", work / "lake"
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "INTERVALS_LANDING_PATH": f"file://{lake}",
    }
    os.environ.update(env)  # for the checks below, made in this process

    from airflow_provider_intervals.sandbox.process import SandboxProcess

    print(f"Starting the Intervals sandbox with {args.events:,} seeded events ...", flush=True)
    with SandboxProcess(args.events, ["--seed", "42", "--plan", "enterprise"]) as sandbox:
        env["AIRFLOW_CONN_INTERVALS_DEFAULT"] = os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = (
            sandbox.connection_json
        )
        print(f"  sandbox at {sandbox.url} (enterprise plan rate limits on)")
        print(f"Preparing the Airflow home {home} ...", flush=True)
        _airflow(env, "db", "migrate")
        first = dt.date.fromisoformat(args.first_day)
        summaries = []
        for offset in range(args.days):
            logical = first + dt.timedelta(days=offset)
            day = logical - dt.timedelta(days=1)
            print(f"Running {DAG_ID} for {logical} (lands the events dated {day}) ...", flush=True)
            _airflow(env, "dags", "test", DAG_ID, logical.isoformat())
            summaries.append(_check_window(lake, logical - dt.timedelta(days=1)))
        requests_made = sandbox.control("stats")["requests"]
    _report(lake, summaries, requests_made, time.monotonic() - started)


def _airflow(env: dict[str, str], *command: str) -> None:
    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(airflow), *command], env=env, capture_output=True, text=True)
    if result.returncode:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        sys.exit(f"airflow {' '.join(command)} failed with exit code {result.returncode}")


def _check_window(lake: Path, day: dt.date) -> dict:
    """Read the published window back and compare it, record for record, with the API."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.storage import iter_records

    prefix = lake / "events" / "type=all" / f"date_from={day}" / f"date_to={day}"
    manifest_path = prefix / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    landed = list(iter_records(ObjectStoragePath(f"file://{manifest_path}")))
    expected = list(IntervalsHook().iter_events(date_from=day, date_to=day))
    if landed != expected:
        sys.exit(f"The landed window {day} differs from the API's events for that day")
    return {"day": day, "prefix": prefix, "manifest": manifest, "records": landed}


def _report(lake: Path, summaries: list[dict], requests_made: int, seconds: float) -> None:
    print("\n=== Landed windows (each equal, record for record, to the API's events of its day) ===")
    for s in summaries:
        parts = s["manifest"].get("parts", [])
        print(f"{s['day']}: {len(s['records']):>4} events, {len(parts)} part(s), published at")
        print(f"    {s['prefix']}")
    sample = summaries[-1]["records"][:3]
    print(f"\nA few events of {summaries[-1]['day']}:")
    for event in sample:
        print(f"    {event['_id']}  {event['date']}  {event['type']:<9}  {event['name']}")
    print(f"\nManifest of {summaries[-1]['day']}:")
    manifest = {k: v for k, v in summaries[-1]["manifest"].items() if k != "parts"}
    print("    " + json.dumps(manifest, default=str)[:600])
    total = sum(len(s["records"]) for s in summaries)
    print(f"\n{total} events in {len(summaries)} windows; API requests (landing + checks): {requests_made}")
    print(f"Outputs: {lake}\nDone in {seconds:.0f}s; the sandbox has been stopped.")


if __name__ == "__main__":
    main()
