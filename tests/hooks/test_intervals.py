"""IntervalsHook against the sandbox over real HTTP: every endpoint, paging, errors, retries."""

from __future__ import annotations

import itertools
import logging
import uuid

import pytest

from airflow_provider_intervals import __version__
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook


@pytest.fixture
def hook(api, make_conn):
    make_conn(api)
    h = IntervalsHook()
    yield h
    h.close()


def _new_event(**overrides):
    slug = f"test-event-{uuid.uuid4().hex[:10]}"
    return {"name": "Test 10K", "slug": slug, "type": "race", "date": "2025-07-01", **overrides}


# ----------------------------------------------------------------------------- reads


def test_get_organization_matches_sandbox(hook, api):
    assert hook.get_organization() == api.store.organization()


@pytest.mark.parametrize("has_more", [True, False], ids=["hasMore", "no-hasMore"])
@pytest.mark.parametrize("limit", [100, 7], ids=["page100", "page7"])
def test_iter_events_returns_every_event_once_in_api_order(hook, api, has_more, limit):
    api.has_more = has_more
    got = [e["_id"] for e in hook.iter_events(limit=limit)]
    want = [e["_id"] for e in api.store.iter_events()]
    assert got == want
    assert len(set(got)) == len(got) > 1000


def test_iter_events_uses_100_per_page_by_default(hook, api):
    total = sum(1 for _ in hook.iter_events())
    pages = -(-total // 100)
    assert api.stats["requests"] == pages


def test_iter_events_without_has_more_asks_once_more_after_a_full_page(hook, api):
    api.has_more = False
    total = sum(1 for _ in hook.iter_events(limit=100))
    # Without hasMore, only a short page ends the listing, so an exact multiple needs one more request.
    assert api.stats["requests"] == total // 100 + 1


@pytest.mark.parametrize(
    "filters",
    [
        {"event_type": "race"},
        {"date_from": "2025-03-01", "date_to": "2025-03-31"},
        {"event_type": "runClub", "date_from": "2025-06-01", "date_to": "2025-12-31"},
        {"date_from": "2025-05-05", "date_to": "2025-05-05"},
    ],
    ids=["type", "month", "type+range", "one-day"],
)
def test_iter_events_filters_match_sandbox(hook, api, filters):
    got = list(hook.iter_events(**filters))
    want = list(api.store.iter_events(**filters))
    assert got == want
    assert got, "the seeded data should have events for this filter"


def test_iter_events_is_lazy(hook, api):
    events = hook.iter_events(limit=10)
    assert api.stats["requests"] == 0
    first = list(itertools.islice(events, 15))
    assert len(first) == 15
    assert api.stats["requests"] == 2


def test_iter_events_resumes_after_cursor(hook, api):
    everything = [e["_id"] for e in api.store.iter_events()]
    got = [e["_id"] for e in hook.iter_events(after=everything[499])]
    assert got == everything[500:]


def test_list_events_pages_backwards_with_before(hook, api):
    everything = [e["_id"] for e in api.store.iter_events()]
    page = hook.list_events(before=everything[100], limit=30)
    assert [e["_id"] for e in page.items] == everything[70:100]
    assert page.has_more is True


def test_get_event_returns_event_and_runs(hook, api):
    event_id = next(api.store.iter_events())["_id"]
    got = hook.get_event(event_id)
    assert got == api.store.get_event(event_id)
    assert got["runs"], "every seeded event has at least one run"


def test_get_event_missing(hook):
    with pytest.raises(exc.IntervalsNotFoundError) as err:
        hook.get_event("e000000000000zz")
    assert err.value.status == 404
    assert hook.get_event("e000000000000zz", missing_ok=True) is None


def test_iter_registrations_matches_sandbox(hook, api):
    event_id = next(e["_id"] for e in api.store.iter_events() if any(api.store.iter_registrations(e["_id"])))
    got = list(hook.iter_registrations(event_id, limit=5))
    assert got == list(api.store.iter_registrations(event_id))


def test_iter_registrations_unknown_event_is_not_found(hook):
    with pytest.raises(exc.IntervalsNotFoundError):
        list(hook.iter_registrations("e000000000000zz"))


@pytest.mark.parametrize("status", [None, "active", "paused", "archived"])
def test_iter_recurrences_matches_sandbox(hook, api, status):
    got = list(hook.iter_recurrences(status=status, limit=10))
    assert got == list(api.store.iter_recurrences(status=status))


def test_groups_and_group_events_match_sandbox(hook, api):
    groups = list(hook.iter_groups(limit=3))
    assert groups == list(api.store.iter_groups())
    slug = groups[0]["slug"]
    assert hook.get_group(slug) == api.store.get_group(slug)
    got = list(hook.iter_group_events(slug, event_type="race"))
    assert got == list(api.store.iter_events(event_type="race", group=slug))
    assert got
    assert hook.get_group("no-such-group", missing_ok=True) is None


# ----------------------------------------------------------------------------- writes


def test_create_event_appears_in_later_lists(hook, api):
    body = _new_event(startTime="08:00", description="Along the shore path.")
    event_id = hook.create_event(body)
    got = hook.get_event(event_id)["event"]
    assert {k: got[k] for k in body} == body
    # New items come after the old ones in list order.
    assert list(hook.iter_events())[-1]["_id"] == event_id


def test_create_event_same_idempotency_key_replays(hook, api):
    body, key = _new_event(), str(uuid.uuid4())
    before = api.store.count_events()
    first = hook.create_event(body, idempotency_key=key)
    again = hook.create_event(body, idempotency_key=key)
    assert first == again
    assert api.store.count_events() == before + 1


def test_create_event_same_key_other_body_conflicts(hook):
    key = str(uuid.uuid4())
    hook.create_event(_new_event(), idempotency_key=key)
    with pytest.raises(exc.IntervalsConflictError) as err:
        hook.create_event(_new_event(), idempotency_key=key)
    assert err.value.status == 409
    assert err.value.code == "CONFLICT"


def test_create_event_duplicate_slug_conflicts(hook):
    body = _new_event()
    hook.create_event(body)
    with pytest.raises(exc.IntervalsConflictError):
        hook.create_event({**body, "name": "Another name"})


def test_register_participant_appears_in_registrations(hook, api):
    event_id = next(api.store.iter_events())["_id"]
    run_id = api.store.get_event(event_id)["runs"][0]["_id"]
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    pid = hook.register_participant({"eventRunId": run_id, "email": email, "registrationType": "free"})
    regs = list(hook.iter_registrations(event_id))
    assert regs[-1]["_id"] == pid
    assert regs[-1]["email"] == email


def test_register_participant_unknown_run(hook):
    with pytest.raises(exc.IntervalsNotFoundError):
        hook.register_participant({"eventRunId": "nope123", "email": "a@b.co", "registrationType": "paid"})


# ----------------------------------------------------------------------------- errors


def test_unknown_key_is_authentication_error(api, make_conn):
    make_conn(api, key="not-a-real-key")
    with pytest.raises(exc.IntervalsAuthenticationError) as err:
        IntervalsHook().get_organization()
    assert err.value.status == 401
    assert "password field" in str(err.value)


def test_missing_scope_names_scope(api, make_conn):
    api.add_key("events-only-key", scopes={"read:events"}, plan="enterprise")
    make_conn(api, key="events-only-key")
    hook = IntervalsHook()
    assert next(hook.iter_events())  # the scope it has works
    with pytest.raises(exc.IntervalsPermissionError) as err:
        list(hook.iter_groups())
    assert err.value.status == 403
    assert err.value.scope == "read:groups"
    assert "read:groups" in str(err.value)


def test_unknown_cursor_is_validation_error_with_field(hook):
    with pytest.raises(exc.IntervalsValidationError) as err:
        list(hook.iter_events(after="zzzzzzzzzzzzzzz"))
    assert err.value.status == 422
    assert "after" in err.value.errors


def test_server_error_without_retries_left(api, make_conn):
    make_conn(api, max_retries=0)
    api.set_faults(error_rate=1.0, error_statuses=(503,))
    with pytest.raises(exc.IntervalsServerError) as err:
        IntervalsHook().get_organization()
    assert err.value.status == 503


def test_rate_limited_beyond_the_longest_wait(api, make_conn):
    import time

    make_conn(api, max_retries=5, max_rate_limit_wait=0.01)
    api.set_faults(rate_limit_burst=1, rate_limit_retry_ms=2000)
    with pytest.raises(exc.IntervalsRateLimitError) as err:
        IntervalsHook().get_organization()
    assert err.value.status == 429
    assert err.value.retry_after is not None
    assert time.time() < err.value.retry_after < time.time() + 3
    assert api.stats["requests"] == 1  # raised at once: a 2 s wait is past max_rate_limit_wait


@pytest.mark.parametrize("door", ["429-retry-after", "pacing"])
def test_the_hooks_max_rate_limit_wait_gives_up_early_with_when_to_come_back(
    api, make_conn, fresh_pacing, door
):
    """The connection would wait 900 s; a hook made with ``max_rate_limit_wait=1`` raises at once.

    Through a 429 whose ``retryAfter`` is 3 s away, and through pacing whose next slot is 10 s
    away (6 requests a minute, burst 2, one token kept as headroom): nothing more is sent, and
    ``retry_after`` says when.
    """
    import time

    if door == "pacing":
        make_conn(api, requests_per_minute=6, burst=2)
    else:
        make_conn(api, plan="unknown")
        api.set_faults(rate_limit_burst=1, rate_limit_retry_ms=3000)
    hook = IntervalsHook(max_rate_limit_wait=1)
    assert hook.settings.retry.max_rate_limit_wait == 1
    if door == "pacing":
        hook.get_organization()  # the bucket's only token: the next slot is 10 s away
    before = time.time()
    with pytest.raises(exc.IntervalsRateLimitError) as err:
        hook.get_organization()
    assert 1 < err.value.retry_after - before < (4 if door == "429-retry-after" else 11)
    assert api.stats["requests"] == 1  # the 429, or the request that took the only token


def test_the_hooks_max_rate_limit_wait_never_lengthens_the_connections(api, make_conn):
    make_conn(api, max_rate_limit_wait=5)
    assert IntervalsHook(max_rate_limit_wait=60).settings.retry.max_rate_limit_wait == 5
    assert IntervalsHook().settings.retry.max_rate_limit_wait == 5


@pytest.mark.parametrize("value", [-1, "soon", float("nan"), True, 86401])
def test_a_bad_max_rate_limit_wait_is_refused_before_any_request(api, make_conn, value):
    make_conn(api)
    with pytest.raises(exc.IntervalsArgumentError, match=r"max_rate_limit_wait.*seconds from 0 to 86400"):
        IntervalsHook(max_rate_limit_wait=value).get_organization()
    assert api.stats["requests"] == 0


def test_429s_with_retry_after_do_not_spend_the_retry_budget(api, make_conn):
    make_conn(api, max_retries=0)
    api.set_faults(rate_limit_burst=3, rate_limit_retry_ms=20)
    assert IntervalsHook().get_organization()["_id"] == api.store.organization()["_id"]
    assert api.stats["by_status"] == {429: 3, 200: 1}


@pytest.mark.parametrize(
    ("extra", "max_429s"),
    [({}, 0), ({"plan": "unknown", "requests_per_minute": None, "burst": None}, None)],
    ids=["paced-to-the-plan", "unpaced-waits-out-429s"],
)
def test_real_rate_limit_is_waited_out(api, make_conn, extra, max_429s):
    """A plan limit of 5 requests per second, burst 5: 12 pages need the hook to wait, not fail.

    With the sandbox's matching connection the hook paces to the limit and draws no 429;
    with the plan unknown it waits each 429's retryAfter out and still gets every page.
    """
    from airflow_provider_intervals import pacing

    api.add_key("slow-plan-key", scopes=None, plan="premium")
    saved = api.rate_limits
    api.rate_limits = {"premium": (5, 1.0, 5)}
    pacing.forget()
    try:
        make_conn(api, key="slow-plan-key", **extra)
        got = [e["_id"] for e in IntervalsHook().iter_events(limit=100, date_from="2025-01-01")]
    finally:
        api.rate_limits = saved
        pacing.forget()
    assert got == [e["_id"] for e in api.store.iter_events(date_from="2025-01-01")]
    drawn = api.stats["by_status"].get(429, 0)
    assert drawn == 0 if max_429s == 0 else drawn >= 1


# ----------------------------------------------------------------------------- retries


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.3, "error_statuses": (500, 503)},
        {"rate_limit_burst": 4},
        {"drop_rate": 0.25},
        {"truncate_rate": 0.25},
        {"error_rate": 0.15, "drop_rate": 0.1, "truncate_rate": 0.1, "latency": 0.001},
    ],
    ids=["5xx", "429-burst", "dropped", "truncated", "mixed"],
)
def test_retries_recover_with_no_duplicate_and_no_missing(hook, api, faults):
    api.set_faults(seed=3, **faults)
    got = [e["_id"] for e in hook.iter_events(limit=50)]
    api.set_faults()
    assert got == [e["_id"] for e in api.store.iter_events()]
    assert api.stats["faults_injected"] > 0


