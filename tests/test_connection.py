"""What a connection means: the base URL (https unless loopback says otherwise) and the extras."""

from __future__ import annotations

import asyncio
import json

import pytest
from helpers import UI_FORM_EXTRA

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import EXTRA_KEYS, Settings, resolve_base_url
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook
from airflow_provider_intervals.pacing import Rate


@pytest.mark.parametrize(
    ("host", "schema", "port", "insecure", "expected"),
    [
        (None, None, None, False, "https://api.intervals.run"),
        ("api.intervals.run", None, None, False, "https://api.intervals.run"),
        ("api.intervals.run", "", None, False, "https://api.intervals.run"),
        ("api.intervals.run", "https", 8443, False, "https://api.intervals.run:8443"),
        ("https://proxy.example.com/intervals/", None, None, False, "https://proxy.example.com/intervals"),
        ("127.0.0.1", "http", 8787, False, "http://127.0.0.1:8787"),
        ("localhost", "http", 8787, False, "http://localhost:8787"),
        ("http://[::1]:8787", None, None, False, "http://[::1]:8787"),
        ("api.internal", "http", 80, True, "http://api.internal:80"),
        (
            "https://proxy.example.com/intervals/",
            None,
            8443,
            False,
            "https://proxy.example.com:8443/intervals",
        ),
        ("https://api.intervals.run", "", 443, False, "https://api.intervals.run:443"),
        ("http://127.0.0.1:8787", None, 8787, False, "http://127.0.0.1:8787"),
    ],
    ids=[
        "default",
        "host-only",
        "empty-schema",
        "https-port",
        "url-with-prefix",
        "sandbox",
        "localhost",
        "ipv6-loopback",
        "insecure-allowed",
        "port-before-path-prefix",
        "url-and-port-field",
        "same-port-twice",
    ],
)
def test_base_url(host, schema, port, insecure, expected):
    assert resolve_base_url("c", host, schema, port, insecure) == expected


@pytest.mark.parametrize(
    ("host", "schema"),
    [("api.intervals.run", "http"), ("http://api.intervals.run", None), ("10.0.0.5", "http")],
    ids=["schema-http", "http-url", "private-address"],
)
def test_plain_http_to_a_remote_host_is_refused_naming_the_fix(host, schema):
    with pytest.raises(exc.IntervalsConfigurationError) as raised:
        resolve_base_url("intervals_prod", host, schema, None, False)
    text = str(raised.value)
    assert "'intervals_prod'" in text
    assert "plain HTTP" in text
    assert "allow_insecure_http=true" in text


def test_a_port_field_that_contradicts_the_hosts_url_is_refused_naming_both():
    with pytest.raises(exc.IntervalsConfigurationError, match="port 9000 and a base URL with port 8787"):
        resolve_base_url("c", "http://127.0.0.1:8787", None, 9000, False)


def test_a_base_url_without_host_or_with_another_scheme_is_refused():
    with pytest.raises(exc.IntervalsConfigurationError, match="expected https://host"):
        resolve_base_url("c", "ftp://files.example.com", None, None, False)


def _env(monkeypatch, **conn):
    monkeypatch.setenv(
        "AIRFLOW_CONN_INTERVALS_DEFAULT", json.dumps({"conn_type": "intervals", "password": "itv_k", **conn})
    )


@pytest.mark.parametrize("hook", ["sync", "async"])
def test_both_hooks_default_to_https_and_refuse_clear_text(monkeypatch, hook):
    def url() -> str:
        if hook == "sync":
            h = IntervalsHook()
            h.get_conn()
            return h.base_url
        return asyncio.run(IntervalsAsyncHook()._configure())[0]

    _env(monkeypatch, host="api.intervals.run")
    assert url() == "https://api.intervals.run"
    _env(monkeypatch, host="api.intervals.run", schema="http")
    with pytest.raises(exc.IntervalsConfigurationError, match=r"plain HTTP to api\.intervals\.run"):
        url()
    _env(monkeypatch, host="api.intervals.run", schema="http", extra={"allow_insecure_http": "true"})
    assert url() == "http://api.intervals.run"


