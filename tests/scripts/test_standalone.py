"""``python3 dev.py standalone`` as a user starts it and uses it: REST API, CLI, a real browser, Ctrl+C.

One Airflow for the module (it takes a minute and a half to start): the command runs with the
venv not activated (``.venv/bin`` not on ``PATH``), from a temporary directory, on free ports,
with none of the test session's Airflow settings. The tests then walk through the doors a user
walks through, in order: the UI's REST API (a connection posted as the form posts it), the
Airflow CLI on the home (the printed ``export AIRFLOW_HOME=...``), the UI itself in Chromium,
and last Ctrl+C, after which nothing may be left. What each run lands is checked against an
independent copy of the sandbox's data (the same seed gives the same events).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from airflow.sdk import ObjectStoragePath
from helpers import UI_FORM_EXTRA, live_processes, process_tree

from airflow_provider_intervals.get_provider_info import CONN_FIELDS
from airflow_provider_intervals.sandbox.app import DEFAULT_API_KEY
from airflow_provider_intervals.sandbox.store import Store
from airflow_provider_intervals.storage import iter_records
from airflow_provider_intervals.supervisor import Child, free_port

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1000
CHAIN = {"intervals_land_events", "intervals_warehouse_load"}  # unpaused by standalone
OTHERS = {
    "intervals_organisation_report",
    "intervals_new_events",
    "intervals_new_races_watcher",
    "intervals_publish_season",
}
EXAMPLE_DAGS = CHAIN | OTHERS
DAY = "2025-06-02"  # 2 of the 1,000 seeded events
START_TIMEOUT = 240.0
RUN_TIMEOUT = 240.0
STOP_TIMEOUT = 90.0
NOT_YET = (OSError, ValueError, KeyError)  # a server not up yet; a failed assertion fails at once

# One worker runs the module (-n): its fixture starts one Airflow for all of its tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("standalone")]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _user_environment(ports: dict[str, int]) -> dict[str, str]:
    """The environment of a user's shell: no venv on PATH, none of this session's Airflow settings."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INTERVALS_")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    # The log servers of the scheduler and the triggerer: off their defaults, so they do not clash.
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(ports["worker_logs"])
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(ports["trigger_logs"])
    return env


def _python3(env: dict[str, str]) -> str:
    """The user's ``python3`` (3.11+, as the README asks), else the interpreter the venv was made from."""
    found = shutil.which("python3", path=env["PATH"])
    if found:
        version = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            env=env,
        )
        if version.stdout.strip() == "True":
            return found
    return sys._base_executable


def _in_sessions(sids: set[int]) -> list[str]:
    out = []
    for p in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getsid(p.pid) in sids and p.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:100]}")
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            pass
    return out


class Api:
    """The Airflow REST API with a JWT from ``POST /auth/token``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None, attempts: int = 3):
        """Send one request; on a 5xx, try again as a user would.

        Airflow standalone keeps its metadata in SQLite, whose single writer can make the API
        server answer 500 ("Database error") while the scheduler writes. A retried write whose
        earlier try did land is not an error: a 409 after a POST, a 404 after a DELETE.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._send(method, path, body)
            except urllib.error.HTTPError as error:
                done_before = attempt > 1 and (method, error.code) in (("POST", 409), ("DELETE", 404))
                if done_before:
                    return None
                if error.code < 500 or attempt == attempts:
                    raise
                time.sleep(2 * attempt)
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, body: dict | None):
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:  # say what the API server said, not only the code
            error.msg = f"{error.msg}: {error.read()[:2000].decode(errors='replace')}"
            raise

    def trigger(self, dag_id: str, logical_date: str) -> dict:
        """Trigger a run as the UI's button does; a retried try finds the run an earlier try made."""
        path = f"/api/v2/dags/{dag_id}/dagRuns"
        made = self.call("POST", path, {"logical_date": logical_date})
        if made is None:  # a 409 on a retry: the first try made it
            same = dict.fromkeys(("logical_date_gte", "logical_date_lte"), logical_date)
            query = urllib.parse.urlencode(same)
            (made,) = self.call("GET", f"{path}?{query}")["dag_runs"]
        return made

    def login(self, user: str, password: str) -> None:
        token = self.call("POST", "/auth/token", {"username": user, "password": password})
        self.token = token["access_token"]


