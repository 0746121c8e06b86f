"""The demo run as a new user would start it, in a subprocess.

Their outputs are checked against an independent copy of the sandbox's data (the same seed
gives the same events), not against what the demo itself printed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.sandbox.store import Store
from airflow_provider_intervals.storage import iter_records

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo.py"
EVENTS = 20_000

pytestmark = pytest.mark.slow


def run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(DEMO), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_demo_lands_loads_and_reports_what_the_api_holds(tmp_path):
    result = run("--days", "2", "--events", str(EVENTS), "--work", str(tmp_path))
    truth = Store(EVENTS, 42, dt.date(2025, 1, 1), 730)  # the sandbox CLI's defaults, seed 42
    days = ["2025-06-02", "2025-06-03"]  # the runs of 06-03 and 06-04 land the day before each

    want = {d: list(truth.iter_events(date_from=d, date_to=d)) for d in days}
    for d in days:
        manifest = (
            tmp_path / "lake" / "events" / "type=all" / f"date_from={d}" / f"date_to={d}" / "_manifest.json"
        )
        assert list(iter_records(ObjectStoragePath(f"file://{manifest}"))) == want[d] != []

    with duckdb.connect(str(tmp_path / "warehouse" / "intervals.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT date::VARCHAR, event_id, name FROM intervals_events ORDER BY 1, 2"
        ).fetchall()
    assert rows == sorted((e["date"], e["_id"], e["name"]) for d in days for e in want[d])

    week = list(truth.iter_events(date_from="2025-06-02", date_to="2025-06-08"))
    regs = {e["_id"]: len(list(truth.iter_registrations(e["_id"]))) for e in week}
    folder = tmp_path / "reports" / "organisation_report" / "week=2025-06-02"
    summary = {r["type"]: r for r in csv.DictReader((folder / "summary.csv").open())}
    for event_type in {e["type"] for e in week}:
        of_type = [e for e in week if e["type"] == event_type]
        assert int(summary[event_type]["events"]) == len(of_type)
        assert int(summary[event_type]["registrations"]) == sum(regs[e["_id"]] for e in of_type)
    page = (folder / "report.html").read_text()
    assert f'id="total-registrations">{sum(regs.values()):,}<' in page

    printed = result.stdout
    # One Airflow process runs the commands; each is announced as it begins, in order.
    progress = [
        line.split(" (")[0] for line in printed.splitlines() if line.startswith(("Preparing", "Running"))
    ]
    assert progress == [
        f"Preparing the Airflow home {tmp_path / 'airflow'} ...",
        "Running intervals_land_events for 2025-06-03",
        "Running intervals_land_events for 2025-06-04",
        "Running intervals_warehouse_load on the 2 landed windows ...",
        "Running intervals_organisation_report for the week of 2025-06-02 ...",
    ]
    assert f"{len(rows)} rows, no duplicate ids" in printed
    assert f"Open it: {folder / 'report.html'}" in printed
    assert f"{len(week)} events, {sum(regs.values())} registrations" in printed
    assert json.loads((tmp_path / "summary.json").read_text())["warehouse"]["rows"] == len(rows)
    assert "the sandbox has been stopped" in printed