def test_settings_read_pacing_extras():
    assert Settings.from_extra("c", {}).pacing_known is False
    assert Settings.from_extra("c", {"plan": "premium"}).configured_rate() == Rate.for_plan("premium")
    assert Settings.from_extra("c", {"plan": "unknown"}).configured_rate() is None
    assert Settings.from_extra("c", {"plan": "unknown"}).pacing_known is True
    both = Settings.from_extra("c", {"plan": "free", "requests_per_minute": "120", "burst": "4"})
    assert both.configured_rate() == Rate(2.0, 4)  # the explicit rate wins over the plan
    assert Settings.from_extra("c", {"requests_per_minute": 30}).configured_rate() == Rate(0.5, 1)
    assert Settings.from_extra("c", {"max_rate_limit_wait": "60"}).retry.max_rate_limit_wait == 60.0
    assert set(EXTRA_KEYS) >= {
        "plan",
        "requests_per_minute",
        "burst",
        "allow_insecure_http",
        "max_rate_limit_wait",
    }


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"plan": "gold"}, ["plan='gold'", "free, premium, enterprise, unknown"]),
        ({"requests_per_minute": "fast"}, ["requests_per_minute='fast'", "number from"]),
        ({"requests_per_minute": 60, "burst": 0}, ["burst=0", "whole number from 1"]),
        ({"burst": 5}, ["burst=5 without requests_per_minute"]),
        ({"allow_insecure_http": "yes"}, ["allow_insecure_http='yes'", "true or false"]),
        ({"max_rate_limit_wait": -1}, ["max_rate_limit_wait=-1"]),
    ],
    ids=["plan", "rate", "burst-zero", "burst-alone", "insecure-flag", "max-wait"],
)
def test_bad_extras_name_the_connection_key_and_fix(extra, words):
    with pytest.raises(exc.IntervalsConfigurationError) as raised:
        Settings.from_extra("intervals_default", extra)
    assert "'intervals_default'" in str(raised.value)
    for word in words:
        assert word in str(raised.value)


def test_the_ui_forms_extras_cover_every_extra_the_hooks_read():
    assert set(UI_FORM_EXTRA) == set(EXTRA_KEYS)


@pytest.mark.parametrize("empty", [None, "", "  "], ids=["null", "empty", "blank"])
def test_an_empty_extra_means_not_set_whichever_door_saved_it(empty):
    assert Settings.from_extra("c", dict.fromkeys(EXTRA_KEYS, empty)) == Settings.from_extra("c", {})


def test_the_ui_forms_extras_read_as_the_defaults():
    assert Settings.from_extra("c", UI_FORM_EXTRA) == Settings.from_extra("c", {})
    assert Settings.from_extra("c", UI_FORM_EXTRA).pacing_known is False  # learned from the organisation


@pytest.mark.parametrize(
    ("host", "schema"),
    [(None, None), ("", ""), ("  ", None), (None, "  ")],
    ids=["null", "empty", "blank-host", "blank-schema"],
)
def test_an_empty_host_or_schema_means_the_default(host, schema):
    assert resolve_base_url("c", host, schema, None, False) == "https://api.intervals.run"


@pytest.mark.parametrize("hook", ["sync", "async"])
def test_a_connection_saved_by_the_ui_form_lists_events_with_both_hooks(api, monkeypatch, hook):
    """The form's body (extras null, plan "") and no port or schema: the host carries the URL."""
    conn = {"conn_type": "intervals", "host": api.url, "password": api.api_key, "extra": UI_FORM_EXTRA}
    monkeypatch.setenv("AIRFLOW_CONN_INTERVALS_UI", json.dumps(conn))
    day = {"date_from": "2025-06-02", "date_to": "2025-06-02"}
    want = [e["_id"] for e in api.store.iter_events(**day)]

    async def listed_async() -> list[str]:
        return [
            e["_id"]
            async for page in IntervalsAsyncHook("intervals_ui").event_pages(**day)
            for e in page.items
        ]

    if hook == "sync":
        sync = IntervalsHook("intervals_ui")
        assert [e["_id"] for e in sync.iter_events(**day)] == want != []
        assert sync.test_connection()[0] is True
    else:
        assert asyncio.run(listed_async()) == want != []
