"""Bad input: every user-facing argument with bad values, and malformed API responses.

Arguments: each bad value fails before any request where it can (the sandbox counts zero
requests), with a message naming the argument and the fix, and leaves no file in the
landing zone. Where only the API can tell (a key lacking a scope), the task fails at the
first request, naming the scope, and still leaves nothing behind. The hook's own argument
table is in ``tests/hooks/test_intervals.py``; this one covers the operators, the
sensor, the trigger and the connection, plus the hook methods that table does not.

Responses: a tiny stdlib HTTP server on loopback serves canned bad bodies (the rare case the
sandbox cannot produce) to the real hooks; each fails with a typed error quoting the status
and the start of the body, never a bare ``KeyError``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import types

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowNotFoundException
from helpers import files, task_context

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook
from airflow_provider_intervals.operators.events import (
    IntervalsEventsOperator,
    IntervalsGroupEventsOperator,
)
from airflow_provider_intervals.operators.groups import IntervalsGroupsOperator
from airflow_provider_intervals.operators.recurrences import IntervalsRecurrencesOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.operators.writes import (
    IntervalsBulkCreateEventsOperator,
    IntervalsCreateEventOperator,
)
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor
from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsTrigger

DAY = {"date_from": "2025-06-01", "date_to": "2025-06-01"}
SNAP = {"date_from": "2025-06-01", "date_to": "2025-06-01"}


def events(**kwargs):
    return lambda lake: IntervalsEventsOperator(task_id="t", output_path=lake, **{**DAY, **kwargs})


def group_events(**kwargs):
    return lambda lake: IntervalsGroupEventsOperator(task_id="t", output_path=lake, **{**DAY, **kwargs})


def registrations(**kwargs):
    # "drop": no key connection needed, so each case fails on the argument it is about.
    kwargs = {**SNAP, "personal_data": "drop", **kwargs}
    return lambda lake: IntervalsRegistrationsOperator(task_id="t", output_path=lake, **kwargs)


def recurrences(**kwargs):
    return lambda lake: IntervalsRecurrencesOperator(task_id="t", output_path=lake, **{**SNAP, **kwargs})


def groups(**kwargs):
    return lambda lake: IntervalsGroupsOperator(task_id="t", output_path=lake, **{**SNAP, **kwargs})


def sensor(**kwargs):
    return lambda lake: IntervalsNewEventsSensor(task_id="t", poke_interval=1, timeout=5, **kwargs)


# (id, operator factory, argument named, words of the fix in the message)
OPERATOR_CASES = [
    ("events-date-slashes", events(date_from="2025/06/01"), "date_from", "YYYY-MM-DD"),
    ("events-date-us", events(date_from="06-01-2025"), "date_from", "YYYY-MM-DD"),
    ("events-date-time", events(date_to="2025-06-01T00:00:00+00:00"), "date_to", "YYYY-MM-DD"),
    ("events-date-impossible", events(date_to="2025-06-31"), "date_to", "real date"),
    (
        "events-datetime-object",
        events(date_from=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)),
        "date_from",
        "not a datetime",
    ),
    (
        "events-inverted-window",
        events(date_from="2025-06-02", date_to="2025-06-01"),
        "date_to",
        "on or after date_from",
    ),
    ("events-unknown-type", events(event_type="marathon"), "event_type", "race, runClub, timeTrial, other"),
    ("events-type-case", events(event_type="RACE"), "event_type", "case-sensitive"),
    ("events-part-size-zero", events(records_per_part=0), "records_per_part", "from 1 to"),
    ("events-part-size-text", events(records_per_part="lots"), "records_per_part", "whole number"),
    ("events-concurrency-high", events(concurrency=64), "concurrency", "from 1 to 16"),
    ("events-concurrency-zero", events(concurrency=0), "concurrency", "from 1 to 16"),
    ("events-compresslevel", events(compresslevel=11), "compresslevel", "from 0 to 9"),
    ("events-split-days", events(split_days=0), "split_days", "from 1 to"),
    ("events-allow-empty", events(allow_empty="yes"), "allow_empty", "True or False"),
    ("events-format", events(format="xlsx"), "format", "jsonl, parquet"),
    ("group-slug-space", group_events(group_slug="north shore"), "group_slug", "letters, digits"),
    ("group-slug-empty", group_events(group_slug=""), "group_slug", "non-empty id"),
    ("registrations-event-id-path", registrations(event_id="../events"), "event_id", "non-empty id"),
    ("registrations-event-id-none", registrations(event_id=None), "event_id", "non-empty id"),
    ("recurrences-status", recurrences(status="ACTIVE"), "status", "active, paused, archived"),
    ("groups-window", groups(date_from="yesterday"), "date_from", "YYYY-MM-DD"),
]

OUTPUT_PATHS = [
    ("empty", ""),
    ("blank", "   "),
    ("bare-relative-path", "lake/intervals"),
    ("one-slash", "s3:/bucket/intervals"),
    ("scheme-only", "file://"),
    ("unknown-scheme", "ftpx://host/intervals"),
    ("not-a-string", 42),
]


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.mark.parametrize(
    ("make", "argument", "fix"), [c[1:] for c in OPERATOR_CASES], ids=[c[0] for c in OPERATOR_CASES]
)
def test_bad_operator_argument_fails_before_any_request_naming_it(api, make_conn, lake, make, argument, fix):
    make_conn(api)
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        make(f"file://{lake}").execute(task_context())
    assert raised.value.argument == argument
    assert f"Invalid {argument}=" in str(raised.value)
    assert fix in str(raised.value)
    assert api.stats["requests"] == 0
    assert list(lake.rglob("*")) == []  # not even a directory


@pytest.mark.parametrize("value", [v for _, v in OUTPUT_PATHS], ids=[i for i, _ in OUTPUT_PATHS])
@pytest.mark.parametrize(
    "make", [events(), registrations(event_id="e1"), groups()], ids=["events", "registrations", "groups"]
)
def test_malformed_output_path_fails_before_any_request(api, make_conn, tmp_path, monkeypatch, make, value):
    make_conn(api)
    monkeypatch.chdir(tmp_path)  # a bare path would have landed here
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        make(value).execute(task_context())
    assert raised.value.argument == "output_path"
    assert "Invalid output_path=" in str(raised.value)
    assert "s3://bucket/intervals" in str(raised.value)
    assert api.stats["requests"] == 0
    assert list(tmp_path.rglob("*")) == []


SENSOR_CASES = [
    ("type", sensor(event_type="Race"), "event_type", "case-sensitive"),
    ("date-format", sensor(date_from="2025-6-1"), "date_from", "YYYY-MM-DD"),
    ("inverted", sensor(date_from="2025-06-02", date_to="2025-06-01"), "date_to", "on or after"),
    ("first-run", sensor(first_run="everything"), "first_run", "'baseline' or 'all'"),
    ("known-ids-string", sensor(known_event_ids="e1,e2"), "known_event_ids", "list of event ids"),
    ("known-ids-numbers", sensor(known_event_ids=[1, 2]), "known_event_ids", "list of event ids"),
]


@pytest.mark.parametrize(
    ("make", "argument", "fix"), [c[1:] for c in SENSOR_CASES], ids=[c[0] for c in SENSOR_CASES]
)
@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_bad_sensor_argument_fails_before_any_request(api, make_conn, make, argument, fix, deferrable):
    make_conn(api)
    task = make(None)
    task.deferrable = deferrable
    states = types.SimpleNamespace(get=lambda k, default=None: default, set=lambda k, v: None)
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        task.execute({"asset_state_store": {task.feed: states}})
    assert raised.value.argument == argument
    assert fix in str(raised.value)
    assert api.stats["requests"] == 0


def test_bad_trigger_filters_fail_before_any_request(api, make_conn):
    make_conn(api)
    trigger = IntervalsNewEventsTrigger("intervals_default", {"event_type": "Race"}, poll_interval=0.01)
    event = asyncio.run(trigger.run().__anext__()).payload
    assert event["status"] == "error"
    assert event["error_type"] == "IntervalsArgumentError"
    assert "event_type" in event["message"]
    assert api.stats["requests"] == 0


# ----------------------------------------------------------------------------- connections and keys

CONNECTION_CASES = [
    ("empty-key", {"key": ""}, exc.IntervalsConfigurationError, "has no API key"),
    ("timeout-text", {"timeout": "fast"}, exc.IntervalsConfigurationError, "extra timeout='fast'"),
    ("page-size-high", {"page_size": 500}, exc.IntervalsConfigurationError, "extra page_size=500"),
    ("retries-negative", {"max_retries": -1}, exc.IntervalsConfigurationError, "extra max_retries=-1"),
    ("version-format", {"intervals_version": "latest"}, exc.IntervalsArgumentError, "intervals_version"),
]


@pytest.mark.parametrize(
    ("conn", "error", "words"), [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES]
)
@pytest.mark.parametrize("task", ["events", "bulk", "sensor"])
def test_malformed_connection_fails_before_any_request_or_output(
    api, make_conn, lake, conn, error, words, task
):
    make_conn(api, **conn)
    plan = lake.parent / "plan.jsonl"
    plan.write_text(json.dumps({"name": "A", "slug": "a-1", "type": "race", "date": "2026-01-01"}) + "\n")
    before = sorted(lake.parent.rglob("*"))
    operator = {
        "events": events()(f"file://{lake}"),
        "bulk": IntervalsBulkCreateEventsOperator(task_id="t", input_path=f"file://{plan}"),
        "sensor": sensor(first_run="all")(None),
    }[task]
    with pytest.raises(error) as raised:
        operator.execute({**task_context(), "asset_state_store": {getattr(operator, "feed", None): {}}})
    assert words in str(raised.value)
    assert api.stats["requests"] == 0
    assert sorted(lake.parent.rglob("*")) == before  # no landing, no results file


def _poke(task):
    states = types.SimpleNamespace(get=lambda k, default=None: default, set=lambda k, v: None)
    return task.poke({"asset_state_store": {task.feed: states}})


@pytest.mark.parametrize("task", ["events", "sensor", "hook"])
def test_missing_connection_names_the_connection_id(api, lake, task):
    run = {
        "events": lambda: IntervalsEventsOperator(
            task_id="t", output_path=f"file://{lake}", intervals_conn_id="intervals_nope", **DAY
        ).execute({}),
        "sensor": lambda: _poke(IntervalsNewEventsSensor(task_id="t", intervals_conn_id="intervals_nope")),
        "hook": lambda: IntervalsHook("intervals_nope").get_organization(),
    }[task]
    with pytest.raises(AirflowNotFoundException, match="intervals_nope"):
        run()
    assert api.stats["requests"] == 0
    assert list(lake.rglob("*")) == []


@pytest.mark.parametrize(
    ("make", "scope"),
    [
        (events(), "read:events"),
        (registrations(event_id="e1"), "read:participants"),
        (recurrences(), "read:recurrences"),
        (groups(), "read:groups"),
    ],
    ids=["events", "registrations", "recurrences", "groups"],
)
def test_key_lacking_the_scope_fails_at_the_first_request_naming_it_and_lands_nothing(
    api, make_conn, lake, make, scope
):
    api.add_key("itv_read_series_only", scopes={"read:series"})
    make_conn(api, key="itv_read_series_only")
    with pytest.raises(exc.IntervalsPermissionError) as raised:
        make(f"file://{lake}").execute({})
    assert raised.value.scope == scope
    assert f"needs the scope {scope!r}" in str(raised.value)
    assert api.stats["requests"] == 1  # not retried
    assert files(ObjectStoragePath(f"file://{lake}")) == []


def test_single_write_with_a_key_lacking_write_scope_creates_nothing(api, make_conn):
    api.add_key("itv_read_only", scopes={"read:events"})
    make_conn(api, key="itv_read_only")
    before = api.store.count_events()
    op = IntervalsCreateEventOperator(
        task_id="t", event={"name": "A", "slug": "scope-a", "type": "race", "date": "2026-01-01"}
    )
    with pytest.raises(exc.IntervalsPermissionError, match="write:events"):
        op.execute(task_context())
    assert api.store.count_events() == before
    assert api.stats["requests"] == 1


# ----------------------------------------------------------------------------- hook methods (more)

HOOK_CASES = [
    ("get-group-empty", lambda h: h.get_group(""), "slug"),
    ("group-path", lambda h: h.get_group("a/b"), "slug"),
    ("groups-limit", lambda h: list(h.iter_groups(limit=0)), "limit"),
    ("recurrences-limit-bool", lambda h: list(h.iter_recurrences(limit=True)), "limit"),
    ("before-bad", lambda h: h.list_events(before="x y"), "before"),
    ("group-events-type", lambda h: list(h.iter_group_events("g", event_type="race ")), "event_type"),
    (
        "group-events-window",
        lambda h: list(h.iter_group_events("g", date_from="2025-02-02", date_to="2025-02-01")),
        "date_to",
    ),
    ("registrations-after", lambda h: list(h.iter_registrations("e1", after="")), "after"),
    ("registration-body", lambda h: h.register_participant("email=a@b.co"), "registration"),
    (
        "registration-status",
        lambda h: h.register_participant(
            {"eventRunId": "r1", "email": "a@b.co", "registrationType": "free", "status": "done"}
        ),
        "status",
    ),
]


@pytest.mark.parametrize(("call", "argument"), [c[1:] for c in HOOK_CASES], ids=[c[0] for c in HOOK_CASES])
def test_bad_hook_argument_fails_before_any_request(api, make_conn, call, argument):
    make_conn(api)
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        call(IntervalsHook())
    assert raised.value.argument == argument
    assert "expected" in str(raised.value) or "must be" in str(raised.value)
    assert api.stats["requests"] == 0


# ----------------------------------------------------------------------------- malformed responses


LIST = lambda h: list(h.iter_events())  # noqa: E731
GET = lambda h: h.get_event("e1")  # noqa: E731
ORG = lambda h: h.get_organization()  # noqa: E731
POST = lambda h: h.create_event({"name": "A", "slug": "a", "type": "race", "date": "2026-01-01"})  # noqa: E731
MALFORMED_ = exc.IntervalsMalformedResponseError
MALFORMED = [
    ("html-200", LIST, 200, b"<html><body>Welcome to nginx</body></html>", MALFORMED_),
    ("empty-200", LIST, 200, b"", MALFORMED_),
    ("json-list", LIST, 200, b'[{"_id": "e1"}]', MALFORMED_),
    ("no-data", LIST, 200, b'{"items": [], "hasMore": false}', MALFORMED_),
    ("data-not-list", LIST, 200, b'{"data": {"_id": "e1"}, "hasMore": false}', MALFORMED_),
    ("item-without-id", LIST, 200, b'{"data": [{"name": "No id"}], "hasMore": false}', MALFORMED_),
    ("item-not-object", LIST, 200, b'{"data": ["e1"], "hasMore": false}', MALFORMED_),
    ("truncated-json", LIST, 200, b'{"data": [{"_id": "e1", "na', MALFORMED_),
    ("get-data-list", GET, 200, b'{"data": []}', MALFORMED_),
    ("org-null", ORG, 200, b'{"data": null}', MALFORMED_),
    ("post-no-id", POST, 201, b'{"data": {"id": "e1"}}', MALFORMED_),
    ("post-html", POST, 201, b"<html>Created</html>", MALFORMED_),
    ("error-html-502", LIST, 502, b"<html>502 Bad Gateway</html>", exc.IntervalsServerError),
    ("error-html-401", ORG, 401, b"<html>Unauthorized</html>", exc.IntervalsAuthenticationError),
    (
        "error-wrong-shape-422",
        LIST,
        422,
        b'{"error": "bad", "errors": ["limit"]}',
        exc.IntervalsValidationError,
    ),
    ("error-empty-404", GET, 404, b"", exc.IntervalsNotFoundError),
]


@pytest.mark.parametrize(
    ("call", "status", "body", "error"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_response_is_a_typed_error_quoting_status_and_body(canned, call, status, body, error):
    canned.canned = (status, body)
    with pytest.raises(exc.IntervalsError) as raised:
        call(IntervalsHook())
    assert type(raised.value) is error
    assert not isinstance(raised.value, KeyError | TypeError | AttributeError)
    text = str(raised.value)
    assert f"Intervals API {status}" in text
    assert body[:20].decode() in text  # the start of the body, quoted
    assert canned.hits >= 1


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"<html>oops</html>"), (200, b'{"data": [{"x": 1}]}'), (200, b'{"data": "none"}')],
    ids=["html", "item-without-id", "data-string"],
)
def test_async_hook_and_trigger_report_malformed_responses_typed(canned, status, body):
    canned.canned = (status, body)

    async def first_page():

        async for page in IntervalsAsyncHook().event_pages(limit=100):
            return page

    with pytest.raises(exc.IntervalsMalformedResponseError) as raised:
        asyncio.run(first_page())
    assert f"Intervals API {status}" in str(raised.value)
    assert body[:10].decode() in str(raised.value)
    trigger = IntervalsNewEventsTrigger("intervals_default", {}, first_run="all", poll_interval=0.01)
    event = asyncio.run(trigger.run().__anext__()).payload
    assert event["status"] == "error"
    assert event["error_type"] == "IntervalsMalformedResponseError"
    assert event["status_code"] == status


def test_malformed_page_mid_window_fails_the_landing_without_publishing(canned, lake):
    canned.canned = (200, b'{"data": [{"name": "no id"}], "hasMore": true}')
    with pytest.raises(exc.IntervalsMalformedResponseError, match="expected a list of objects with '_id'"):
        IntervalsEventsOperator(task_id="t", output_path=f"file://{lake}", **DAY).execute({})
    assert files(ObjectStoragePath(f"file://{lake}")) == []