@dataclass
class Running:
    """The running command (its process and output), Airflow's REST API, ports and working directory."""

    child: Child
    api: Api
    ports: dict[str, int]
    work: Path
    env: dict[str, str]
    login: tuple[str, str]

    def wait(self, what: str, check, timeout: float = RUN_TIMEOUT):
        """Return ``check()``'s first truthy value; fail if the command exits or ``timeout`` passes."""
        return self.child.wait_until(what, check, timeout, every=1, retry_on=NOT_YET)

    def run_state(self, dag_id: str, run_id: str) -> str:
        run = self.api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")
        assert run["state"] != "failed", self.child.tail()
        return run["state"]

    def landed(self, day: str) -> list[dict]:
        window = self.work / "lake" / "events" / "type=all" / f"date_from={day}" / f"date_to={day}"
        return list(iter_records(ObjectStoragePath(f"file://{window}/_manifest.json")))


def _truth(day: str) -> list[dict]:
    """The sandbox's events of ``day``, from an independent copy of its seeded data."""
    return list(Store(EVENTS, 42, dt.date(2025, 1, 1), 730).iter_events(date_from=day, date_to=day))


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """``python3 dev.py standalone`` started as a user starts it, up and logged in; killed if left running."""
    ports = {name: free_port() for name in ("api", "sandbox", "worker_logs", "trigger_logs")}
    env = _user_environment(ports)
    tmp = tmp_path_factory.mktemp("standalone")
    work = tmp / "work"
    options = ["--events", EVENTS, "--work", work]
    options += ["--sandbox-port", ports["sandbox"], "--api-port", ports["api"]]
    command = [_python3(env), str(ROOT / "dev.py"), "standalone", *map(str, options)]
    # A session of its own, as a terminal gives a job: Ctrl+C is SIGINT to its process group.
    child = Child(command, name="dev.py standalone", cwd=tmp, env=env, capture=True).start()
    try:
        login = child.wait_until(
            "printed login", lambda: re.search(r"login: user (\S+), password (\S+)", child.output()),
            START_TIMEOUT, every=1, retry_on=NOT_YET,
        )  # fmt: skip
        api = Api(f"http://localhost:{ports['api']}")

        def healthy():  # the metadata DB, scheduler, triggerer and DAG processor
            health = api.call("GET", "/api/v2/monitor/health")
            return all(part["status"] == "healthy" for part in health.values()) and health

        health = child.wait_until("healthy Airflow", healthy, START_TIMEOUT, every=1, retry_on=NOT_YET)
        assert {"metadatabase", "scheduler", "triggerer", "dag_processor"} <= set(health)
        api.login(login[1], login[2])
        running = Running(child, api, ports, work, env, (login[1], login[2]))
        yield running
    finally:
        started = process_tree(child.pid)
        if child.returncode is None or live_processes(started):  # a test failed before the stop
            for p in started:  # Airflow's session too, not only the command's
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            child.stop(signal.SIGKILL, timeout=30)


