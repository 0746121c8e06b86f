"""Every Monday, a report of the past week a person would want to open: HTML, plus the numbers as CSV.

Shows the hook used directly inside TaskFlow tasks, and tasks handing each other **paths, not
data**: ``collect_week`` asks the API for the organisation, its events dated in the week and
each event's registrations, and writes the counts per event (``events.csv``) to object
storage; ``render_report`` reads them back and writes ``summary.csv`` (counts by event type)
and ``report.html`` (totals, counts by event type, registrations per event, inline SVG bar
charts: one self-contained file). XCom carries only the paths and the totals.

Registrations are personal data: only their count and status are kept; no name, email or
other field of one is logged or written.

The week comes from the data interval (``CronDataIntervalTimetable``): the run of Monday
2025-06-09 covers Monday 2025-06-02 .. Sunday 2025-06-08 and writes
``{reports}/organisation_report/week=2025-06-02/``. A rerun replaces its week's files.

**Connections.** ``intervals_default`` (scopes to read the organisation, events and
registrations); an ``aws`` connection when the reports go to S3.

**Where it writes**, first set wins: the Airflow Variable ``intervals_reports_path`` (read
at run time; ``intervals_reports_conn`` names its connection), the environment variables
``INTERVALS_REPORTS_PATH`` / ``INTERVALS_REPORTS_CONN``, else ``file://{project}/.local/reports``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, ObjectStoragePath, get_current_context, task

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow < 3.2 has it in core only
    from airflow.timetables.interval import CronDataIntervalTimetable
from include.locations import setting


def _week_folder(reports_path: str, conn_id: str, date_from: str) -> ObjectStoragePath:
    folder = ObjectStoragePath(reports_path.strip(), conn_id=conn_id.strip() or None)
    folder = folder / "organisation_report" / f"week={date_from}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


with DAG(
    dag_id="intervals_organisation_report",
    schedule=CronDataIntervalTimetable("0 0 * * 1", timezone="UTC"),  # Mondays: the week before
    start_date=dt.datetime(2025, 1, 6, tzinfo=dt.UTC),
    catchup=False,
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:

    @task
    def collect_week(reports_path: str, reports_conn_id: str) -> dict[str, Any]:
        """Write the organisation and the counts per event of the run's week; return paths and totals."""
        from include import report

        from airflow_provider_intervals.hooks.intervals import IntervalsHook
        from airflow_provider_intervals.windows import default_window

        window = default_window(get_current_context())
        hook = IntervalsHook()
        try:
            org, rows = report.collect(hook, window.date_from, window.date_to)
        finally:
            hook.close()
        folder = _week_folder(reports_path, reports_conn_id, window.date_from)
        (folder / "organization.json").write_text(report.organization_json(org))
        (folder / "events.csv").write_text(report.to_csv(rows, report.EVENT_COLUMNS))
        registrations = sum(r["registrations"] for r in rows)
        print(f"{len(rows)} events, {registrations} registrations, {window.date_from} .. {window.date_to}")
        return {"folder": str(folder), "date_from": window.date_from, "date_to": window.date_to,
                "events": len(rows), "registrations": registrations}  # fmt: skip

    @task
    def render_report(collected: dict[str, Any], reports_conn_id: str) -> dict[str, Any]:
        """Render ``summary.csv`` and ``report.html`` from the collected numbers; return their paths."""
        import json

        from include import report

        folder = ObjectStoragePath(collected["folder"], conn_id=reports_conn_id.strip() or None)
        org = json.loads((folder / "organization.json").read_text())
        rows = report.read_csv((folder / "events.csv").read_text())
        summary = report.summarize(rows)
        (folder / "summary.csv").write_text(report.to_csv(summary, report.SUMMARY_COLUMNS))
        page = report.render_html(org, collected["date_from"], collected["date_to"], rows)
        (folder / "report.html").write_text(page)
        print(f"Report: {folder / 'report.html'}")
        return {"html": str(folder / "report.html"), "summary": str(folder / "summary.csv"),
                "events_csv": str(folder / "events.csv"), "events": len(rows),
                "registrations": sum(r["registrations"] for r in rows)}  # fmt: skip

    conn = setting("reports_conn")
    render_report(collect_week(reports_path=setting("reports_path"), reports_conn_id=conn), conn)
