"""The sandbox's error bodies are the reference's envelope, byte for byte, over real HTTP.

Everything about an error sits inside ``error`` (the API page, "Errors"): ``code`` and
``message``, then ``errors`` for a 422 or ``retryAfter`` for a 429, never at the top level.
Requests go out through plain ``requests``/``socket`` so no client code reads the bodies.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_intervals.sandbox import DEFAULT_API_KEY, Sandbox

# The keys inside ``error``, in the order of the reference's examples.
SPEC_KEYS = {422: ["code", "message", "errors"], 429: ["code", "message", "retryAfter"]}
BASIC_KEYS = ["code", "message"]

EVENTS_ONLY_KEY = "events-only-key"
MISSING_KEY_MESSAGE = (
    "Missing or invalid API key: send 'Authorization: Bearer <key>' with a valid key "
    "(check the connection's password)"
)


def envelope(r: requests.Response, status: int) -> dict[str, Any]:
    """Check the body's whole structure for ``status``; return what is inside ``error``."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    body = json.loads(r.content)  # keeps the key order as sent
    assert list(body) == ["error"]
    inner = body["error"]
    assert list(inner) == SPEC_KEYS.get(status, BASIC_KEYS)
    assert isinstance(inner["code"], str)
    assert isinstance(inner["message"], str)
    assert inner["message"]
    return inner