def test_post_retried_after_dropped_response_creates_exactly_one(hook, api):
    """The sandbox creates the object, then drops the reply; the retry must replay, not create."""
    bodies = [_new_event() for _ in range(20)]
    api.set_faults(drop_rate=0.5, seed=11)
    ids = [hook.create_event(body) for body in bodies]
    api.set_faults()
    assert api.stats["faults_injected"] > 0
    slugs = {b["slug"] for b in bodies}
    created = [e["_id"] for e in api.store.iter_events() if e["slug"] in slugs]
    assert sorted(created) == sorted(ids)
    assert len(set(ids)) == 20


def test_post_without_retries_does_not_retry_a_500(api, make_conn):
    make_conn(api, max_retries=0)
    before = api.store.count_events()
    api.set_faults(error_rate=1.0, error_statuses=(500,))
    with pytest.raises(exc.IntervalsServerError):
        IntervalsHook().create_event(_new_event())
    assert api.stats["requests"] == 1
    assert api.store.count_events() == before


# ----------------------------------------------------------------------------- bad arguments

EV = {"name": "x", "slug": "x", "type": "race", "date": "2025-01-01"}
REG = {"eventRunId": "r1", "email": "a@b.co", "registrationType": "free"}
BAD_CALLS = [
    ("date_from", lambda h: h.iter_events(date_from="2025/06/01")),
    ("date_from", lambda h: h.iter_events(date_from="2025-06-01T00:00:00+00:00")),
    ("date_to", lambda h: h.iter_events(date_to="2025-02-30")),
    ("date_to", lambda h: h.iter_events(date_from="2025-06-02", date_to="2025-06-01")),
    ("event_type", lambda h: h.iter_events(event_type="Race")),
    ("limit", lambda h: h.iter_events(limit=0)),
    ("limit", lambda h: h.iter_events(limit=101)),
    ("limit", lambda h: h.list_events(limit="10")),
    ("after", lambda h: h.list_events(after="a", before="b")),
    ("after", lambda h: h.iter_events(after="bad/cursor")),
    ("event_id", lambda h: h.get_event("")),
    ("event_id", lambda h: h.iter_registrations("../events")),
    ("status", lambda h: h.iter_recurrences(status="ACTIVE")),
    ("slug", lambda h: h.iter_group_events("a b")),
    ("type", lambda h: h.create_event({**EV, "type": "marathon"})),
    ("slug", lambda h: h.create_event({**EV, "slug": "Not A Slug"})),
    ("date", lambda h: h.create_event({**EV, "date": None})),
    ("startime", lambda h: h.create_event({**EV, "startime": "08:00"})),
    ("startTime", lambda h: h.create_event({**EV, "startTime": "8am"})),
    ("lat", lambda h: h.create_event({**EV, "lat": 123.0})),
    ("endDate", lambda h: h.create_event({**EV, "endDate": "2024-12-31"})),
    ("event", lambda h: h.create_event(["not", "a", "mapping"])),
    ("email", lambda h: h.register_participant({**REG, "email": "nope"})),
    ("registrationType", lambda h: h.register_participant({**REG, "registrationType": "gratis"})),
    ("eventRunId", lambda h: h.register_participant({**REG, "eventRunId": None})),
]


