"""IntervalsAsyncHook (the triggers' transport) against the sandbox over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from helpers import retry_warnings, seed_failing_at, unreachable_api

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook

APRIL = {"date_from": "2025-04-01", "date_to": "2025-04-30"}
RETRIES = 3  # the connection's max_retries in the plan-lookup tests: one budget is 4 attempts


def _list(hook, **filters):
    async def run():
        return [page async for page in hook.event_pages(**filters)]

    return asyncio.run(run())


def test_event_pages_list_the_store_in_api_order_and_resume_after_a_cursor(api, conn):
    want = [e["_id"] for e in api.store.iter_events(**APRIL)]
    pages = _list(IntervalsAsyncHook(), **APRIL, limit=7)
    assert [item["_id"] for page in pages for item in page.items] == want
    assert all(len(page.items) <= 7 for page in pages)
    resumed = _list(IntervalsAsyncHook(), **APRIL, after=want[4])
    assert [item["_id"] for page in resumed for item in page.items] == want[5:]


def test_bad_filters_fail_at_the_call_before_any_request(api, conn):
    before = api.stats["requests"]
    with pytest.raises(exc.IntervalsArgumentError, match="date_from"):
        IntervalsAsyncHook().event_pages(date_from="2025-4-1")
    assert api.stats["requests"] == before


def test_a_server_fault_is_retried_with_the_shared_log_line(api, conn, capsys):
    api.set_faults(error_rate=0.2, seed=seed_failing_at(0))  # the first request fails
    pages = _list(IntervalsAsyncHook(), **APRIL)
    assert sum(len(p.items) for p in pages) == len(list(api.store.iter_events(**APRIL)))
    assert "GET /events: Intervals API 500 INTERNAL_ERROR" in capsys.readouterr().out


def _list_in_four(**filters):
    """Four hooks list at once in one event loop, as four triggers of a triggerer do."""

    async def one():
        return [page async for page in IntervalsAsyncHook().event_pages(**filters)]

    async def run():
        return await asyncio.gather(*(one() for _ in range(4)), return_exceptions=True)

    return asyncio.run(run())


def test_four_hooks_spend_one_retry_budget_on_a_refused_plan_lookup(make_conn, fresh_pacing):
    make_conn(unreachable_api(), max_retries=RETRIES)  # no plan extra: learned from GET /organization
    with retry_warnings("GET /organization") as warnings:
        outcomes = _list_in_four(**APRIL)
    assert [type(o) for o in outcomes] == [exc.IntervalsTransportError] * 4
    assert len(warnings) == RETRIES  # one budget, not one per hook


def test_four_hooks_ask_a_plan_lookup_answered_503_one_retry_budget_in_all(api, make_conn, fresh_pacing):
    make_conn(api, plan=None, max_retries=RETRIES)
    api.fail_next(100, 503)
    outcomes = _list_in_four(**APRIL)
    assert [type(o) for o in outcomes] == [exc.IntervalsServerError] * 4
    assert api.stats["by_status"] == {503: RETRIES + 1}


def test_the_sync_and_async_hooks_share_the_plan_lookup_and_its_failure(api, make_conn, fresh_pacing):
    make_conn(api, plan=None, max_retries=RETRIES)
    api.fail_next(100, 503)
    with pytest.raises(exc.IntervalsServerError):
        list(IntervalsHook().event_pages(**APRIL))
    assert api.stats["requests"] == RETRIES + 1
    with pytest.raises(exc.IntervalsServerError, match="not asked again"):
        _list(IntervalsAsyncHook(), **APRIL)
    assert api.stats["requests"] == RETRIES + 1  # the async hook did not ask again


def test_the_async_hooks_max_rate_limit_wait_gives_up_early_with_when_to_come_back(api, make_conn):
    import time

    make_conn(api, plan="unknown")
    api.set_faults(rate_limit_burst=1, rate_limit_retry_ms=3000)
    before = time.time()
    with pytest.raises(exc.IntervalsRateLimitError, match="429") as err:
        _list(IntervalsAsyncHook(max_rate_limit_wait=1), **APRIL)
    assert 1 < err.value.retry_after - before < 4
    assert api.stats["requests"] == 1


@pytest.mark.parametrize("hook", ["sync", "async"])
def test_a_first_get_organization_with_an_unknown_plan_sends_one_request(api, make_conn, fresh_pacing, hook):
    make_conn(api, plan=None)  # the plan is learned from GET /organization: that request is the answer
    if hook == "sync":
        organization = IntervalsHook().get_organization()
    else:
        organization = asyncio.run(IntervalsAsyncHook().get_organization())
    assert organization == api.store.organization()
    assert api.stats["requests"] == 1
    assert api.stats["by_status"] == {200: 1}


def test_a_later_get_organization_is_one_paced_request(api, make_conn, fresh_pacing):
    make_conn(api, plan=None)
    hook = IntervalsAsyncHook()
    asyncio.run(hook.get_organization())
    bucket = asyncio.run(hook.bucket())  # the plan is known now: nothing sent to resolve it
    assert api.stats["requests"] == 1
    assert asyncio.run(hook.get_organization()) == api.store.organization()
    assert api.stats["requests"] == 2
    assert bucket is not None  # the second call went through the key's bucket


def test_the_async_read_methods_fetch_what_the_sync_ones_do(api, conn):
    sync = IntervalsHook()
    slug = next(sync.iter_groups())["slug"]
    event_id = next(sync.iter_events(**APRIL))["_id"]

    async def run():
        hook = IntervalsAsyncHook()
        return (
            [e["_id"] async for e in hook.iter_events(**APRIL, event_type="race")],
            [e["_id"] async for e in hook.iter_group_events(slug, **APRIL)],
            await hook.get_event(event_id),
            await hook.get_group("no-such-group", missing_ok=True),
            (await hook.list_events(**APRIL, limit=3)).items,
        )

    events, group_events, event, missing, listed = asyncio.run(run())
    assert events == [e["_id"] for e in sync.iter_events(**APRIL, event_type="race")]
    assert group_events == [e["_id"] for e in sync.iter_group_events(slug, **APRIL)]
    assert event == sync.get_event(event_id)
    assert missing is None
    assert listed == sync.list_events(**APRIL, limit=3).items
    sync.close()
