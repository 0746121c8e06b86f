"""Truncated replies over a raw HTTP/1.1 connection: a wire cut, or a short body that keeps the framing.

``http.client`` rather than ``requests``: it shows the Content-Length, the bytes that came
and whether the same socket carries the next request.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_intervals.sandbox import Faults, Sandbox
from airflow_provider_intervals.sandbox.faults import cut_short


def parses(data: bytes) -> bool:
    """Whether ``data`` is valid JSON."""
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def exchange(
    conn: http.client.HTTPConnection, sb: Sandbox, path: str
) -> tuple[http.client.HTTPResponse, bytes]:
    """GET ``path`` on ``conn`` with the sandbox's key; return the response and its body."""
    conn.request("GET", path, headers={"Authorization": f"Bearer {sb.api_key}"})
    response = conn.getresponse()
    return response, response.read()


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[http.client.HTTPConnection]:
    """One keep-alive connection to the sandbox."""
    connection = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=10)
    yield connection
    connection.close()


def test_short_body_keeps_the_framing_and_the_connection(
    sandbox: Sandbox, conn: http.client.HTTPConnection
) -> None:
    _, whole = exchange(conn, sandbox, "/groups")
    socket_used = conn.sock
    sandbox.reset_stats()
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="short")
    response, body = exchange(conn, sandbox, "/groups")
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(body)
    assert body == whole[: len(whole) // 2]
    assert not parses(body)
    assert response.headers["Connection"] is None  # kept alive
    sandbox.set_faults()
    response, body = exchange(conn, sandbox, "/groups")
    assert conn.sock is socket_used  # one socket carried all three exchanges
    assert (response.status, body) == (200, whole)
    stats = sandbox.stats
    assert (stats["truncated"], stats["truncated_short"], stats["faults_injected"]) == (1, 1, 1)


def test_short_bodies_follow_each_other_on_one_connection(
    sandbox: Sandbox, conn: http.client.HTTPConnection
) -> None:
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="short")
    for path in ("/groups", "/organization", "/events?limit=3"):
        response, body = exchange(conn, sandbox, path)
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(body)
        assert not parses(body)
    assert sandbox.stats["truncated_short"] == 3


def test_wire_cut_is_an_incomplete_read(sandbox: Sandbox, conn: http.client.HTTPConnection) -> None:
    sandbox.set_faults(truncate_rate=1.0)  # "wire" is the default
    with pytest.raises(http.client.IncompleteRead) as cut:
        exchange(conn, sandbox, "/groups")
    assert cut.value.expected > 0
    assert not parses(cut.value.partial)
    stats = sandbox.stats
    assert (stats["truncated"], stats["truncated_short"]) == (1, 0)


def test_short_mode_sends_error_replies_whole(sandbox: Sandbox, conn: http.client.HTTPConnection) -> None:
    sandbox.set_faults(truncate_rate=1.0, truncate_mode="short")
    response, body = exchange(conn, sandbox, "/events/ezzzzzzzzzzzzzz")
    assert response.status == 404
    assert json.loads(body) == {"error": {"code": "NOT_FOUND", "message": "Event not found"}}
    stats = sandbox.stats
    assert (stats["truncated"], stats["faults_injected"]) == (0, 0)


def test_short_cuts_are_deterministic_under_the_seed(
    sandbox: Sandbox, conn: http.client.HTTPConnection
) -> None:
    def pattern() -> list[bytes]:
        sandbox.set_faults(truncate_rate=0.5, truncate_mode="short", seed=11)
        return [exchange(conn, sandbox, "/groups")[1] for _ in range(20)]

    first = pattern()
    assert 0 < sum(not parses(body) for body in first) < 20
    assert pattern() == first


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"_id": "g1"}], "hasMore": false}',
        b"{}",
        b"[1]",
        b"1234",
        b'"abc"',
        b'{"a": 1}        ',
        '{"name": "Zoë Ødegård"}'.encode(),
        b"7",
        b"",
    ],
    ids=["page", "empty-object", "array", "number", "string", "trailing-space", "utf-8", "one-byte", "empty"],
)
def test_cut_short_is_never_valid_json(body: bytes) -> None:
    cut = cut_short(body)
    assert body.startswith(cut)
    assert len(cut) <= len(body) // 2
    assert not parses(cut)


@pytest.mark.parametrize("mode", ["bogus", "Short", ""], ids=["unknown", "wrong-case", "empty"])
def test_unknown_truncate_mode_is_refused(sandbox: Sandbox, mode: str) -> None:
    message = f"truncate_mode must be 'wire' or 'short', not {mode!r}"
    with pytest.raises(ValueError, match=message):
        sandbox.set_faults(truncate_mode=mode)
    with pytest.raises(ValueError, match=message):
        Faults(truncate_mode=mode)


def test_control_endpoint_sets_the_mode_and_refuses_an_unknown_one(
    sandbox: Sandbox, conn: http.client.HTTPConnection
) -> None:
    faults = sandbox.url + "/_sandbox/faults"
    r = requests.post(faults, json={"truncate_rate": 1.0, "truncate_mode": "short"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["truncate_mode"] == "short"
    response, body = exchange(conn, sandbox, "/groups")
    assert int(response.headers["Content-Length"]) == len(body)
    assert not parses(body)
    assert requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()["truncated_short"] == 1
    refused = requests.post(faults, json={"truncate_mode": "half"}, timeout=5)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "code": "BAD_REQUEST",
            "message": "Invalid fault settings: truncate_mode must be 'wire' or 'short', not 'half'",
        }
    }
    assert requests.get(faults, timeout=5).json()["truncate_mode"] == "short"  # unchanged
