"""SandboxPool and connection_json: one running sandbox per setting, put back after each use."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from airflow_provider_intervals.testing import FAST_RETRIES, SandboxPool, connection_json


@pytest.fixture
def pool():
    pool = SandboxPool()
    yield pool
    pool.close()


def test_equal_settings_share_one_sandbox_and_defaults_count_as_given(pool):
    first = pool.get(events=10, seed=3)
    assert pool.get(seed=3, events=10) is first
    assert pool.get(events=10, seed=3, plan="enterprise", rate_limits=None) is first  # the Sandbox's defaults
    assert pool.get(events=10, seed=4) is not first
    assert len(pool) == 2


def test_reset_puts_back_all_but_the_data(pool):
    sb = pool.get(events=10, rate_limits=False, has_more=False)
    sb.set_faults(error_rate=1.0)
    sb.has_more, sb.rate_limits = True, {"enterprise": (1, 60.0, 1)}
    sb.add_key("extra-key")
    auth = {"Authorization": f"Bearer {sb.api_key}"}
    request = urllib.request.Request(f"{sb.url}/organization", headers=auth)
    with pytest.raises(urllib.error.HTTPError):  # error_rate 1.0: answered 500 or 503, and counted
        urllib.request.urlopen(request, timeout=10)
    assert sb.stats["requests"] == 1
    pool.reset(sb)
    assert (sb.faults.error_rate, sb.has_more, sb.rate_limits) == (0.0, False, False)
    assert list(sb.keys) == [sb.api_key]
    assert sb.stats["requests"] == 0


def test_an_unknown_setting_is_refused(pool):
    with pytest.raises(TypeError, match=r"unknown sandbox settings \['port'\]"):
        pool.get(port=8787)


def test_close_stops_every_sandbox(pool):
    ports = [pool.get(events=5, seed=s).port for s in (1, 2)]
    pool.close()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert len(pool) == 0


@pytest.mark.parametrize(
    ("key", "extra", "password", "extras"),
    [
        (None, {}, "sandbox-key", {"plan": "unknown"}),
        ("other", FAST_RETRIES, "other", {"plan": "unknown", **FAST_RETRIES}),
        ("", {"plan": "premium"}, "", {"plan": "premium"}),
    ],
    ids=["the-sandbox-key", "another-key-and-fast-retries", "no-key-and-an-override"],
)
def test_connection_json_points_at_the_sandbox_with_the_key_and_extras(pool, key, extra, password, extras):
    sb = pool.get(events=5, rate_limits=False, api_key="sandbox-key")
    conn = json.loads(connection_json(sb, key, **extra))
    assert (conn["host"], conn["port"], conn["schema"]) == ("127.0.0.1", sb.port, "http")
    assert (conn["password"], conn["extra"]) == (password, extras)
