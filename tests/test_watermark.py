"""New-event detection without I/O: baselines, poll plans and scans."""

from __future__ import annotations

import types

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import watermark as wm


def _page(*items):
    return types.SimpleNamespace(items=[{"_id": i, "date": d, "type": t} for i, d, t in items])


def test_the_feed_key_ignores_date_from_and_names_the_connection():
    a = wm.feed_key("c1", {"event_type": "race", "date_from": "2025-01-01", "date_to": None})
    b = wm.feed_key("c1", {"event_type": "race", "date_from": "2025-06-01", "date_to": None})
    assert a == b
    assert a != wm.feed_key("c2", {"event_type": "race", "date_from": "2025-01-01", "date_to": None})


@pytest.mark.parametrize(
    ("baseline", "date_from", "covered"),
    [
        (wm.Baseline(), None, False),
        (wm.Baseline(True, "e1", None), None, True),
        (wm.Baseline(True, "e1", "2025-06-01"), "2025-06-02", True),
        (wm.Baseline(True, "e1", "2025-06-01"), "2025-05-31", False),
        (wm.Baseline(True, "e1", "2025-06-01"), None, False),
    ],
    ids=["none", "unbounded", "later-bound", "earlier-bound", "bound-dropped"],
)
def test_a_baseline_covers_the_same_or_a_later_date_from(baseline, date_from, covered):
    assert baseline.covers(date_from) is covered


def test_a_first_poll_takes_the_baseline_and_reports_nothing():
    scan, after = wm.plan_poll(wm.Baseline(), "baseline", None)
    assert after is None
    scan.add_page(_page(("e1", "2025-06-01", "race"), ("e2", "2025-06-02", "race")))
    assert scan.count == 0
    assert scan.baseline_after(wm.Baseline()) == wm.Baseline(True, "e2", None)


def test_a_later_poll_lists_after_the_watermark_and_counts_everything():
    scan, after = wm.plan_poll(wm.Baseline(True, "e2"), "baseline", None)
    assert after == "e2"
    scan.add_page(_page(("e3", "2025-06-05", "race"), ("e4", "2025-06-03", "runClub")))
    summary = scan.summary()
    assert summary["new_event_ids"] == ["e3", "e4"]
    assert (summary["date_from"], summary["date_to"]) == ("2025-06-03", "2025-06-05")
    assert summary["by_type"] == {"race": 1, "runClub": 1}


def test_known_ids_list_everything_and_report_the_rest():
    scan, after = wm.plan_poll(wm.Baseline(True, "e9"), "baseline", frozenset({"e1"}))
    assert after is None
    scan.add_page(_page(("e1", "2025-06-01", "race"), ("e2", "2025-06-02", "race")))
    assert scan.new_ids == ["e2"]


def test_a_422_on_after_is_a_stale_cursor():
    stale = exc.IntervalsValidationError(422, "VALIDATION_ERROR", "bad", errors={"after": ["Unknown"]})
    other = exc.IntervalsValidationError(422, "VALIDATION_ERROR", "bad", errors={"limit": ["Too big"]})
    assert wm.is_stale_cursor(stale)
    assert not wm.is_stale_cursor(other)