def test_the_dags_are_served_and_the_first_landing_succeeds_on_its_first_try(standalone):
    api, child = standalone.api, standalone.child
    generated = standalone.work / "airflow" / "simple_auth_manager_passwords.json.generated"
    assert json.loads(generated.read_text()) == {standalone.login[0]: standalone.login[1]}
    dags = api.call("GET", "/api/v2/dags?limit=100")["dags"]
    assert {d["dag_id"] for d in dags} == EXAMPLE_DAGS
    assert {d["dag_id"] for d in dags if not d["is_paused"]} == CHAIN
    assert api.call("GET", "/api/v2/importErrors")["total_entries"] == 0
    # The chain is unpaused only once the API server answers: its first task cannot race its start.
    lines = child.lines
    up = next(
        i
        for i, x in enumerate(lines)
        if f"Uvicorn running on http://127.0.0.1:{standalone.ports['api']}" in x
    )
    assert up < next(i for i, x in enumerate(lines) if "unpaused: intervals_land_events" in x)

    def first_run():
        runs = api.call("GET", "/api/v2/dags/intervals_land_events/dagRuns?run_type=scheduled")["dag_runs"]
        return runs and runs[0]["state"] == "success" and runs[0]

    run = standalone.wait("the first scheduled landing", first_run)
    path = f"/api/v2/dags/intervals_land_events/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
    task = api.call("GET", f"{path}/taskInstances/land_events")
    assert (task["state"], task["try_number"]) == ("success", 1)
    day = run["data_interval_start"][:10]
    assert standalone.landed(day) == _truth(day)


def test_the_connection_it_saved_is_listed_and_passes_the_lists_test(standalone):
    """The sandbox is in the metadata DB (not only in an environment variable): the UI lists and tests it."""
    api, sandbox = standalone.api, standalone.ports["sandbox"]
    listed = {c["connection_id"]: c for c in api.call("GET", "/api/v2/connections")["connections"]}
    saved = listed["intervals_default"]
    assert (saved["conn_type"], saved["host"], saved["port"], saved["schema"]) == (
        "intervals",
        "127.0.0.1",
        sandbox,
        "http",
    )
    # What the list's Test icon posts (captured in a browser): the saved fields, the key masked.
    body = {
        "connection_id": "intervals_default", "conn_type": "intervals", "description": "",
        "host": "127.0.0.1", "login": "", "password": "***", "port": sandbox, "schema": "http",
        "extra": saved["extra"] or "",
    }  # fmt: skip
    tested = api.call("POST", "/api/v2/connections/test", body)
    assert tested["status"] is True, tested
    assert "plan enterprise" in tested["message"]


def test_a_connection_posted_as_the_ui_form_posts_it_passes_the_test_and_lands_a_window(standalone):
    """Every declared field present, the empty ones null, the plan's empty choice "": Airflow 3.3's form."""
    api, sandbox = standalone.api, standalone.ports["sandbox"]
    api.call("DELETE", "/api/v2/connections/intervals_default")
    form = {
        "connection_id": "intervals_default", "conn_type": "intervals", "host": f"http://127.0.0.1:{sandbox}",
        "password": DEFAULT_API_KEY, "extra": json.dumps(UI_FORM_EXTRA, indent=2),
    }  # fmt: skip
    api.call("POST", "/api/v2/connections", form)
    saved = api.call("GET", "/api/v2/connections/intervals_default")
    assert json.loads(saved["extra"]) == UI_FORM_EXTRA
    tested = api.call("POST", "/api/v2/connections/test", form)
    assert tested["status"] is True, tested

    # The run of 2025-06-03 covers 2025-06-02 00:00 .. 2025-06-03 00:00: it lands 2025-06-02.
    run = api.trigger("intervals_land_events", "2025-06-03T00:00:00Z")
    assert run["data_interval_start"] == f"{DAY}T00:00:00Z"
    assert run["data_interval_end"] == "2025-06-03T00:00:00Z"
    standalone.wait(
        "the landing", lambda: standalone.run_state("intervals_land_events", run["dag_run_id"]) == "success"
    )
    assert standalone.landed(DAY) == _truth(DAY) != []

    # The chain: a landing updates the events asset, and the load runs by itself.
    def loaded():
        runs = api.call("GET", "/api/v2/dags/intervals_warehouse_load/dagRuns")["dag_runs"]
        return any(r["run_type"] == "asset_triggered" and r["state"] == "success" for r in runs)

    standalone.wait("asset-triggered warehouse load", loaded)


