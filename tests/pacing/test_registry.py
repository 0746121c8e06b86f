"""The process's registry: buckets and lookups keyed by a digest of the key, stores by connection."""

from __future__ import annotations

import json

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import pacing
from airflow_provider_intervals.pacing import Rate, registry


def test_buckets_and_lookups_are_keyed_by_a_digest_of_the_key(fresh_pacing):
    one = pacing.bucket_for("itv_secret_one", Rate(1.0, 1))
    assert pacing.bucket_for("itv_secret_one", Rate(1.0, 1)) is one
    assert pacing.bucket_for("itv_secret_two", Rate(1.0, 1)) is not one
    capped = pacing.bucket_for("itv_secret_one", Rate(0.5, 1))
    assert capped is not one
    assert capped.digest == one.digest  # two rates, one key's state
    pacing.remember_rate("itv_secret_one", None)
    assert pacing.learned_rate("itv_secret_one") == (True, None)
    assert pacing.learned_rate("itv_secret_two") == (False, None)
    assert pacing.plan_lookup("itv_secret_one") is pacing.plan_lookup("itv_secret_one")
    one.book()
    names = [str(key) for key in (*registry._BUCKETS, *registry._LOOKUPS)]
    names += [path.name for path in pacing.default_directory().iterdir()]
    names += [path.read_text() for path in pacing.default_directory().iterdir()]
    assert names
    assert not any("secret" in name for name in names)


def test_the_per_host_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERVALS_PACING_DIR", str(tmp_path / "mine"))
    assert pacing.default_directory() == tmp_path / "mine"
    monkeypatch.delenv("INTERVALS_PACING_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert pacing.default_directory() == tmp_path / "cache/airflow-provider-intervals/pacing"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert pacing.default_directory() == tmp_path / "home/.cache/airflow-provider-intervals/pacing"


def test_forget_empties_the_process_and_the_directory(fresh_pacing):
    pacing.bucket_for("itv_forgotten", Rate(1.0, 1)).book()
    assert list(pacing.default_directory().glob("*.json"))
    pacing.forget()
    assert not registry._BUCKETS
    assert not list(pacing.default_directory().glob("*.json"))


@pytest.mark.parametrize(
    ("conn", "problem"),
    [
        (None, "there is no such Airflow connection; create it"),
        ({"conn_type": "http", "host": "example.com"}, "its type 'http' is neither Redis nor a SQL database"),
        ({"conn_type": "no_such_type"}, "its type 'no_such_type' gives no SQL hook"),
    ],
    ids=["missing", "http", "unknown-type"],
)
def test_a_pacing_conn_id_that_names_no_store_is_a_configuration_error(monkeypatch, conn, problem):
    if conn is not None:
        monkeypatch.setenv("AIRFLOW_CONN_PACING_STORE", json.dumps(conn))
    with pytest.raises(exc.IntervalsConfigurationError) as raised:
        pacing.store_for("pacing_store", "intervals_default")
    message = str(raised.value)
    assert message.startswith("Connection 'intervals_default' has extra pacing_conn_id='pacing_store': ")
    assert problem in message
    assert "or clear the extra" in message