def send(
    sb: Sandbox, method: str, path: str, key: str | None = DEFAULT_API_KEY, body: Any = None
) -> requests.Response:
    """One raw request, with ``key`` as its bearer key (``None``: no ``Authorization`` header)."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return requests.request(method, sb.url + path, headers=headers, json=body, timeout=10)


EVENT = {"name": "Harbor Mile", "slug": "harbor-mile", "type": "race", "date": "2025-05-03"}


def slug_taken(sb: Sandbox) -> requests.Response:
    """POST the same event twice; return the second answer."""
    assert send(sb, "POST", "/events", body=EVENT).status_code == 201
    return send(sb, "POST", "/events", body={**EVENT, "name": "Harbor Mile again"})


def idempotency_key_reused(sb: Sandbox) -> requests.Response:
    """POST two different bodies under one ``Idempotency-Key``; return the second answer."""
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Idempotency-Key": "key-1"}
    assert requests.post(sb.url + "/events", json=EVENT, headers=headers, timeout=10).status_code == 201
    changed = {**EVENT, "slug": "harbor-mile-2"}
    return requests.post(sb.url + "/events", json=changed, headers=headers, timeout=10)


def injected_503(sb: Sandbox) -> requests.Response:
    """GET with every request answered by an injected 503."""
    sb.set_faults(error_rate=1.0, error_statuses=(503,))
    return send(sb, "GET", "/groups")


def malformed_json(sb: Sandbox) -> requests.Response:
    """POST a body that is not JSON."""
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}", "Content-Type": "application/json"}
    return requests.post(sb.url + "/events", data=b"{not json", headers=headers, timeout=10)


CASES: list[tuple[str, Callable[[Sandbox], requests.Response], int, dict[str, Any]]] = [
    (
        "400-malformed-json",
        malformed_json,
        400,
        {"code": "BAD_REQUEST", "message": "Request body is not valid JSON"},
    ),
    (
        "401-no-key",
        lambda sb: send(sb, "GET", "/events", key=None),
        401,
        {"code": "UNAUTHORIZED", "message": MISSING_KEY_MESSAGE},
    ),
    (
        "401-unknown-key",
        lambda sb: send(sb, "POST", "/registration", key="nope", body={}),
        401,
        {"code": "UNAUTHORIZED", "message": MISSING_KEY_MESSAGE},
    ),
    (
        "403-missing-scope",
        lambda sb: send(sb, "GET", "/groups", key=EVENTS_ONLY_KEY),
        403,
        {"code": "FORBIDDEN", "message": "API key lacks scope read:groups"},
    ),
    (
        "404-event",
        lambda sb: send(sb, "GET", "/events/ezzzzzzzzzzzzzz"),
        404,
        {"code": "NOT_FOUND", "message": "Event not found"},
    ),
    (
        "404-event-run",
        lambda sb: send(
            sb,
            "POST",
            "/registration",
            body={"eventRunId": "rzzzzzzzzzzzzzz", "email": "a@b.co", "registrationType": "free"},
        ),
        404,
        {"code": "NOT_FOUND", "message": "Event run not found"},
    ),
    (
        "404-path",
        lambda sb: send(sb, "GET", "/v1/partner/events"),
        404,
        {"code": "NOT_FOUND", "message": "No such path: /v1/partner/events"},
    ),
    (
        "405-method",
        lambda sb: send(sb, "DELETE", "/events"),
        405,
        {"code": "METHOD_NOT_ALLOWED", "message": "Method DELETE is not allowed on /events"},
    ),
    (
        "409-slug",
        slug_taken,
        409,
        {"code": "CONFLICT", "message": "An event with slug harbor-mile already exists"},
    ),
    (
        "409-idempotency-key",
        idempotency_key_reused,
        409,
        {"code": "CONFLICT", "message": "Idempotency-Key was already used with a different body"},
    ),
    (
        "422-limit",
        lambda sb: send(sb, "GET", "/events?limit=0"),
        422,
        {
            "code": "VALIDATION_ERROR",
            "message": "The request is invalid",
            "errors": {"limit": ["limit must be an integer between 1 and 100"]},
        },
    ),
    (
        "422-registration-fields",
        lambda sb: send(sb, "POST", "/registration", body={"registrationType": "free"}),
        422,
        {
            "code": "VALIDATION_ERROR",
            "message": "The request is invalid",
            "errors": {"eventRunId": ["eventRunId is required"], "email": ["email is required"]},
        },
    ),
    (
        "501-method-http-server-lacks",
        lambda sb: send(sb, "OPTIONS", "/events"),
        501,
        {"code": "NOT_IMPLEMENTED", "message": "Unsupported method ('OPTIONS')"},
    ),
    (
        "503-injected",
        injected_503,
        503,
        {"code": "SERVICE_UNAVAILABLE", "message": "Service unavailable (injected by the sandbox)"},
    ),
]


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    """The sandbox, with a key that may read events and nothing else."""
    sandbox.add_key(EVENTS_ONLY_KEY, scopes={"read:events"})
    return sandbox


@pytest.mark.parametrize(
    ("request_", "status", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_body_is_the_reference_envelope(
    sb: Sandbox, request_: Callable[[Sandbox], requests.Response], status: int, expected: dict[str, Any]
) -> None:
    r = request_(sb)
    assert envelope(r, status) == expected
    assert r.content == json.dumps({"error": expected}).encode()


@pytest.mark.parametrize(
    "body",
    [
        {"registrationType": "free"},
        {},
        {"eventRunId": "", "email": "nope", "registrationType": "Paid", "status": "done"},
    ],
    ids=["two-missing", "empty", "every-field-wrong"],
)
def test_validation_errors_map_fields_to_lists_of_messages(sb: Sandbox, body: dict[str, Any]) -> None:
    errors = envelope(send(sb, "POST", "/registration", body=body), 422)["errors"]
    assert isinstance(errors, dict)
    assert errors
    for name, messages in errors.items():
        assert isinstance(name, str)
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(m, str) and m for m in messages)


def assert_retry_after(inner: dict[str, Any], sent_at: float, answered_at: float, wait: float) -> None:
    """``retryAfter`` is an int of epoch milliseconds, ``wait`` seconds after the answer."""
    value = inner["retryAfter"]
    assert type(value) is int  # not a float, not a bool
    assert value > 10**11  # milliseconds, not seconds
    assert (sent_at + wait - 1.0) * 1000 <= value <= (answered_at + wait) * 1000 + 1


def test_plan_limit_429() -> None:
    # 3 requests per 60 s, burst 3: the fourth waits for a token, 20 s away.
    with Sandbox(events=10, rate_limits={"enterprise": (3, 60.0, 3)}) as sb:
        assert [send(sb, "GET", "/organization").status_code for _ in range(3)] == [200, 200, 200]
        sent_at = time.time()
        r = send(sb, "GET", "/organization")
        answered_at = time.time()
    inner = envelope(r, 429)
    assert inner["code"] == "RATE_LIMITED"
    assert inner["message"] == "Rate limit exceeded for plan enterprise (3 requests per 60s)"
    assert_retry_after(inner, sent_at, answered_at, wait=20.0)


@pytest.mark.parametrize(
    "faults",
    [
        {"rate_limit_burst": 1, "rate_limit_retry_ms": 5000},
        {"error_rate": 1.0, "error_statuses": (429,), "rate_limit_retry_ms": 5000},
    ],
    ids=["burst", "error-status"],
)
def test_injected_429(sandbox: Sandbox, faults: dict[str, Any]) -> None:
    sandbox.set_faults(**faults)
    sent_at = time.time()
    r = send(sandbox, "GET", "/events")
    answered_at = time.time()
    inner = envelope(r, 429)
    assert inner["code"] == "RATE_LIMITED"
    assert inner["message"] == "Rate limit exceeded (injected by the sandbox)"
    assert_retry_after(inner, sent_at, answered_at, wait=5.0)


def raw_exchange(sb: Sandbox, request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes, read until the server closes; return the status line and the body."""
    with socket.create_connection((sb.host, sb.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


@pytest.mark.parametrize(
    ("request_", "status_line", "expected"),
    [
        (
            b"GET /events HTTP/abc\r\n\r\n",
            b"HTTP/1.1 400 Bad Request",
            {"code": "BAD_REQUEST", "message": "Bad request version ('HTTP/abc')"},
        ),
        (
            b"GET /events HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
            {"code": "REQUEST_HEADER_FIELDS_TOO_LARGE", "message": "Line too long"},
        ),
    ],
    ids=["bad-version", "header-too-long"],
)
def test_requests_http_server_rejects_get_the_envelope(
    sandbox: Sandbox, request_: bytes, status_line: bytes, expected: dict[str, Any]
) -> None:
    line, body = raw_exchange(sandbox, request_)
    assert line == status_line
    assert json.loads(body) == {"error": expected}


def test_head_rejected_by_http_server_gets_no_body(sandbox: Sandbox) -> None:
    line, body = raw_exchange(sandbox, b"HEAD /events HTTP/1.1\r\nHost: sandbox\r\n\r\n")
    assert line == b"HTTP/1.1 501 Not Implemented"
    assert body == b""
