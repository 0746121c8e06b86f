"""The pytest plugin as users get it: a pytest of its own loads it by its entry point.

Each test starts a separate pytest process (``pytester.runpytest_subprocess``, no ``-p``) in a
directory laid out like a user's project and asserts on its outcomes; a probe ``conftest.py``
records, at the end of that session, the sandboxes it saw and the threads still serving.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "testing"
AIRFLOW_VARIABLES = ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_FOLDER")

# Added to the user's project: records the modules loaded when the session starts (the
# plugins are loaded, nothing is collected yet), each intervals_sandbox's URL as the tests get
# it, and at the end of the session (after every fixture's teardown) the sandbox threads alive.
PROBE = """
import json
import os
import sys
import threading

import pytest

URLS = []
HEAVY = []


def pytest_configure(config):
    HEAVY.extend(m for m in sys.modules if m.split(".")[0] in ("airflow", "requests", "aiohttp"))
    HEAVY.extend(m for m in sys.modules if m.startswith("airflow_provider_intervals.sandbox"))


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    value = yield
    if fixturedef.argname == "intervals_sandbox":
        URLS.append(value.url)
    return value


def pytest_sessionfinish(session):
    alive = [t.name for t in threading.enumerate() if t.name.startswith("intervals-sandbox-")]
    probe = {"heavy": HEAVY, "urls": URLS, "alive": alive, "airflow_home": os.environ.get("AIRFLOW_HOME")}
    with open(os.environ["INTERVALS_PROBE"], "w") as out:
        json.dump(probe, out)
"""


def _serving(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def probe(pytester, monkeypatch, tmp_path):
    """Return ``read()``: what the probe conftest recorded in the user's session."""
    pytester.makeconftest(PROBE)
    path = tmp_path / "probe.json"
    monkeypatch.setenv("INTERVALS_PROBE", str(path))
    return lambda: json.loads(path.read_text())


def _check_light_and_nothing_left_behind(recorded: dict) -> None:
    assert recorded["heavy"] == [], "the plugin imports nothing heavy until a fixture needs it"
    assert recorded["urls"], "the session started sandboxes"
    assert recorded["alive"] == [], "every sandbox thread stopped at the end of the session"
    assert not any(_serving(url) for url in set(recorded["urls"])), "every sandbox port is closed"


