from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_intervals.sandbox import Sandbox

from .conftest import Client


def _invalid(r: requests.Response) -> dict:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert isinstance(body["error"]["message"], str)
    assert set(body) == {"error"}
    return body["error"]["errors"]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"limit": "0"}, {"limit"}),
        ({"limit": "101"}, {"limit"}),
        ({"limit": "abc"}, {"limit"}),
        ({"limit": ""}, {"limit"}),
        ({"dateFrom": "2025-13-01"}, {"dateFrom"}),
        ({"dateFrom": "2025-02-30"}, {"dateFrom"}),
        ({"dateTo": "2025-01-01T00:00:00"}, {"dateTo"}),
        ({"dateFrom": "20250101"}, {"dateFrom"}),
        ({"dateFrom": "2025-05-02", "dateTo": "2025-05-01"}, {"dateTo"}),
        ({"type": "Race"}, {"type"}),
        ({"type": "marathon"}, {"type"}),
        ({"limit": "0", "type": "RACE"}, {"limit", "type"}),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-abc",
        "limit-empty",
        "month-13",
        "feb-30",
        "datetime",
        "compact-date",
        "from-after-to",
        "type-case",
        "type-unknown",
        "two-fields",
    ],
)
def test_event_query_validation(api: Client, params: dict, fields: set) -> None:
    errors = _invalid(api.get("/events", **params))
    assert set(errors) == fields
    assert all(isinstance(m, list) and m and isinstance(m[0], str) for m in errors.values())


def test_both_cursors_name_both(api: Client, sandbox: Sandbox) -> None:
    a, b = sandbox.store.event_ids_sample(2)
    assert set(_invalid(api.get("/events", after=a, before=b))) == {"after", "before"}


@pytest.mark.parametrize("name", ["after", "before"])
def test_unknown_cursor(api: Client, name: str) -> None:
    assert set(_invalid(api.get("/events", **{name: "ezzzzzzzzzzzzzz"}))) == {name}


def test_cursor_from_another_list_is_invalid(api: Client, sandbox: Sandbox) -> None:
    group_id = next(sandbox.store.iter_groups())["_id"]
    assert set(_invalid(api.get("/events", after=group_id))) == {"after"}
    slug = next(sandbox.store.iter_groups())["slug"]
    outsider = next(
        e["_id"] for e in sandbox.store.iter_events() if e not in list(sandbox.store.iter_events(group=slug))
    )
    assert set(_invalid(api.get(f"/groups/{slug}/events", after=outsider))) == {"after"}


def test_recurrence_status_is_case_sensitive(api: Client) -> None:
    assert set(_invalid(api.get("/recurrences", status="Active"))) == {"status"}


def test_registration_needs_event_id(api: Client) -> None:
    assert set(_invalid(api.get("/registration"))) == {"eventId"}
    assert set(_invalid(api.get("/registration", limit="0"))) == {"eventId", "limit"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/events/ezzzzzzzzzzzzzz", "Event not found"),
        ("/events/not-an-id", "Event not found"),
        ("/groups/no-such-group", "Group not found"),
        ("/groups/no-such-group/events", "Group not found"),
        ("/registration?eventId=ezzzzzzzzzzzzzz", "Event not found"),
    ],
    ids=["event", "garbage-id", "group", "group-events", "registration-event"],
)
def test_not_found(api: Client, path: str, message: str) -> None:
    r = api.session.get(api.base + path)
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "NOT_FOUND", "message": message}}


@pytest.mark.parametrize("path", ["/nope", "/v1/partner/events", "/events/", "/groups/a/b/c"])
def test_unknown_path_is_404(api: Client, path: str) -> None:
    r = api.session.get(api.base + path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/organization"), ("DELETE", "/events"), ("PUT", "/groups"), ("POST", "/recurrences")],
)
def test_wrong_method_is_405(api: Client, method: str, path: str) -> None:
    r = api.session.request(method, api.base + path, json={})
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "Allow" in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "basic", "unknown-key", "empty-bearer"],
)
def test_unauthorized(sandbox: Sandbox, headers: dict) -> None:
    r = requests.get(sandbox.url + "/events", headers=headers, timeout=5)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "UNAUTHORIZED"
    assert set(r.json()) == {"error"}


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/organization", "read:series"),
        ("GET", "/events", "read:events"),
        ("POST", "/events", "write:events"),
        ("GET", "/registration", "read:participants"),
        ("POST", "/registration", "write:participants"),
        ("GET", "/recurrences", "read:recurrences"),
        ("GET", "/groups", "read:groups"),
    ],
)
def test_missing_scope_is_403_naming_it(sandbox: Sandbox, method: str, path: str, scope: str) -> None:
    from airflow_provider_intervals.sandbox.tables import SCOPES

    sandbox.add_key("limited", scopes=SCOPES - {scope})
    r = requests.request(
        method, sandbox.url + path, json={}, timeout=5, headers={"Authorization": "Bearer limited"}
    )
    assert r.status_code == 403
    assert r.json() == {"error": {"code": "FORBIDDEN", "message": f"API key lacks scope {scope}"}}


def test_malformed_json_is_400(api: Client) -> None:
    r = api.session.post(
        api.base + "/events", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BAD_REQUEST"
    r = api.session.post(api.base + "/events", json=[1, 2])
    assert r.status_code == 400


def test_rate_limit_429_with_retry_after_ms() -> None:
    with Sandbox(events=10, rate_limits={"enterprise": (3, 60.0, 3)}) as sb:
        api = Client(sb, sb.api_key)
        assert [api.get("/organization").status_code for _ in range(3)] == [200, 200, 200]
        r = api.get("/organization")
        assert r.status_code == 429
        body = r.json()
        assert body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["retryAfter"] > time.time() * 1000  # epoch milliseconds, in the future
        assert body["error"]["retryAfter"] < (time.time() + 3600) * 1000
        assert sb.stats["rate_limited"] == 1
        stats = sb.stats  # when the 429 was answered: the benchmark's steady-state count reads it
        assert len(stats["limited_at"]) == 1
        assert stats["first_at"] < stats["limited_at"][0] == stats["last_at"]
        sb.add_key("other", plan="enterprise")  # limits are per key
        assert Client(sb, "other").get("/organization").status_code == 200


def test_free_plan_key_gets_free_limits() -> None:
    with Sandbox(events=10, rate_limits={"free": (2, 86400.0, 2), "enterprise": None}) as sb:
        sb.add_key("freebie", plan="free")
        free = Client(sb, "freebie")
        assert [free.get("/groups").status_code for _ in range(3)] == [200, 200, 429]
        assert free.get("/organization").status_code == 429
        full = Client(sb, sb.api_key)
        assert all(full.get("/groups").status_code == 200 for _ in range(5))


def test_rate_limits_can_be_disabled_at_runtime() -> None:
    with Sandbox(events=10, rate_limits={"enterprise": (1, 60.0, 1)}) as sb:
        api = Client(sb, sb.api_key)
        assert [api.get("/groups").status_code for _ in range(2)] == [200, 429]
        sb.rate_limits = False
        assert api.get("/groups").status_code == 200
