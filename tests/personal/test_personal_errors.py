"""No body bytes in errors or logs about registrations, under every policy; endpoints and fields agree.

The canned server (``tests/conftest.py``) answers over real HTTP with bodies the sandbox never
sends: a registrations page cut short, one whose items lack ``_id``, a proxy's HTML error page.
Each carries an email and a name, which must appear in no error and no log line; the same body
from ``GET /events`` is quoted, so the rule is the endpoint's, not an accident of the body.
"""

from __future__ import annotations

import logging
import traceback

import pytest
from helpers import task_context

from airflow_provider_intervals import api
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.operators.groups import IntervalsGroupsOperator
from airflow_provider_intervals.operators.recurrences import IntervalsRecurrencesOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.operators.writes.kinds import EVENT, REGISTRATION
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS

EMAIL, NAME = "secret.runner@mail.example", "Secret Runner"
CUT = f'{{"data": [{{"_id": "r1", "email": "{EMAIL}", "name": "{NAME}"}}'.encode()  # no closing brackets
NO_IDS = f'{{"data": [{{"email": "{EMAIL}", "name": "{NAME}"}}], "hasMore": false}}'.encode()
HTML = f"<html><body>upstream error for {EMAIL} ({NAME})</body></html>".encode()
REQUEST_ID = "req-7f3a"
BODIES = [(200, CUT), (200, NO_IDS), (502, HTML)]
IDS = ["cut-short", "items-without-id", "proxy-html"]


def _text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


@pytest.mark.parametrize(("status", "body"), BODIES, ids=IDS)
def test_a_malformed_registrations_answer_raises_quoting_no_body_bytes(canned, caplog, status, body):
    caplog.set_level(logging.DEBUG)
    canned.canned = (status, body, {"X-Request-Id": REQUEST_ID})
    with pytest.raises(exc.IntervalsAPIError) as raised:
        list(IntervalsHook().registration_pages("e1"))
    error = raised.value
    assert canned.hits == 2  # retried once (max_retries=1), as a 5xx or a cut body is
    text = _text(error) + "\n".join(r.getMessage() for r in caplog.records)
    assert EMAIL not in text
    assert NAME not in text
    assert error.body_excerpt is None
    assert (error.status, error.request_id) == (status, REQUEST_ID)
    assert f"{len(body)} bytes (not quoted: personal data)" in str(error)
    assert f"(request id {REQUEST_ID})" in str(error)
    assert "/registration" in "\n".join(r.getMessage() for r in caplog.records)  # the retry was logged


@pytest.mark.parametrize(("status", "body"), BODIES, ids=IDS)
def test_the_same_body_from_events_is_quoted(canned, status, body):
    canned.canned = (status, body, {"X-Request-Id": REQUEST_ID})
    with pytest.raises(exc.IntervalsAPIError) as raised:
        list(IntervalsHook().event_pages())
    assert EMAIL in str(raised.value)
    assert raised.value.body_excerpt == body[:200].decode()


@pytest.mark.parametrize("policy", ["keep", "pseudonymise", "drop"])
def test_every_policy_of_the_landing_raises_the_same_unquoted_error(
    canned, key_conn, caplog, tmp_path, policy
):
    caplog.set_level(logging.DEBUG)
    key_conn()
    canned.canned = (200, CUT, {"X-Request-Id": REQUEST_ID})
    op = IntervalsRegistrationsOperator(
        task_id="t",
        event_id="e1",
        output_path=tmp_path.as_uri(),
        personal_data=policy,
        date_from="2025-06-01",
        date_to="2025-06-01",
    )
    with pytest.raises(exc.IntervalsMalformedResponseError) as raised:
        op.execute(task_context())
    text = _text(raised.value) + "\n".join(r.getMessage() for r in caplog.records)
    assert EMAIL not in text
    assert NAME not in text
    assert f"{len(CUT)} bytes" in str(raised.value)


def test_the_endpoints_that_withhold_bodies_are_those_whose_resources_have_personal_fields():
    landings = [
        IntervalsRegistrationsOperator(task_id="r", event_id="e1", output_path="file:///x"),
        IntervalsEventsOperator(task_id="e", output_path="file:///x"),
        IntervalsRecurrencesOperator(task_id="c", output_path="file:///x"),
        IntervalsGroupsOperator(task_id="g", output_path="file:///x"),
    ]
    from airflow_provider_intervals.windows import Window

    for op in landings:
        request = op.request(Window("2025-06-01", "2025-06-01"))
        assert request.personal == bool(PERSONAL_FIELDS.get(op.resource)), op.resource
    for kind in (EVENT, REGISTRATION):
        assert api.Request("POST", kind.path).personal == bool(kind.personal), kind.name
    assert REGISTRATION.personal == PERSONAL_FIELDS["registrations"]
    assert {path for (_, path) in api.SCOPES if api.Request("GET", path).personal} == api.PERSONAL_ENDPOINTS