def test_importing_the_plugin_loads_nothing_heavy_and_changes_no_environment():
    code = textwrap.dedent(
        """
        import json, os, sys
        before = dict(os.environ)
        import airflow_provider_intervals.testing.pytest_plugin
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "requests", "aiohttp")
                       or m.startswith("airflow_provider_intervals.sandbox"))
        print(json.dumps({"heavy": heavy, "environ_changed": dict(os.environ) != before}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in AIRFLOW_VARIABLES}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"heavy": [], "environ_changed": False}


@pytest.mark.slow
def test_the_documented_example_passes_in_a_pytest_of_its_own(pytester, probe, monkeypatch):
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    for name in AIRFLOW_VARIABLES:  # the example's ini option makes its own Airflow home
        monkeypatch.delenv(name, raising=False)

    result = pytester.runpytest_subprocess(timeout=600)

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["plugins:*airflow-provider-intervals-*"])  # loaded by its entry point
    recorded = probe()
    _check_light_and_nothing_left_behind(recorded)
    home = recorded["airflow_home"]
    assert Path(home).name.startswith("intervals-airflow-home-")
    assert not Path(home).exists(), "the isolated Airflow home is removed at the end"


MARKERS_TEST = """
import datetime as dt
import json
import os
import sys

import pytest
import requests

from airflow_provider_intervals.sandbox import Store

pytestmark = pytest.mark.intervals_sandbox(events=40, seed=11)


SEEN = []  # the statuses of the first faulted test


def ids(store):
    return [event["_id"] for event in store.iter_events()]


def get(sandbox, path="/events"):
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    return requests.get(sandbox.url + path, headers=headers, timeout=10)


def test_the_module_marker_sets_the_events_and_the_seed(intervals_sandbox):
    assert ids(intervals_sandbox.store) == ids(Store(40, 11, dt.date(2025, 1, 1), 730))


class TestAClassMarker:
    pytestmark = pytest.mark.intervals_sandbox(events=25)

    def test_overrides_the_module_setting_by_setting(self, intervals_sandbox):
        assert len(ids(intervals_sandbox.store)) == 25
        assert ids(intervals_sandbox.store) == ids(Store(25, 11, dt.date(2025, 1, 1), 730))

    @pytest.mark.intervals_sandbox(events=30)
    def test_the_closest_marker_wins(self, intervals_sandbox):
        assert len(ids(intervals_sandbox.store)) == 30


@pytest.mark.intervals_sandbox(plan="free")
def test_the_plan_is_the_organisations_and_the_connection_points_at_the_sandbox(
    intervals_sandbox, intervals_connection
):
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

    conn = json.loads(os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"])
    assert intervals_connection == "intervals_default"
    assert (conn["host"], conn["port"]) == ("127.0.0.1", intervals_sandbox.port)
    assert conn["password"] == intervals_sandbox.api_key
    assert IntervalsHook().get_organization()["plan"] == "free"  # through Airflow's connection


FAULTS = {"error_rate": 0.25, "error_statuses": [500], "seed": 5}


@pytest.mark.intervals_sandbox(rate_limits=False, faults=FAULTS)  # 200 requests: more than a burst
def test_faults_answer_errors_at_their_rate(intervals_sandbox):
    statuses = [get(intervals_sandbox).status_code for _ in range(200)]
    SEEN.extend(statuses)
    assert set(statuses) == {200, 500}
    assert 30 <= statuses.count(500) <= 70
    assert intervals_sandbox.stats["faults_injected"] == statuses.count(500)


@pytest.mark.intervals_sandbox(rate_limits=False, faults=FAULTS)
def test_the_same_faults_fail_the_same_requests_in_the_next_test(intervals_sandbox):
    assert [get(intervals_sandbox).status_code for _ in range(200)] == SEEN  # set afresh, same seed


def test_faults_keys_and_counters_do_not_leak_into_the_next_test(intervals_sandbox):
    assert get(intervals_sandbox).status_code == 200
    assert intervals_sandbox.stats["requests"] == 1
    assert "reader" not in intervals_sandbox.keys


def test_the_factory_defines_other_connections(intervals_sandbox, intervals_connection_factory):
    intervals_sandbox.add_key("reader", scopes={"read:events"})
    assert intervals_connection_factory(conn_id="reports", key="reader", timeout=3) == "reports"
    conn = json.loads(os.environ["AIRFLOW_CONN_REPORTS"])
    assert (conn["port"], conn["password"], conn["extra"]["timeout"]) == (intervals_sandbox.port, "reader", 3)


def test_connections_are_undone_after_the_test():
    assert "AIRFLOW_CONN_REPORTS" not in os.environ
    assert "AIRFLOW_CONN_INTERVALS_DEFAULT" not in os.environ


def test_tests_with_the_same_settings_share_one_sandbox(intervals_sandbox, intervals_sandboxes):
    assert intervals_sandboxes.get(events=40, seed=11, plan="premium") is intervals_sandbox


@pytest.mark.intervals_sandbox(fresh=True)
def test_a_fresh_sandbox_is_the_tests_own(intervals_sandbox, intervals_sandboxes):
    assert intervals_sandboxes.get(events=40, seed=11, plan="premium") is not intervals_sandbox


@pytest.mark.intervals_sandbox(colour="blue")
def test_an_unknown_setting_is_an_error(intervals_sandbox):
    pass


@pytest.mark.intervals_sandbox(faults={"truncate_mode": "sideways"})
def test_an_unknown_fault_is_an_error(intervals_sandbox):
    pass


def test_the_metadata_db_needs_the_isolated_home(intervals_airflow_db):
    pass
"""

DEFAULTS_TEST = """
def test_the_ini_options_are_the_defaults(intervals_sandbox):
    assert len(list(intervals_sandbox.store.iter_events())) == 15
    assert intervals_sandbox.plan == "premium"
"""


def test_marker_and_ini_settings_take_effect_and_nothing_leaks(pytester, probe, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow-home"))
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        addopts = "--strict-markers"
        intervals_sandbox_events = "15"
        intervals_sandbox_plan = "premium"
        """
    )
    pytester.makepyfile(test_a_defaults=DEFAULTS_TEST, test_b_markers=MARKERS_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=300)

    result.assert_outcomes(passed=12, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_an_unknown_setting_is_an_error*",
            "@pytest.mark.intervals_sandbox: unknown sandbox settings [[]'colour'[]]*",
            "*ERROR at setup of test_an_unknown_fault_is_an_error*",
            "@pytest.mark.intervals_sandbox: truncate_mode must be 'wire' or 'short', not 'sideways'",
            "*ERROR at setup of test_the_metadata_db_needs_the_isolated_home*",
            "*intervals_airflow_db needs the isolated Airflow home*",
        ]
    )
    recorded = probe()
    _check_light_and_nothing_left_behind(recorded)
    assert recorded["airflow_home"] == str(tmp_path / "airflow-home"), "the plugin left AIRFLOW_HOME alone"


@pytest.mark.slow
def test_the_isolated_home_is_set_before_conftest_files_import_airflow(pytester, monkeypatch):
    for name in AIRFLOW_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nintervals_airflow_home = true\n")
    pytester.makeconftest("from airflow.configuration import AIRFLOW_HOME  # read at import")
    pytester.makepyfile(
        """
        import os

        from conftest import AIRFLOW_HOME


        def test_airflow_runs_in_the_isolated_home():
            assert AIRFLOW_HOME == os.environ["AIRFLOW_HOME"]
            assert os.path.basename(AIRFLOW_HOME).startswith("intervals-airflow-home-")
        """
    )
    pytester.runpytest_subprocess(timeout=300).assert_outcomes(passed=1)

    result = pytester.runpytest_subprocess("-p", "airflow.configuration", timeout=300)  # Airflow first
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: intervals_airflow_home: Airflow was imported before*"])