@pytest.mark.parametrize(
    ("argument", "call"), BAD_CALLS, ids=[f"{i}-{a}" for i, (a, _) in enumerate(BAD_CALLS)]
)
def test_bad_arguments_fail_before_any_request(hook, api, argument, call):
    with pytest.raises(exc.IntervalsArgumentError) as err:
        call(hook)
    assert err.value.argument == argument
    assert argument in str(err.value)
    assert "expected" in str(err.value) or "must" in str(err.value) or "pass" in str(err.value)
    assert api.stats["requests"] == 0


def test_email_value_is_not_echoed_in_errors(hook):
    with pytest.raises(exc.IntervalsArgumentError) as err:
        hook.register_participant({"eventRunId": "r1", "email": "jane.doe@", "registrationType": "free"})
    assert "jane.doe" not in str(err.value)


# ----------------------------------------------------------------------------- connection


def test_session_headers(api, make_conn):
    make_conn(api, intervals_version="2025-01-15", proxies={})
    session = IntervalsHook().get_conn()
    assert session.headers["User-Agent"].startswith(f"airflow-provider-intervals/{__version__}")
    assert session.headers["Intervals-Version"] == "2025-01-15"
    for extra in ("timeout", "max_retries", "retry_backoff", "intervals_version"):
        assert extra not in session.headers


