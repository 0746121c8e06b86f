"""Window rules without a DAG run: the data interval, the empty interval, timezones, splits."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.windows import Window, default_window, resolve_window

UTC = dt.UTC


def _day(*args):
    return dt.datetime(*args, tzinfo=UTC)


def _run_context(start, end, logical=None, tz=UTC, run_after=None):
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": logical,
        "dag": SimpleNamespace(timezone=tz),
        "dag_run": SimpleNamespace(run_after=run_after),
    }


@pytest.mark.parametrize(
    ("context", "window"),
    [
        (_run_context(_day(2025, 6, 1), _day(2025, 6, 2)), ("2025-06-01", "2025-06-01")),
        (_run_context(_day(2025, 6, 1), _day(2025, 6, 8)), ("2025-06-01", "2025-06-07")),
        (_run_context(_day(2025, 6, 1, 10), _day(2025, 6, 1, 11)), ("2025-06-01", "2025-06-01")),
        (_run_context(*[_day(2025, 6, 2)] * 3), ("2025-06-02", "2025-06-02")),
        (_run_context(None, None, run_after=_day(2025, 6, 3, 5)), ("2025-06-03", "2025-06-03")),
        # A DAG in New York: midnight there is 04:00 UTC; the window is New York's day.
        (
            _run_context(_day(2025, 6, 1, 4), _day(2025, 6, 2, 4), tz=ZoneInfo("America/New_York")),
            ("2025-06-01", "2025-06-01"),
        ),
    ],
    ids=["daily", "weekly", "hourly", "empty-interval", "no-logical-date", "dag-timezone"],
)
def test_default_window(context, window):
    got = default_window(context)
    assert (got.date_from, got.date_to) == window


def test_templated_end_overrides_one_side_and_is_checked():
    context = _run_context(_day(2025, 6, 1), _day(2025, 6, 2))
    assert resolve_window(context, "2025-05-01\n", None) == Window("2025-05-01", "2025-06-01")
    with pytest.raises(
        exc.IntervalsArgumentError, match=r"date_to='2025-06-01'.*on or after date_from='2025-06-05'"
    ):
        resolve_window(context, "2025-06-05", None)


@pytest.mark.parametrize(("pieces", "expected"), [(1, 1), (2, 2), (7, 7), (30, 10)])
def test_split_covers_every_day_once(pieces, expected):
    window = Window("2025-06-01", "2025-06-10")
    subs = window.split(pieces)
    assert len(subs) == expected
    assert subs[0].date_from == "2025-06-01"
    assert subs[-1].date_to == "2025-06-10"
    days = [
        d
        for s in subs
        for d in range(
            dt.date.fromisoformat(s.date_from).toordinal(), dt.date.fromisoformat(s.date_to).toordinal() + 1
        )
    ]
    assert days == list(range(dt.date(2025, 6, 1).toordinal(), dt.date(2025, 6, 10).toordinal() + 1))


@pytest.mark.parametrize(
    ("window", "concurrency", "split_days", "pieces"),
    [
        (("2025-01-01", "2025-04-30"), 8, None, 16),  # two per worker the landing may run, tapering
        (("2025-01-01", "2025-04-30"), 2, None, 4),
        (("2025-01-01", "2025-04-30"), 1, None, 1),  # one worker: nothing to share
        (("2025-06-01", "2025-06-10"), 8, None, 10),  # never shorter than a day
        (("2025-06-01", "2025-06-01"), 8, None, 1),  # a one-day window is one stream
        (("2025-01-01", "2025-04-30"), 8, 30, 4),  # split_days decides alone
    ],
    ids=["default", "two", "one", "days", "one-day", "split-days"],
)
def test_sub_windows_are_a_queue_finer_than_the_workers(window, concurrency, split_days, pieces):
    subs = Window(*window).sub_windows(concurrency, split_days)
    assert len(subs) == pieces
    assert (subs[0].date_from, subs[-1].date_to) == window
    assert all(a.date_to < b.date_from for a, b in itertools.pairwise(subs))
    assert sum(s.days() for s in subs) == Window(*window).days()
    assert subs == Window(*window).sub_windows(concurrency, split_days)  # the settings decide alone


@pytest.mark.parametrize("days", [1, 7, 17, 30, 120, 365, 731])
@pytest.mark.parametrize("pieces", [2, 16, 32])
def test_taper_cuts_every_day_once_longest_first(days, pieces):
    start = dt.date(2025, 1, 1)
    window = Window(start.isoformat(), (start + dt.timedelta(days=days - 1)).isoformat())
    subs = window.taper(pieces)
    lengths = [s.days() for s in subs]
    assert len(subs) == min(pieces, days)
    assert lengths == sorted(lengths, reverse=True)
    assert min(lengths) >= 1
    assert (subs[0].date_from, subs[-1].date_to) == (window.date_from, window.date_to)
    for a, b in itertools.pairwise(subs):  # contiguous: every day once
        assert dt.date.fromisoformat(a.date_to) + dt.timedelta(days=1) == dt.date.fromisoformat(b.date_from)
    if days >= 4 * pieces:
        assert lengths[0] > lengths[-1]  # the last ones are short: shared at the end


def test_taper_of_four_months_in_sixteen():
    subs = Window("2025-01-01", "2025-04-30").taper(16)
    assert [s.days() for s in subs] == [13, 12, 12, 11, 10, 9, 9, 8, 7, 6, 6, 5, 4, 3, 3, 2]
