"""The weekly report DAG writes the week's numbers (CSV) and an HTML report that shows them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from airflow.sdk import ObjectStoragePath
from dagfiles import load

MONDAY = dt.datetime(2025, 6, 9, tzinfo=dt.UTC)  # covers Monday 2025-06-02 .. Sunday 2025-06-08


def week_truth(api, date_from="2025-06-02", date_to="2025-06-08"):
    events = list(api.store.iter_events(date_from=date_from, date_to=date_to))
    regs = {e["_id"]: list(api.store.iter_registrations(e["_id"])) for e in events}
    return events, regs


def test_report_counts_the_weeks_events_and_registrations_and_renders_them(
    api, make_conn, run_dag, tmp_path, monkeypatch, caplog
):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_REPORTS_PATH", f"file://{tmp_path}/reports")
    module = load("intervals_organisation_report")
    result = run_dag(module.dag, MONDAY)
    assert result.state == "success"

    events, regs = week_truth(api)
    assert events, "the seeded week has events"
    total = sum(len(r) for r in regs.values())
    out = result.xcom("render_report")
    assert (out["events"], out["registrations"]) == (len(events), total)
    folder = tmp_path / "reports" / "organisation_report" / "week=2025-06-02"
    assert out["html"] == f"file://{folder}/report.html"

    per_event = list(csv.DictReader(io.StringIO((folder / "events.csv").read_text())))
    assert {r["event_id"]: int(r["registrations"]) for r in per_event} == {k: len(v) for k, v in regs.items()}
    confirmed = {k: sum(x["registrationStatus"] == "confirmed" for x in v) for k, v in regs.items()}
    assert {r["event_id"]: int(r["confirmed"]) for r in per_event} == confirmed

    summary = {r["type"]: r for r in csv.DictReader(io.StringIO((folder / "summary.csv").read_text()))}
    for event_type in {e["type"] for e in events}:
        of_type = [e for e in events if e["type"] == event_type]
        assert int(summary[event_type]["events"]) == len(of_type)
        assert int(summary[event_type]["registrations"]) == sum(len(regs[e["_id"]]) for e in of_type)

    page = (folder / "report.html").read_text()
    assert re.search(r'id="total-events">([\d,]+)<', page).group(1) == f"{len(events):,}"
    assert re.search(r'id="total-registrations">([\d,]+)<', page).group(1) == f"{total:,}"
    assert page.count("<svg") == 2
    assert "North Shore Race Management" in page
    busiest = max(events, key=lambda e: (len(regs[e["_id"]]), e["_id"]))
    assert busiest["name"] in page

    # Personal data stays out of every output and of the logs.
    people = [x for v in regs.values() for x in v]
    assert people, "the seeded week has registrations"
    written = page + "".join(p.read_text() for p in folder.iterdir())
    logs = caplog.text
    for person in people[:50]:
        assert person["email"] not in written
        assert person["email"] not in logs
        assert person["name"] not in written


def test_report_goes_where_the_variable_says_at_run_time(api, make_conn, run_dag, tmp_path, monkeypatch):
    make_conn(api)
    monkeypatch.setenv("INTERVALS_REPORTS_PATH", f"file://{tmp_path}/env-reports")
    module = load("intervals_organisation_report")  # parsed with the environment's location
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_REPORTS_PATH", f"file://{tmp_path}/var-reports")
    result = run_dag(module.dag, MONDAY)
    assert result.state == "success"
    html = ObjectStoragePath(result.xcom("render_report")["html"])
    assert html.exists()
    assert str(html).startswith(f"file://{tmp_path}/var-reports/")
    assert not (tmp_path / "env-reports").exists()