def test_no_version_header_unless_pinned(hook):
    assert "Intervals-Version" not in hook.get_conn().headers


def test_missing_api_key_is_configuration_error(api, make_conn):
    make_conn(api, key="")
    with pytest.raises(exc.IntervalsConfigurationError, match="password field"):
        IntervalsHook().get_organization()
    assert api.stats["requests"] == 0


@pytest.mark.parametrize(
    ("extra", "value"),
    [("page_size", 0), ("page_size", 101), ("page_size", 2.5), ("timeout", "soon"), ("max_retries", -1)],
)
def test_bad_extras_are_configuration_errors(api, make_conn, extra, value):
    make_conn(api, **{extra: value})
    with pytest.raises(exc.IntervalsConfigurationError, match=extra):
        list(IntervalsHook().iter_events())
    assert api.stats["requests"] == 0


def test_page_size_extra_is_used(api, make_conn):
    make_conn(api, page_size=40)
    total = sum(1 for _ in IntervalsHook().iter_events())
    assert api.stats["requests"] == -(-total // 40)


def test_test_connection_reports_each_failure_distinctly(api, make_conn):
    make_conn(api)
    ok, message = IntervalsHook().test_connection()
    assert ok
    assert api.store.organization()["name"] in message

    make_conn(api, key="wrong-key")
    ok, message = IntervalsHook().test_connection()
    assert (ok, "401" in message, "API key" in message) == (False, True, True)

    api.add_key("no-series", scopes={"read:events"}, plan="enterprise")
    make_conn(api, key="no-series")
    ok, message = IntervalsHook().test_connection()
    assert (ok, "read:series" in message) == (False, True)


def test_test_connection_network_failure(make_conn, api, monkeypatch):
    import json

    make_conn(api, max_retries=0)
    conn = json.loads(api.connection_json())
    conn["port"] = 9  # discard port: nothing listens on loopback
    conn["extra"] = {"max_retries": 0, "timeout": 2}
    monkeypatch.setenv("AIRFLOW_CONN_INTERVALS_DEFAULT", json.dumps(conn))
    ok, message = IntervalsHook().test_connection()
    assert not ok
    assert "Could not reach" in message


# ----------------------------------------------------------------------------- secrets


def test_api_key_never_in_logs_errors_or_reprs(api, make_conn, caplog):
    secret = "sk_live_RECOGNISABLE_" + uuid.uuid4().hex
    api.add_key(secret, scopes={"read:events"}, plan="enterprise")
    make_conn(api, key=secret)
    caplog.set_level(logging.DEBUG)
    hook = IntervalsHook()
    texts = []
    api.set_faults(error_rate=0.5, seed=1)
    list(hook.iter_events(limit=100))
    api.set_faults()
    for call in (hook.get_organization, lambda: hook.get_event("e000000000000zz")):
        with pytest.raises(exc.IntervalsError) as err:
            call()
        texts += [str(err.value), repr(err.value), repr(err.value.__dict__)]
    texts += [repr(hook), repr(hook.session.auth), repr(hook.__dict__.get("_extras"))]
    assert caplog.records, "retries should have logged warnings"
    assert secret not in caplog.text
    for text in texts:
        assert secret not in text
