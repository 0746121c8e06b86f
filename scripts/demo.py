"""The demo: the provider's main job, and what comes next, on embedded defaults from a fresh clone.

``python3 dev.py demo`` prepares a local Airflow home under ``.local/demo``, starts the
Intervals sandbox (its own process, realistic seeded data, the enterprise plan's rate
limits), then runs the example DAGs with ``airflow dags test`` (a real Airflow with a real
metadata DB):

1. ``intervals_land_events`` for a few days: each day's events land in ``.local/demo/lake``;
   each landed window is checked record for record against the API;
2. ``intervals_warehouse_load``: every window published in the lake that its ledger does not
   hold yet goes into the DuckDB table ``intervals_events``; row counts are checked;
3. ``intervals_organisation_report``: the week's report (HTML and CSV) in ``.local/demo/reports``.

It prints where the outputs are and what they contain, and stops everything it started.

``--standalone`` runs ``scripts/standalone.py`` instead (``python3 dev.py standalone``: the
full Airflow with the UI), passing it the other arguments.

    python3 dev.py demo [--days 3] [--first-day 2025-06-03] [--events 20000] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from local_airflow import ROOT, SANDBOX_ARGS, airflow_batch, exit_failed, venv_first_path


def environment(work: Path) -> dict[str, str]:
    """Return the environment of every Airflow command: its home, the DAGs and where they write.

    :param work: the demo's working directory.
    """
    return {
        **os.environ,
        "PATH": venv_first_path(),
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "INTERVALS_LANDING_PATH": f"file://{work / 'lake'}",
        "INTERVALS_WAREHOUSE_PATH": str(work / "warehouse" / "intervals.duckdb"),
        "INTERVALS_REPORTS_PATH": f"file://{work / 'reports'}",
        "INTERVALS_SEASON_PLAN": f"file://{work / 'season' / 'plan.jsonl'}",
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the demo, or hand them to ``standalone.py``."""
    argv = sys.argv[1:] if argv is None else argv
    if "--standalone" in argv:
        import standalone

        standalone.main([a for a in argv if a != "--standalone"])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=3, help="days to land (default 3)")
    parser.add_argument(
        "--first-day",
        default="2025-06-03",
        help="logical date of the first landing run (lands the day before)",
    )
    parser.add_argument("--events", type=int, default=20_000, help="events in the sandbox (over two years)")
    parser.add_argument("--work", type=Path, default=None, help="where everything goes (default .local/demo)")
    parser.add_argument(
        "--standalone", action="store_true", help="run scripts/standalone.py with the other arguments"
    )
    args = parser.parse_args(argv)
    demo(args.work or ROOT / ".local" / "demo", args.days, dt.date.fromisoformat(args.first_day), args.events)


# ----------------------------------------------------------------------------- the demo


