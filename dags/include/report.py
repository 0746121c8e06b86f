"""The weekly organisation report: collect the numbers from the API, render CSV and HTML.

:func:`collect` asks the API for the organisation, its events of the week and each event's
registrations, and keeps **counts only**: registrations are personal data (names, emails),
so no field of one is kept, logged or written except its status, which is counted.
:func:`render` turns the numbers into ``summary.csv`` and a self-contained ``report.html``
(inline CSS and SVG charts: no dependency, opens from object storage or a mail attachment).
"""

from __future__ import annotations

import collections
import csv
import html
import io
import json
from collections.abc import Iterable
from typing import Any

STATUSES = ("confirmed", "waitlist", "cancelled", "refunded")
EVENT_COLUMNS = ("event_id", "date", "type", "name", "registrations", *STATUSES)
SUMMARY_COLUMNS = ("type", "events", "registrations", *STATUSES)
TYPE_LABELS = {"race": "Races", "runClub": "Run clubs", "timeTrial": "Time trials", "other": "Other"}
COLORS = {"race": "#d1495b", "runClub": "#00798c", "timeTrial": "#edae49", "other": "#66a182"}


def collect(hook: Any, date_from: str, date_to: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return the organisation and one row of counts per event dated in the window.

    :param hook: an :class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook`.
    :param date_from: first day, inclusive.
    :param date_to: last day, inclusive.
    """
    org = hook.get_organization()
    rows = []
    for event in hook.iter_events(date_from=date_from, date_to=date_to):
        statuses = collections.Counter(
            r.get("registrationStatus", "unknown") for r in hook.iter_registrations(event["_id"])
        )
        row = {k: event.get(k) for k in ("date", "type", "name")}
        rows.append({"event_id": event["_id"], **row, "registrations": sum(statuses.values()),
                     **{s: statuses.get(s, 0) for s in STATUSES}})  # fmt: skip
    rows.sort(key=lambda r: (r["date"], r["event_id"]))
    return {k: org.get(k) for k in ("_id", "name", "slug", "plan")}, rows


def to_csv(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Return ``rows`` as CSV text with a header.

    :param rows: dicts with at least ``columns``.
    :param columns: the header, in order.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_csv(text: str) -> list[dict[str, Any]]:
    """Return the event rows of ``events.csv``, counts as ints."""
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for key in ("registrations", *STATUSES):
            row[key] = int(row[key])
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per event type (in the API's type order): events and registrations."""
    by_type: dict[str, dict[str, Any]] = {}
    for row in rows:
        agg = by_type.setdefault(row["type"], {"type": row["type"], "events": 0, "registrations": 0,
                                               **dict.fromkeys(STATUSES, 0)})  # fmt: skip
        agg["events"] += 1
        for key in ("registrations", *STATUSES):
            agg[key] += row[key]
    order = list(TYPE_LABELS)
    return sorted(by_type.values(), key=lambda a: order.index(a["type"]) if a["type"] in order else 99)


def bar_chart(title: str, bars: list[tuple[str, int, str]], width: int = 480) -> str:
    """Return an inline SVG horizontal bar chart that scales down to the width it is given.

    The SVG has a ``viewBox`` and no fixed size: the page's CSS (``.chart``) makes it as wide
    as its container, at most ``width`` pixels, with the height following.

    :param title: the chart's accessible title.
    :param bars: ``(label, value, colour)`` per bar, drawn top to bottom.
    :param width: the chart's drawing width, in pixels at full size.
    """
    # Labels are drawn large (15 units): on a 420 px phone the chart is drawn at ~80%.
    label_w, value_w, bar_h, gap, font = 110, 60, 22, 8, 15
    height = max(1, len(bars)) * (bar_h + gap) + gap
    top = max([v for _, v, _ in bars] + [1])
    span = width - label_w - value_w
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'style="max-width: {width}px" role="img" aria-label="{html.escape(title)}">'
             f"<title>{html.escape(title)}</title>"]  # fmt: skip
    for i, (label, value, colour) in enumerate(bars):
        y = gap + i * (bar_h + gap)
        w = round(span * value / top) if value else 0
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="{font}">'
            f"{html.escape(label)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" rx="3" fill="{colour}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 16}" font-size="{font}">{value:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(org: dict[str, Any], date_from: str, date_to: str, rows: list[dict[str, Any]]) -> str:
    """Return the report page: totals, a chart per view, counts by type, registrations per event.

    :param org: the organisation (``name``, ``slug``, ``plan``).
    :param date_from: the week's first day.
    :param date_to: its last day.
    :param rows: the event rows (see :func:`collect`).
    """
    esc = html.escape
    summary = summarize(rows)
    total_regs = sum(r["registrations"] for r in rows)
    confirmed = sum(r["confirmed"] for r in rows)
    per_event = total_regs / len(rows) if rows else 0.0
    type_chart = bar_chart(
        "Registrations by event type",
        [(TYPE_LABELS.get(s["type"], s["type"]), s["registrations"], COLORS.get(s["type"], "#888"))
         for s in summary],
    )  # fmt: skip
    by_day = collections.Counter(r["date"] for r in rows)
    day_chart = bar_chart("Events per day", [(d, by_day[d], "#30638e") for d in sorted(by_day)])
    type_rows = "".join(
        f"<tr><td>{esc(TYPE_LABELS.get(s['type'], s['type']))}</td><td>{s['events']:,}</td>"
        f"<td>{s['registrations']:,}</td><td>{s['confirmed']:,}</td><td>{s['waitlist']:,}</td>"
        f"<td>{s['cancelled'] + s['refunded']:,}</td></tr>"
        for s in summary
    )
    ranked = sorted(rows, key=lambda r: (-r["registrations"], r["date"], r["event_id"]))
    event_rows = "".join(
        f"<tr><td>{esc(r['date'])}</td><td>{esc(r['name'] or '')}</td>"
        f"<td>{esc(TYPE_LABELS.get(r['type'], r['type'] or ''))}</td><td>{r['registrations']:,}</td>"
        f"<td>{r['confirmed']:,}</td><td>{r['waitlist']:,}</td></tr>"
        for r in ranked
    )
    title = f"{org.get('name') or 'Organisation'}: week {date_from} to {date_to}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; padding: 0 1rem; max-width: 920px;
        color: #1d2433; }}
h1 {{ margin-bottom: .2rem; }} .muted {{ color: #5c667a; }}
.cards {{ display: flex; gap: 1rem; margin: 1.5rem 0; flex-wrap: wrap; }}
.card {{ background: #f3f5f9; border-radius: 8px; padding: .8rem 1rem; flex: 1 1 8.5rem; }}
.card b {{ display: block; font-size: 1.8rem; }}
.table-scroll {{ overflow-x: auto; margin: .5rem 0 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e7ef; }}
td:nth-child(n+3), th:nth-child(n+3) {{ text-align: right; }}
.charts {{ display: flex; gap: 2rem; flex-wrap: wrap; }}
.charts section {{ flex: 1 1 280px; min-width: 0; }}
.chart {{ display: block; width: 100%; height: auto; }}
</style></head><body>
<h1>{esc(org.get("name") or "Organisation")}</h1>
<p class="muted">Weekly report, {esc(date_from)} to {esc(date_to)} &middot; {esc(org.get("slug") or "")}
&middot; plan {esc(org.get("plan") or "")}</p>
<div class="cards">
<div class="card"><b id="total-events">{len(rows):,}</b>events</div>
<div class="card"><b id="total-registrations">{total_regs:,}</b>registrations</div>
<div class="card"><b>{confirmed:,}</b>confirmed</div>
<div class="card"><b>{per_event:.1f}</b>registrations per event</div>
</div>
<div class="charts"><section><h2>Registrations by event type</h2>{type_chart}</section>
<section><h2>Events per day</h2>{day_chart}</section></div>
<h2>Counts by event type</h2>
<div class="table-scroll"><table><tr><th>Type</th><th>Events</th><th>Registrations</th><th>Confirmed</th>
<th>Waitlist</th><th>Cancelled or refunded</th></tr>{type_rows}</table></div>
<h2>Registrations per event</h2>
<div class="table-scroll"><table><tr><th>Date</th><th>Event</th><th>Type</th><th>Registrations</th>
<th>Confirmed</th><th>Waitlist</th></tr>{event_rows}</table></div>
<p class="muted">Counts only: no participant's personal data is in this report.</p>
</body></html>
"""


def organization_json(org: dict[str, Any]) -> str:
    """Return the organisation's label fields as JSON text."""
    return json.dumps(org, indent=2, sort_keys=True)
