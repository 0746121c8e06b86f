"""The report page fits a narrow screen: the charts scale to their container, wide tables scroll."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import shutil
import subprocess

import pytest
from include import report

from airflow_provider_intervals.sandbox.store import Store

# Its module-scoped page is rendered once for the module: one worker runs the module (-n).
pytestmark = pytest.mark.xdist_group("report-page")

SVG_TAG = re.compile(r"<svg\b[^>]*>")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def _rows() -> list[dict]:
    """A week of seeded events with registration counts: many rows, seven days, long names."""
    rng = random.Random(3)
    rows = []
    for event in Store(4000, 42, dt.date(2025, 1, 1), 730).iter_events(
        date_from="2025-06-02", date_to="2025-06-08"
    ):
        counts = {status: rng.randint(0, 400) for status in report.STATUSES}
        rows.append({"event_id": event["_id"], "date": event["date"], "type": event["type"],
                     "name": event["name"], "registrations": sum(counts.values()), **counts})  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def page() -> str:
    org = {"name": "Lakefront Running Club", "slug": "lakefront", "plan": "enterprise"}
    return report.render_html(org, "2025-06-02", "2025-06-08", _rows())


def _css_rule(page: str, selector: str) -> str:
    match = re.search(rf"(?m)^{re.escape(selector)} \{{([^}}]*)\}}", page)
    assert match, f"no CSS rule for {selector}"
    return match[1]


def test_page_declares_a_viewport_for_phones(page):
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_charts_have_a_view_box_and_no_fixed_size(page):
    tags = SVG_TAG.findall(page)
    assert len(tags) == 2
    for tag in tags:
        assert re.search(r'viewBox="0 0 \d+ \d+"', tag)
        assert not re.search(r'\s(width|height)="', tag)  # no fixed pixel size
        assert 'class="chart"' in tag
    rule = _css_rule(page, ".chart")
    assert "width: 100%" in rule
    assert "height: auto" in rule


def test_bars_and_values_are_drawn_inside_the_view_box():
    svg = report.bar_chart("t", [("Races", 987_654, "#000"), ("Other", 1, "#000"), ("None", 0, "#000")])
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    rects = [
        tuple(map(int, r)) for r in re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"', svg)
    ]
    assert len(rects) == 3
    for x, y, w, h in rects:
        assert x + w <= width - 40  # room for the value label after the bar
        assert y + h <= height
    for x in map(int, re.findall(r'<text x="(\d+)"', svg)):
        assert 0 < x < width


def test_tables_scroll_sideways_instead_of_widening_the_page(page):
    assert page.count("<table>") == 2
    assert page.count('<div class="table-scroll"><table>') == 2
    assert "overflow-x: auto" in _css_rule(page, ".table-scroll")


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (Debian: apt-get install chromium)")
def test_page_fits_a_420_px_screen_in_chromium(page, tmp_path):
    (tmp_path / "report.html").write_text(page)
    # A 420 px iframe: headless chromium will not make its own window narrower than 500 px.
    (tmp_path / "phone.html").write_text("""<html><body><iframe id="f" src="report.html" width="420"
height="800"></iframe><script>
document.getElementById("f").addEventListener("load", () => {
  const d = document.getElementById("f").contentDocument;
  const pre = document.createElement("pre");
  pre.id = "layout";
  pre.textContent = JSON.stringify({viewport: d.documentElement.clientWidth,
    page: d.documentElement.scrollWidth,
    charts: [...d.querySelectorAll("svg")].map(s => s.getBoundingClientRect().right)});
  document.body.appendChild(pre);
});
</script></body></html>""")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=5000", "--dump-dom", f"file://{tmp_path / 'phone.html'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    layout = json.loads(re.search(r'<pre id="layout">([^<]*)</pre>', result.stdout)[1])
    assert 380 <= layout["viewport"] <= 420  # 420 less a scroll bar
    assert layout["page"] == layout["viewport"]  # nothing wider than the screen
    assert len(layout["charts"]) == 2
    assert max(layout["charts"]) <= layout["viewport"]