def demo(work: Path, days: int, first: dt.date, events: int) -> None:
    """Run the chain: land ``days`` days, load them into DuckDB, render the week's report."""
    from airflow_provider_intervals.sandbox.process import SandboxProcess

    started = time.monotonic()
    shutil.rmtree(work, ignore_errors=True)
    (work / "airflow").mkdir(parents=True)
    env = environment(work)
    os.environ.update(env)  # for the checks made in this process

    print(f"Starting the Intervals sandbox with {events:,} seeded events ...", flush=True)
    with SandboxProcess(events, SANDBOX_ARGS) as sandbox:
        env["AIRFLOW_CONN_INTERVALS_DEFAULT"] = os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = (
            sandbox.connection_json
        )
        print(f"  sandbox at {sandbox.url} (enterprise plan rate limits on)")
        logicals = [first + dt.timedelta(days=offset) for offset in range(days)]
        last = logicals[-1]
        first_day = first - dt.timedelta(days=1)  # each run lands the day before its logical date
        week_start = first_day - dt.timedelta(days=first_day.weekday())
        monday = week_start + dt.timedelta(days=7)
        # One Airflow process runs them all, one after the other: `airflow dags test` builds
        # Airflow's in-process execution API once, not once a run (about 8 CPU-seconds each).
        steps = [
            (["db", "migrate"], f"Preparing the Airflow home {work / 'airflow'} ..."),
            *(
                (
                    ["dags", "test", "intervals_land_events", logical.isoformat()],
                    f"Running intervals_land_events for {logical} (lands the events dated "
                    f"{logical - dt.timedelta(days=1)}) ...",
                )
                for logical in logicals
            ),
            (
                ["dags", "test", "intervals_warehouse_load", last.isoformat()],
                f"Running intervals_warehouse_load on the {days} landed windows ...",
            ),
            (
                ["dags", "test", "intervals_organisation_report", monday.isoformat()],
                f"Running intervals_organisation_report for the week of {week_start} ...",
            ),
        ]
        ran = airflow_batch(
            env, *(command for command, _ in steps), on_start=lambda i: print(steps[i][1], flush=True)
        )
        if ran[-1]["code"]:
            exit_failed(ran[-1])
        windows = [_check_window(work / "lake", logical - dt.timedelta(days=1)) for logical in logicals]
        warehouse = _check_warehouse(Path(env["INTERVALS_WAREHOUSE_PATH"]), windows)
        report = _check_report(work / "reports" / "organisation_report" / f"week={week_start}")
        requests_made = sandbox.control("stats")["requests"]
    summary = {
        "landed": [
            {"day": str(w["day"]), "records": len(w["records"]), "manifest": str(w["manifest_path"])}
            for w in windows
        ],
        "warehouse": warehouse,
        "report": report,
        "api_requests": requests_made,
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    _print_summary(work, windows, warehouse, report, requests_made, time.monotonic() - started)


def _check_window(lake: Path, day: dt.date) -> dict[str, Any]:
    """Read the published window back and compare it, record for record, with the API."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.storage import iter_records

    prefix = lake / "events" / "type=all" / f"date_from={day}" / f"date_to={day}"
    manifest_path = prefix / "_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    landed = list(iter_records(ObjectStoragePath(f"file://{manifest_path}")))
    hook = IntervalsHook()
    try:
        expected = list(hook.iter_events(date_from=day, date_to=day))
    finally:
        hook.close()
    if landed != expected:
        sys.exit(f"The landed window {day} differs from the API's events for that day")
    return {
        "day": day,
        "prefix": prefix,
        "manifest": manifest,
        "manifest_path": manifest_path,
        "records": landed,
    }


def _check_warehouse(path: Path, windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the DuckDB table with the landed windows: same ids per day, no duplicates."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        query = "SELECT date::VARCHAR, COUNT(*) FROM intervals_events GROUP BY 1 ORDER BY 1"
        per_day = dict(con.execute(query).fetchall())
        total, distinct = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM intervals_events"
        ).fetchone()
        sample = con.execute(
            "SELECT event_id, date::VARCHAR, type, name, city FROM intervals_events"
            " ORDER BY date, event_id LIMIT 3"
        ).fetchall()
    want = {str(w["day"]): len(w["records"]) for w in windows}
    if per_day != want or total != distinct:
        sys.exit(f"The warehouse rows per day {per_day} differ from the landed windows {want}")
    return {
        "path": str(path),
        "table": "intervals_events",
        "rows": total,
        "rows_per_day": per_day,
        "sample": [list(r) for r in sample],
    }


def _check_report(folder: Path) -> dict[str, Any]:
    """Read the report's numbers back (``summary.csv``) and check the HTML shows the same totals."""
    summary = list(csv.DictReader((folder / "summary.csv").open()))
    events = sum(int(r["events"]) for r in summary)
    registrations = sum(int(r["registrations"]) for r in summary)
    page = (folder / "report.html").read_text()
    if (
        f'id="total-events">{events:,}<' not in page
        or f'id="total-registrations">{registrations:,}<' not in page
    ):
        sys.exit(f"The report {folder / 'report.html'} does not show the numbers of its summary.csv")
    return {
        "html": str(folder / "report.html"),
        "summary_csv": str(folder / "summary.csv"),
        "events": events,
        "registrations": registrations,
        "by_type": summary,
    }


def _print_summary(work: Path, windows, warehouse, report, requests_made: int, seconds: float) -> None:
    print("\n=== 1. Landed windows (each equal, record for record, to the API's events of its day) ===")
    for w in windows:
        parts = w["manifest"].get("parts", [])
        print(
            f"{w['day']}: {len(w['records']):>4} events, {len(parts)} part(s), "
            f"published at\n    {w['prefix']}"
        )
    print("\n=== 2. Warehouse (DuckDB, loaded from the published windows' manifests) ===")
    print(f"{warehouse['path']}  table {warehouse['table']}: {warehouse['rows']} rows, no duplicate ids")
    print("    rows per day: " + ", ".join(f"{d}: {n}" for d, n in warehouse["rows_per_day"].items()))
    for row in warehouse["sample"]:
        print("    " + "  ".join("(virtual)" if v is None else str(v) for v in row))
    print("\n=== 3. Weekly organisation report ===")
    print(f"{report['events']} events, {report['registrations']} registrations; by type:")
    for r in report["by_type"]:
        print(f"    {r['type']:<10} {int(r['events']):>4} events  {int(r['registrations']):>5} registrations")
    print(f"Open it: {report['html']}\nNumbers: {report['summary_csv']}")
    print(f"\nAPI requests: {requests_made}. Everything is under {work}")
    print(f"Done in {seconds:.0f}s; the sandbox has been stopped. Next: python3 dev.py standalone (the UI).")


if __name__ == "__main__":
    main()