def test_the_cli_on_the_printed_home_sees_this_airflow_and_backfills_as_documented(standalone):
    """``export AIRFLOW_HOME=...`` as printed, then ``.venv/bin/airflow``: the settings are in airflow.cfg."""
    home = re.search(r"export AIRFLOW_HOME=(\S+)", standalone.child.output())[1]
    assert home == str(standalone.work / "airflow")
    env = {**_user_environment(standalone.ports), "AIRFLOW_HOME": home}
    airflow = str(ROOT / ".venv" / "bin" / "airflow")

    def cli(*args: str) -> str:
        done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    assert cli("config", "get-value", "core", "dags_folder").strip() == str(ROOT / "dags")
    assert cli("config", "get-value", "core", "load_examples").strip() == "False"
    assert cli("config", "get-value", "core", "test_connection").strip() == "Enabled"
    # A write waits 30 s for the busy metadata DB, not SQLite's 5, and takes the lock before it
    # reads: the home's local settings (test_sqlite_local_settings.py) reach this CLI's engine.
    # Without them the backfill below failed on a loaded machine with "database is locked".
    database = cli("config", "get-value", "database", "sql_alchemy_conn").strip()
    assert database == f"sqlite:///{home}/airflow.db?timeout=30"
    local_settings = Path(home) / "config" / "airflow_local_settings.py"
    assert local_settings.read_bytes() == (ROOT / "scripts" / "sqlite_local_settings.py").read_bytes()
    probe = (
        "from airflow import settings; "
        "print(settings.engine.raw_connection().dbapi_connection.isolation_level)"
    )
    isolation = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", probe], env=env,
                               capture_output=True, text=True, timeout=120)  # fmt: skip
    assert isolation.stdout.strip() == "IMMEDIATE", isolation.stderr[-2000:]
    # Airflow's backfill runs up to 10 runs at once unless told (the DAG's max_active_runs does
    # not apply): the documented command says how many.
    cli("backfill", "create", "--dag-id", "intervals_land_events", "--from-date", "2025-06-05",
        "--to-date", "2025-06-07", "--max-active-runs", "2")  # fmt: skip
    api = standalone.api
    (backfill,) = api.call("GET", "/api/v2/backfills?dag_id=intervals_land_events")["backfills"]
    assert backfill["max_active_runs"] == 2

    def done():
        runs = api.call("GET", "/api/v2/dags/intervals_land_events/dagRuns?run_type=backfill")["dag_runs"]
        assert not [r for r in runs if r["state"] == "failed"], standalone.child.tail()
        return len(runs) == 3 and all(r["state"] == "success" for r in runs) and runs

    runs = standalone.wait("the backfill's three runs", done)
    # One run per day, each landing its data interval's day (its logical date's), as documented.
    days = sorted(r["data_interval_start"][:10] for r in runs)
    assert days == sorted(r["logical_date"][:10] for r in runs) == ["2025-06-05", "2025-06-06", "2025-06-07"]
    for day in days:
        assert standalone.landed(day) == _truth(day)


