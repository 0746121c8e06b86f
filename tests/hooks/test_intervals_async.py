"""IntervalsAsyncHook (the triggers' transport) against the sandbox over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from helpers import seed_failing_at

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook

APRIL = {"date_from": "2025-04-01", "date_to": "2025-04-30"}


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
