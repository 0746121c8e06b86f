from __future__ import annotations

import pytest

from airflow_provider_intervals.sandbox import Sandbox

from .conftest import Client


def test_organization_matches_store(api: Client, sandbox: Sandbox) -> None:
    r = api.get("/organization")
    assert r.status_code == 200
    assert r.json() == {"data": sandbox.store.organization()}
    assert r.headers["Content-Length"] == str(len(r.content))


@pytest.mark.parametrize("has_more", [True, False], ids=["hasMore", "no-hasMore"])
def test_forward_paging_equals_store(api: Client, sandbox: Sandbox, has_more: bool) -> None:
    sandbox.has_more = has_more
    items = api.page_all("/events", limit=7)
    expected = list(sandbox.store.iter_events())
    assert items == expected
    assert len({e["_id"] for e in items}) == 120 == sandbox.store.count_events()


def test_has_more_omitted_when_switched_off(api: Client, sandbox: Sandbox) -> None:
    assert api.get("/events", limit=5).json()["hasMore"] is True
    sandbox.has_more = False
    assert "hasMore" not in api.get("/events", limit=5).json()


def test_list_order_is_not_date_order(sandbox: Sandbox) -> None:
    dates = [e["date"] for e in sandbox.store.iter_events()]
    assert dates != sorted(dates)  # the seeded tail is out of date order on purpose


def test_backward_paging_returns_items_just_before_cursor(api: Client, sandbox: Sandbox) -> None:
    expected = list(sandbox.store.iter_events())
    body = api.get("/events", limit=10, before=expected[50]["_id"]).json()
    assert body["data"] == expected[40:50]
    assert body["hasMore"] is True
    body = api.get("/events", limit=10, before=expected[5]["_id"]).json()
    assert body["data"] == expected[0:5]
    assert body["hasMore"] is False


def test_backward_paging_walks_to_the_start(api: Client, sandbox: Sandbox) -> None:
    expected = list(sandbox.store.iter_events())
    seen: list[dict] = []
    before = expected[-1]["_id"]
    while True:
        body = api.get("/events", limit=9, before=before).json()
        seen[:0] = body["data"]
        if not body["hasMore"]:
            break
        before = body["data"][0]["_id"]
    assert seen == expected[:-1]


@pytest.mark.parametrize(
    "params",
    [
        {"type": "race"},
        {"type": "runClub", "dateFrom": "2025-03-01"},
        {"dateFrom": "2025-06-01", "dateTo": "2025-12-31"},
        {"dateTo": "2025-02-01"},
        {"dateFrom": "2025-04-04", "dateTo": "2025-04-04"},
    ],
    ids=["type", "type+from", "window", "to-only", "single-day"],
)
def test_filters_equal_store(api: Client, sandbox: Sandbox, params: dict) -> None:
    store_kwargs = {
        "event_type": params.get("type"),
        "date_from": params.get("dateFrom"),
        "date_to": params.get("dateTo"),
    }
    expected = list(sandbox.store.iter_events(**store_kwargs))
    assert api.page_all("/events", limit=5, **params) == expected
    for e in expected:
        assert params.get("type", e["type"]) == e["type"]
        assert params.get("dateFrom", "0000") <= e["date"] <= params.get("dateTo", "9999")
    assert len(expected) == sandbox.store.count_events(**store_kwargs)


def test_filtered_paging_accepts_a_non_matching_cursor(api: Client, sandbox: Sandbox) -> None:
    events = list(sandbox.store.iter_events())
    cursor = next(i for i, e in enumerate(events) if e["type"] != "race")
    body = api.get("/events", type="race", limit=3, after=events[cursor]["_id"]).json()
    assert body["data"] == [e for e in events[cursor + 1 :] if e["type"] == "race"][:3]


def test_get_event_matches_store(api: Client, sandbox: Sandbox) -> None:
    for event_id in sandbox.store.event_ids_sample(5):
        r = api.get(f"/events/{event_id}")
        assert r.status_code == 200
        data = r.json()["data"]
        assert data == sandbox.store.get_event(event_id)
        assert 1 <= len(data["runs"]) <= 3
        assert {run["eventId"] for run in data["runs"]} == {event_id}


def test_registrations_match_store(api: Client, sandbox: Sandbox) -> None:
    event_id = next(
        e for e in sandbox.store.event_ids_sample(40) if len(list(sandbox.store.iter_registrations(e))) > 8
    )
    got = api.page_all("/registration", limit=4, eventId=event_id)
    assert got == list(sandbox.store.iter_registrations(event_id))
    assert {reg["eventId"] for reg in got} == {event_id}


def test_recurrences_and_status_filter(api: Client, sandbox: Sandbox) -> None:
    assert api.page_all("/recurrences", limit=2) == list(sandbox.store.iter_recurrences())
    active = api.page_all("/recurrences", status="active")
    assert active == list(sandbox.store.iter_recurrences("active"))
    assert {r["status"] for r in active} <= {"active"}


def test_groups_and_group_events(api: Client, sandbox: Sandbox) -> None:
    groups = api.page_all("/groups", limit=3)
    assert groups == list(sandbox.store.iter_groups())
    assert len(groups) == 10
    slug = groups[0]["slug"]
    assert api.get(f"/groups/{slug}").json() == {"data": sandbox.store.get_group(slug)}
    got = api.page_all(f"/groups/{slug}/events", limit=3)
    assert got == list(sandbox.store.iter_events(group=slug))
    assert 0 < len(got) < 120
    race = api.page_all(f"/groups/{slug}/events", type="race")
    assert race == list(sandbox.store.iter_events(group=slug, event_type="race"))


def test_million_event_sandbox_serves_the_middle() -> None:
    with Sandbox(events=1_000_000, seed=3, rate_limits=False) as sb:
        api = Client(sb, sb.api_key)
        mid = sb.store.event_ids_sample(2)[1]  # the event at index 500,000
        body = api.get("/events", limit=100, after=mid).json()
        assert body["hasMore"] is True
        assert body["data"][0]["_id"] == sb.store.seeded.event_ids.encode(500_001)
        assert body["data"] == [sb.store.seeded.event(i) for i in range(500_001, 500_101)]
        day = body["data"][0]["date"]
        window = api.get("/events", dateFrom=day, dateTo=day, limit=100).json()["data"]
        assert window
        assert all(e["date"] == day for e in window)


@pytest.mark.parametrize(
    "filters",
    [{}, {"event_type": "race"}, {"date_from": "2025-03-01", "date_to": "2025-09-30"}, {"group": "first"}],
    ids=["all", "type", "dates", "group"],
)
def test_the_ids_alone_are_the_listed_events_ids_in_order_created_ones_too(filters: dict) -> None:
    import datetime as dt

    from airflow_provider_intervals.sandbox import Store

    store = Store(300, 5, dt.date(2025, 1, 1), 365, "enterprise")
    created = {"name": "Extra 5K", "slug": "extra-5k", "type": "race", "date": "2025-05-05"}
    store.create_event(created)
    if filters.get("group") == "first":
        filters = {"group": next(store.iter_groups())["slug"]}
    listed = [e["_id"] for e in store.iter_events(**filters)]
    assert list(store.iter_event_ids(**filters)) == listed
    assert listed  # every filter here matches some events
