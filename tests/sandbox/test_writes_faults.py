from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from airflow_provider_intervals.sandbox import Sandbox

from .conftest import Client

EVENT = {
    "name": "Harbor Mile - May 3",
    "slug": "harbor-mile-may-3",
    "type": "timeTrial",
    "date": "2025-05-03",
    "startTime": "07:30:00",
    "endTime": "09:00",
    "websiteUrl": "https://example.com/mile",
}


def _run_id(sandbox: Sandbox) -> str:
    event_id = sandbox.store.event_ids_sample(1)[0]
    return sandbox.store.get_event(event_id)["runs"][0]["_id"]


def test_create_event_appends_at_the_end(api: Client, sandbox: Sandbox) -> None:
    r = api.post("/events", EVENT)
    assert r.status_code == 201
    event_id = r.json()["data"]["eventId"]
    events = list(sandbox.store.iter_events())
    assert events[-1]["_id"] == event_id
    assert events[-1]["startTime"] == "07:30"
    assert "endTime" not in events[-1]
    detail = api.get(f"/events/{event_id}").json()["data"]
    assert detail == {"event": {**events[-1], "endTime": "09:00"}, "runs": []}


def test_cursor_stable_while_posting(api: Client, sandbox: Sandbox) -> None:
    before = list(sandbox.store.iter_events())
    first = api.get("/events", limit=50).json()["data"]
    new_ids = [api.post("/events", {**EVENT, "slug": f"mid-{k}"}).json()["data"]["eventId"] for k in range(3)]
    rest = api.page_all("/events", limit=50)[50:]
    assert first + rest == list(sandbox.store.iter_events())
    assert [e["_id"] for e in rest[-3:]] == new_ids
    assert first + rest[:-3] == before


def test_duplicate_slug_is_409(api: Client, sandbox: Sandbox) -> None:
    assert api.post("/events", EVENT).status_code == 201
    r = api.post("/events", {**EVENT, "name": "Other"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CONFLICT"
    seeded_slug = next(sandbox.store.iter_events())["slug"]
    assert api.post("/events", {**EVENT, "slug": seeded_slug}).status_code == 409


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"name", "slug", "type", "date"}),
        ({**EVENT, "type": "Race"}, {"type"}),
        ({**EVENT, "date": "2025-05-03T08:00:00Z"}, {"date"}),
        ({**EVENT, "slug": "Not A Slug"}, {"slug"}),
        ({**EVENT, "startTime": "25:00"}, {"startTime"}),
        ({**EVENT, "lat": 91}, {"lat"}),
        ({**EVENT, "endDate": "2025-05-01"}, {"endDate"}),
    ],
    ids=["empty", "type-case", "datetime", "slug", "time", "lat", "end-before-start"],
)
def test_create_event_validation(api: Client, body: dict, fields: set) -> None:
    r = api.post("/events", body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert set(r.json()["error"]["errors"]) == fields


def test_create_registration(api: Client, sandbox: Sandbox) -> None:
    run_id = _run_id(sandbox)
    event_id = sandbox.store.event_ids_sample(1)[0]
    body = {"eventRunId": run_id, "email": "ada@example.com", "registrationType": "paid", "name": "Ada"}
    r = api.post("/registration", body)
    assert r.status_code == 201
    pid = r.json()["data"]["participantId"]
    regs = api.page_all("/registration", eventId=event_id)
    assert regs == list(sandbox.store.iter_registrations(event_id))
    assert regs[-1] == {
        "_id": pid,
        "eventId": event_id,
        "eventRunId": run_id,
        "email": "ada@example.com",
        "name": "Ada",
        "registrationType": "paid",
        "registrationStatus": "confirmed",
        "checkedIn": False,
    }


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"eventRunId", "email", "registrationType"}),
        ({"eventRunId": "x", "email": "nope", "registrationType": "paid"}, {"email"}),
        ({"eventRunId": "x", "email": "a@b.co", "registrationType": "Paid"}, {"registrationType"}),
        ({"eventRunId": "x", "email": "a@b.co", "registrationType": "free", "status": "done"}, {"status"}),
    ],
    ids=["empty", "email", "type-case", "status"],
)
def test_create_registration_validation(api: Client, body: dict, fields: set) -> None:
    r = api.post("/registration", body)
    assert r.status_code == 422
    assert set(r.json()["error"]["errors"]) == fields


def test_unknown_run_is_404(api: Client) -> None:
    r = api.post(
        "/registration", {"eventRunId": "rzzzzzzzzzzzzzz", "email": "a@b.co", "registrationType": "free"}
    )
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "NOT_FOUND", "message": "Event run not found"}}


