"""``python3 dev.py standalone`` as a user starts it: a real Airflow, used through its REST API, then Ctrl+C.

The command runs with the venv not activated (``.venv/bin`` not on ``PATH``), from a
temporary directory, on free ports, with none of the test session's Airflow settings. What it
lands is checked against an independent copy of the sandbox's data (the same seed gives the
same events).
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
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.sandbox.store import Store
from airflow_provider_intervals.storage import iter_records

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

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Output:
    """The command's output, read by a thread as it comes (so the pipe never fills)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")))
        self._thread.daemon = True
        self._thread.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def tail(self, n: int = 60) -> str:
        return "".join(self.lines[-n:])

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _live(processes: list[psutil.Process]) -> list[str]:
    out = []
    for p in processes:
        try:  # is_running compares the start time too: a reused pid is not ours
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            pass
    return out


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

    def call(self, method: str, path: str, body: dict | None = None):
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

    def trigger(self, dag_id: str, logical_date: str, attempts: int = 3) -> dict:
        """Trigger a run as the UI's button does; on a 5xx, try again as a user would.

        Airflow standalone keeps its metadata in SQLite, whose single writer can make the API
        server answer 500 while the scheduler writes (seen under the full suite's load). A try
        that did create the run before failing is found by its logical date, not made twice.
        """
        path = f"/api/v2/dags/{dag_id}/dagRuns"
        query = urllib.parse.urlencode({"logical_date_gte": logical_date, "logical_date_lte": logical_date})
        for attempt in range(1, attempts + 1):
            try:
                return self.call("POST", path, {"logical_date": logical_date})
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 409:  # 409: an earlier try made it
                    raise
                runs = self.call("GET", f"{path}?{query}")["dag_runs"]
                if runs:
                    return runs[0]
                if attempt == attempts:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    def login(self, user: str, password: str) -> None:
        token = self.call("POST", "/auth/token", {"username": user, "password": password})
        self.token = token["access_token"]


def _wait(what: str, check, timeout: float, proc: subprocess.Popen, output: Output):
    """Return ``check()``'s first truthy value; fail if the command exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode} waiting for {what}:\n{output.tail()}"
        try:
            if value := check():
                return value
        except (OSError, ValueError, KeyError):  # not up yet
            pass
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout:.0f} s:\n{output.tail()}")


def test_standalone_serves_the_dags_runs_a_landing_and_stops_everything_on_ctrl_c(tmp_path):
    ports = {name: _free_port() for name in ("api", "sandbox", "worker_logs", "trigger_logs")}
    env = _user_environment(ports)
    work = tmp_path / "work"
    options = ["--events", EVENTS, "--work", work]
    options += ["--sandbox-port", ports["sandbox"], "--api-port", ports["api"]]
    command = [_python3(env), str(ROOT / "dev.py"), "standalone", *map(str, options)]
    # A session of its own, as a terminal gives a job: Ctrl+C is SIGINT to its process group.
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(proc.stdout)
    started: list[psutil.Process] = []
    try:
        api = Api(f"http://localhost:{ports['api']}")
        login = _wait(
            "printed login",
            lambda: re.search(r"login: user (\S+), password (\S+)", output.text),
            START_TIMEOUT,
            proc,
            output,
        )
        generated = work / "airflow" / "simple_auth_manager_passwords.json.generated"
        assert json.loads(generated.read_text()) == {login[1]: login[2]}

        def healthy():  # the metadata DB, scheduler, triggerer and DAG processor
            health = api.call("GET", "/api/v2/monitor/health")
            return all(part["status"] == "healthy" for part in health.values()) and health

        health = _wait("healthy Airflow", healthy, START_TIMEOUT, proc, output)
        assert {"metadatabase", "scheduler", "triggerer", "dag_processor"} <= set(health)
        api.login(login[1], login[2])

        dags = api.call("GET", "/api/v2/dags?limit=100")["dags"]
        assert {d["dag_id"] for d in dags} == EXAMPLE_DAGS
        assert {d["dag_id"] for d in dags if not d["is_paused"]} == CHAIN
        assert api.call("GET", "/api/v2/importErrors")["total_entries"] == 0

        # The UI's Test connection (enabled for this home) on the connection the output says to save.
        saved = re.search(r"type Intervals, Base URL (\S+), API key (\S+)", output.text)
        assert saved[1] == f"http://127.0.0.1:{ports['sandbox']}"
        body = {"connection_id": "sandbox", "conn_type": "intervals", "host": saved[1], "password": saved[2]}
        tested = api.call("POST", "/api/v2/connections/test", body)
        assert tested["status"] is True, tested

        # The run of 2025-06-03 covers 2025-06-02 00:00 .. 2025-06-03 00:00: it lands 2025-06-02.
        run = api.trigger("intervals_land_events", "2025-06-03T00:00:00Z")
        assert run["data_interval_start"] == f"{DAY}T00:00:00Z"
        assert run["data_interval_end"] == "2025-06-03T00:00:00Z"
        path = f"/api/v2/dags/intervals_land_events/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"

        def finished():
            state = api.call("GET", path)["state"]
            assert state != "failed", output.tail()
            return state == "success"

        _wait("successful landing run", finished, RUN_TIMEOUT, proc, output)
        window = work / "lake" / "events" / "type=all" / f"date_from={DAY}" / f"date_to={DAY}"
        want = list(Store(EVENTS, 42, dt.date(2025, 1, 1), 730).iter_events(date_from=DAY, date_to=DAY))
        assert list(iter_records(ObjectStoragePath(f"file://{window}/_manifest.json"))) == want != []

        # The chain: a landing updates the events asset, and the load runs by itself.
        def loaded():
            runs = api.call("GET", "/api/v2/dags/intervals_warehouse_load/dagRuns")["dag_runs"]
            return any(r["run_type"] == "asset_triggered" and r["state"] == "success" for r in runs)

        _wait("asset-triggered warehouse load", loaded, RUN_TIMEOUT, proc, output)

        started = _tree(proc.pid)  # dev.py, the script, the sandbox, Airflow and all it started
        sessions = {os.getsid(p.pid) for p in started if _live([p])}
        assert len(sessions) == 2  # ours and Airflow's own
        # Airflow's own start may log a task's first try racing the API server's start; what
        # this command owns is a quiet stop, so the check reads what Ctrl+C printed.
        before_stop = len(output.text)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C
        assert proc.wait(STOP_TIMEOUT) == 0, output.tail()
        output.join(10)
        assert _live(started) == []
        assert _in_sessions(sessions) == []
        assert [name for name, port in ports.items() if not _port_free(port)] == []
        assert "Traceback" not in output.text[before_stop:], output.text[before_stop:]
        assert "nothing is left running" in output.lines[-1]
    finally:
        if proc.poll() is None or _live(started):  # the test failed midway: leave nothing behind
            started = started + _tree(proc.pid)
            for p in started:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            proc.wait(30)


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
            str(_free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    listed = next(line for line in out.splitlines() if "example DAGs:" in line)
    assert {d.strip() for d in listed.split(":", 1)[1].split(",")} == EXAMPLE_DAGS
    assert "unpaused: intervals_land_events, intervals_warehouse_load" in out
    assert f"Dry run: would now run {Path(sys.executable).parent / 'airflow'} standalone" in out
    assert (tmp_path / "airflow" / "airflow.db").exists()
    plan = [json.loads(line) for line in (tmp_path / "season" / "plan.jsonl").open()]
    assert len(plan) == 12
    assert {p["type"] for p in plan} == {"race", "runClub"}
