"""Preview before a backfill: ``preview_events`` over the sync hook against the sandbox, and its sums.

The figure that matters is checked against the real thing: the requests the preview says a
landing makes are the requests a landing then makes (the sandbox counts them).
"""

from __future__ import annotations

import pytest
from helpers import task_context

from airflow_provider_intervals import api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.preview import EventsPreview, describe_duration, preview_events, sample_days
from airflow_provider_intervals.sandbox import Sandbox
from airflow_provider_intervals.windows import Window

QUARTER = {"date_from": "2025-04-01", "date_to": "2025-06-30"}


@pytest.mark.parametrize(
    ("count", "limit", "has_more", "requests"),
    [(0, 100, True, 1), (99, 100, True, 1), (100, 100, True, 1), (101, 100, True, 2),
     (0, 100, False, 1), (99, 100, False, 1), (100, 100, False, 2), (250, 100, False, 3)],
    ids=["empty", "short", "exactly-full", "one-more", "no-hasMore-empty", "no-hasMore-short",
         "no-hasMore-full-page-asks-again", "no-hasMore-many"],
)  # fmt: skip
def test_pages_for_counts_the_requests_of_one_listing(count, limit, has_more, requests):
    assert api.pages_for(count, limit, has_more) == requests


def test_seconds_for_lets_the_burst_go_then_paces_at_the_plan():
    free, premium = pacing.Rate.for_plan("free"), pacing.Rate.for_plan("premium")
    assert pacing.seconds_for(premium, 19) == 0  # the burst of 20, less one token of headroom
    assert pacing.seconds_for(premium, 119) == pytest.approx(60.0)  # then 100 a minute
    assert pacing.seconds_for(free, 119) == pytest.approx(86400.0)  # 100 a day
    assert describe_duration(pacing.seconds_for(free, 1019)) == "10.0 days"
    assert describe_duration(None).startswith("as fast as the API answers")


def test_sample_days_spreads_over_the_window():
    days = sample_days(Window("2025-01-01", "2025-12-31"), 12)
    assert len(days) == len(set(days)) == 12
    assert [d[5:7] for d in days] == [f"{m:02d}" for m in range(1, 13)]  # one a month
    assert sample_days(Window("2025-01-01", "2025-01-03"), 10) == ["2025-01-01", "2025-01-02", "2025-01-03"]


@pytest.fixture
def hook(api, make_conn):
    make_conn(api, page_size=20)  # several pages per sub-window
    hook = IntervalsHook()
    yield hook
    hook.close()


def _landing_requests(api, tmp_path, **kwargs) -> int:
    """Requests an actual landing of QUARTER makes, as the sandbox counted them."""
    api.reset_stats()
    op = IntervalsEventsOperator(task_id="land", output_path=f"file://{tmp_path}/lake", **QUARTER, **kwargs)
    op.execute(task_context())
    return api.stats["requests"]


@pytest.mark.parametrize(
    ("has_more", "settings"),
    [(True, {}), (True, {"split_days": 7}), (True, {"concurrency": 1}), (False, {"split_days": 10})],
    ids=["default", "weekly-sub-windows", "one-stream", "no-hasMore"],
)
def test_the_preview_counts_every_day_and_predicts_the_landings_requests(
    api, hook, tmp_path, has_more, settings
):
    api.has_more = has_more
    api.reset_stats()
    preview = preview_events(hook, **QUARTER)
    stats = api.stats  # reads only: every request was a listing page, nothing was created
    assert stats["requests"] == stats["pages_served"] == preview.requests
    assert stats["events_created"] == stats["registrations_created"] == 0
    assert list(preview.by_day) == [d.isoformat() for d in _days(QUARTER)]
    for day, count in preview.by_day.items():
        assert count == api.store.count_events(date_from=day, date_to=day)
    assert preview.events == api.store.count_events(**QUARTER) > 200
    assert preview.has_more is has_more
    assert preview.landing_requests(**settings) == _landing_requests(api, tmp_path, **settings)


def _days(window):
    import datetime as dt

    start, end = (dt.date.fromisoformat(window[k]) for k in ("date_from", "date_to"))
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def test_a_sampled_preview_lists_only_its_days_and_estimates_the_window(make_conn):
    # A sandbox of its own: the shared one holds events other tests created on a few days.
    with Sandbox(events=5000, seed=11, rate_limits=False) as sb:
        make_conn(sb, page_size=20)
        hook = IntervalsHook()
        preview = preview_events(hook, **QUARTER, sample_days=9)
        hook.close()
        assert preview.sampled
        assert sb.stats["requests"] == preview.requests == 9  # one short page per sampled day
        assert list(preview.by_day) == sample_days(Window(**QUARTER), 9)
        for day, count in preview.by_day.items():
            assert count == sb.store.count_events(date_from=day, date_to=day)
        truth = sb.store.count_events(**QUARTER)
        assert abs(preview.events - truth) <= 0.15 * truth


def test_the_time_at_the_plan_follows_the_connection(api, make_conn):
    make_conn(api, plan="free")
    hook = IntervalsHook()
    preview = preview_events(hook, **QUARTER)
    hook.close()
    assert preview.rate == pacing.Rate.for_plan("free")
    assert preview.pacing == "the connection's plan extra (free)"
    assert preview.listing == "GET /events"
    requests = preview.landing_requests()
    assert preview.landing_seconds() == pytest.approx(pacing.seconds_for(preview.rate, requests))
    data = preview.to_json()
    assert data["landing"]["requests"] == requests
    assert sum(s["events"] for s in data["landing"]["sub_windows"]) == preview.events


def test_a_group_preview_lists_the_groups_events(api, hook):
    slug = next(api.store.iter_groups())["slug"]
    preview = preview_events(hook, **QUARTER, group_slug=slug, event_type="race")
    assert preview.listing == f"GET /groups/{slug}/events?type=race"
    assert preview.events == api.store.count_events("race", **QUARTER, group=slug) > 0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"date_from": None, "date_to": "2025-01-01"}, "date_from"),
     ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, "date_to"),
     ({**QUARTER, "event_type": "Race"}, "event_type"),
     ({**QUARTER, "sample_days": 0}, "sample_days")],
    ids=["no-start", "backwards", "bad-type", "no-days"],
)  # fmt: skip
def test_bad_arguments_fail_before_any_request(api, hook, kwargs, argument):
    api.reset_stats()
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        preview_events(hook, **kwargs)
    assert raised.value.argument == argument
    assert api.stats["requests"] == 0


def test_an_empty_window_costs_one_request_and_lands_in_one_per_sub_window():
    preview = EventsPreview(
        "GET /events", Window("2025-01-01", "2025-01-04"), dict.fromkeys(
            ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"], 0
        ), 1, 100, True, None, "x",
    )  # fmt: skip
    assert (preview.events, preview.landing_requests(1), preview.landing_requests(split_days=1)) == (0, 1, 4)
    assert preview.landing_seconds() is None