def test_idempotent_replay_and_conflict(api: Client, sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    first = api.post("/events", EVENT, idem=key)
    total = sandbox.store.count_events()
    again = api.post("/events", dict(reversed(list(EVENT.items()))), idem=key)  # same body, other key order
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert sandbox.store.count_events() == total
    r = api.post("/events", {**EVENT, "name": "Changed"}, idem=key)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "CONFLICT"
    sandbox.add_key("k2")
    other = Client(sandbox, "k2").post("/events", {**EVENT, "slug": "other-key"}, idem=key)
    assert other.status_code == 201  # keys are scoped per API key


def test_concurrent_same_key_creates_once(sandbox: Sandbox) -> None:
    key = str(uuid.uuid4())
    body = {"eventRunId": _run_id(sandbox), "email": "race@example.com", "registrationType": "free"}
    results: list[requests.Response] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        results.append(Client(sandbox, sandbox.api_key).post("/registration", body, idem=key))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["data"]["participantId"] for r in results}) == 1
    assert sandbox.stats["registrations_created"] == 1


def test_error_rate_share_and_envelopes(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(error_rate=0.5, error_statuses=(500, 503), seed=3)
    statuses = [api.get("/groups").status_code for _ in range(80)]
    assert 20 <= statuses.count(500) + statuses.count(503) <= 60
    assert set(statuses) == {200, 500, 503}
    sandbox.set_faults(error_rate=1.0, error_statuses=(503,))
    assert api.get("/groups").json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    sandbox.set_faults(error_rate=1.0, error_statuses=(500,))
    assert api.get("/groups").json()["error"]["code"] == "INTERNAL_ERROR"
    sandbox.set_faults()
    assert api.get("/groups").status_code == 200


def test_errors_never_create(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(error_rate=1.0)
    total = sandbox.store.count_events()
    assert api.post("/events", EVENT).status_code in (500, 503)
    assert sandbox.store.count_events() == total


def test_rate_limit_burst(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(rate_limit_burst=2, rate_limit_retry_ms=40)
    first = api.get("/groups")
    assert first.status_code == 429
    assert first.json()["error"]["code"] == "RATE_LIMITED"
    assert first.json()["error"]["retryAfter"] > time.time() * 1000 - 1000
    assert [api.get("/groups").status_code for _ in range(2)] == [429, 200]


def test_fail_next(api: Client, sandbox: Sandbox) -> None:
    sandbox.fail_next(2, status=502)
    assert [api.get("/groups").status_code for _ in range(3)] == [502, 502, 200]
    assert sandbox.stats["faults_injected"] == 2


def test_latency_is_applied(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(latency=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(api.base + "/groups", timeout=0.05)


def test_peak_in_flight_counts_the_requests_answered_at_once(sandbox: Sandbox) -> None:
    sandbox.set_faults(latency=0.3)
    clients = [Client(sandbox, sandbox.api_key) for _ in range(3)]
    together = threading.Barrier(3)
    statuses: list[int] = []

    def get(client: Client) -> None:
        together.wait(timeout=10)
        statuses.append(client.get("/groups").status_code)

    threads = [threading.Thread(target=get, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200, 200]
    stats = sandbox.stats
    assert (stats["peak_in_flight"], stats["in_flight"]) == (3, 0)
    clients[0].get("/groups")  # one at a time adds nothing
    assert sandbox.stats["peak_in_flight"] == 3
    sandbox.reset_stats()
    assert sandbox.stats["peak_in_flight"] == 0


def test_dropped_connection_raises(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/groups")
    assert sandbox.stats["dropped"] == 1


def test_dropped_post_was_processed_and_retry_replays(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(drop_rate=1.0)
    key = str(uuid.uuid4())
    total = sandbox.store.count_events()
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/events", EVENT, idem=key)
    assert sandbox.store.count_events() == total + 1
    sandbox.set_faults()
    retry = api.post("/events", EVENT, idem=key)
    assert retry.status_code == 201
    assert sandbox.store.count_events() == total + 1
    assert list(sandbox.store.iter_events())[-1]["_id"] == retry.json()["data"]["eventId"]


def test_truncated_body(api: Client, sandbox: Sandbox) -> None:
    sandbox.set_faults(truncate_rate=1.0)
    with pytest.raises(requests.exceptions.RequestException):
        api.get("/groups").json()
    assert sandbox.stats["truncated"] == 1
    sandbox.set_faults()
    assert api.get("/groups").status_code == 200


def test_control_endpoints(sandbox: Sandbox) -> None:
    r = requests.post(
        sandbox.url + "/_sandbox/faults", json={"error_rate": 1.0, "error_statuses": [503]}, timeout=5
    )
    assert r.status_code == 200
    assert r.json()["error_rate"] == 1.0
    api = Client(sandbox, sandbox.api_key)
    assert api.get("/groups").status_code == 503
    stats = requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()
    assert stats["by_status"] == {"503": 1}


def test_stop_is_idempotent_and_closes() -> None:
    sb = Sandbox(events=5).start()
    url = sb.url
    assert requests.get(url + "/groups", timeout=5).status_code == 401
    sb.stop()
    sb.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/groups", timeout=2)