def test_a_user_adds_tests_and_uses_a_connection_in_a_real_browser(standalone):
    """Chromium, clicking as a user: sign in, replace the connection with the form, test it, land."""
    from airflow_ui import AirflowUI, find_browser

    if find_browser() is None:
        pytest.skip(
            "needs Chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"
        )
    screenshots = Path(os.environ.get("INTERVALS_SCREENSHOTS") or ROOT / ".local" / "screenshots" / "browser")
    ui = AirflowUI(standalone.api.url, screenshots)
    try:
        ui.login(*standalone.login)
        assert "intervals" in ui.connection_row("intervals_default")
        ui.delete_connection("intervals_default")
        fields = {"host": "127.0.0.1", "port": str(standalone.ports["sandbox"]), "schema": "http",
                  "password": DEFAULT_API_KEY}  # fmt: skip
        plan, choices = ui.add_intervals_connection("intervals_default", fields)
        assert "Learn from GET /organization" in plan  # preselected
        assert choices == list(CONN_FIELDS["plan"]["schema"]["values_display"].values())
        assert choices[0] == "Learn from GET /organization"
        assert not [c for c in choices if "null" in c or not c.strip()]
        # What the form saved: every extra, the empty ones null, the plan's empty choice.
        saved = standalone.api.call("GET", "/api/v2/connections/intervals_default")
        assert json.loads(saved["extra"]) == UI_FORM_EXTRA
        assert ui.test_connection("intervals_default") == "green"

        run_id = ui.trigger("intervals_land_events")
        assert ui.wait_for_run("intervals_land_events", run_id, RUN_TIMEOUT) == "Success"
        found = ui.task_links("intervals_land_events", run_id, "land_events", ["Landed window"])
        run = urllib.parse.unquote(run_id)
        api_run = standalone.api.call("GET", f"/api/v2/dags/intervals_land_events/dagRuns/{run_id}")
        xcom = f"{standalone.api.url}/dags/intervals_land_events/runs/{urllib.parse.quote(run, safe='')}"
        assert found == {"Landed window": f"{xcom}/tasks/land_events/xcom"}
        logical = dt.date.fromisoformat(api_run["logical_date"][:10])
        day = str(logical - dt.timedelta(days=1))  # a manual run lands the day before its logical date
        opened = "".join(ui.follow_link("Landed window", "_manifest.json").split())  # the page wraps it
        assert f"date_from={day}/date_to={day}/_manifest.json" in opened
        assert standalone.landed(day) == _truth(day)
    finally:
        ui.close()
    assert [p.name for p in ui.taken] == [
        "01-login.png", "02-connection-form.png", "03-connection-form-plan-choices.png",
        "04-connection-saved.png", "05-connection-tested.png", "06-trigger-dialog.png", "07-run.png",
        "08-task-instance-extra-links.png", "09-extra-link-opened.png",
    ]  # fmt: skip


def test_ctrl_c_stops_airflow_and_the_sandbox_and_leaves_nothing(standalone):
    child, ports = standalone.child, standalone.ports
    started = process_tree(child.pid)  # dev.py, the script, the sandbox, Airflow and all it started
    sessions = {os.getsid(p.pid) for p in started if live_processes([p])}
    assert len(sessions) == 2  # ours and Airflow's own
    before_stop = len(child.output())
    os.killpg(child.pid, signal.SIGINT)  # Ctrl+C
    assert child.wait(STOP_TIMEOUT) == 0, child.tail()
    assert live_processes(started) == []
    assert _in_sessions(sessions) == []
    assert [name for name, port in ports.items() if not _port_free(port)] == []
    after = child.output()[before_stop:]
    assert "Traceback" not in after, after
    assert "nothing is left running" in child.lines[-1]


def test_standalone_dry_run_prepares_the_home_the_connection_the_dags_and_a_season_plan(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--standalone",
            "--dry-run",
            "--events",
            "1000",
            "--work",
            str(tmp_path),
            "--sandbox-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    listed = next(line for line in out.splitlines() if "example DAGs:" in line)
    assert {d.strip() for d in listed.split(":", 1)[1].split(",")} == EXAMPLE_DAGS
    assert "would unpause intervals_land_events, intervals_warehouse_load once the API server answers" in out
    assert f"Dry run: would now run {Path(sys.executable).parent / 'airflow'} standalone" in out
    assert (tmp_path / "airflow" / "airflow.db").exists()
    plan = [json.loads(line) for line in (tmp_path / "season" / "plan.jsonl").open()]
    assert len(plan) == 12
    assert {p["type"] for p in plan} == {"race", "runClub"}
