"""A deferred landing on a real Airflow: deferred with its worker slot free, waited out by the triggerer.

``airflow standalone`` (scheduler with a LocalExecutor, DAG processor, triggerer, API server;
SQLite) runs in a temporary home with one small DAG, and is watched through the REST API only.
The sandbox runs in this process, with a limit of 3 requests at once and then one per 15 s;
the connection's extras pace the client to it, and a page holds 5 events, so the window's 17
events take 4 pages: 2 from the client's full bucket (the burst less a token of headroom),
then a 15 s wait, past ``defer_after=5``. The task defers; the triggerer waits; a worker resumes
it, in a new process, which inherits the key's drained bucket from the state every process of the
host shares: it lands one page, and defers again for the last one, 15 s later. Slow (about a
minute and a half, most of it Airflow starting on two shared cores), and it stops the whole
session it started (the supervisor's stop), whatever happens.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from airflow.sdk import ObjectStoragePath
from helpers import live_processes, process_tree, unused_port, user_environment

from airflow_provider_intervals.storage import iter_records, read_manifest
from airflow_provider_intervals.supervisor import Child
from airflow_provider_intervals.testing import connection_json

pytestmark = [
    pytest.mark.slow,
    pytest.mark.intervals_sandbox(plan="free", rate_limits={"free": (1, 15.0, 3)}, fresh=True),
]

DAG_ID = "intervals_deferred_landing"
WINDOW = {"date_from": "2025-06-01", "date_to": "2025-06-06"}
PAGE = 5
START_TIMEOUT = 300.0
RUN_TIMEOUT = 240.0
DAG_FILE = '''"""One deferrable landing (written by tests/operators/test_deferral_airflow.py)."""
import datetime as dt

from airflow.sdk import DAG

from airflow_provider_intervals.operators.events import IntervalsEventsOperator

with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), catchup=False):
    IntervalsEventsOperator(
        task_id="land", output_path={lake!r}, concurrency=1, records_per_part=100,
        deferrable=True, defer_after=5, date_from={date_from!r}, date_to={date_to!r},
    )
'''


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def _post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Standalone:
    """``airflow standalone`` as a supervised child in a session of its own, output captured.

    Every process it starts is remembered as it appears, so the stop can check, apart from
    the supervisor's own check of the session, that none of them is left.
    """

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        airflow = Path(sys.executable).parent / "airflow"
        self.child = Child(
            [airflow, "standalone"], name="airflow standalone", cwd=home, env=env, capture=True
        )
        self.started: list[psutil.Process] = []

    def start(self) -> Standalone:
        self.child.start()
        return self

    def _remember(self) -> None:
        self.started += [p for p in process_tree(self.child.pid) if p not in self.started]

    def wait(self, what: str, check, timeout: float):
        """Return ``check()``'s first truthy value; fail if Airflow exits or ``timeout`` passes."""

        def probe():
            self._remember()
            return check()

        return self.child.wait_until(what, probe, timeout, retry_on=(OSError, ValueError, KeyError))

    def tail(self, n: int = 80) -> str:
        return self.child.tail(n)

    def stop(self) -> list[str]:
        """SIGTERM the session, SIGKILL what is left after 30 s; return the survivors."""
        self._remember()
        return self.child.stop() + live_processes(self.started)


def test_a_deferred_landing_frees_its_worker_slot_while_the_triggerer_waits_then_resumes(api, tmp_path):
    home, dags, lake = tmp_path / "airflow", tmp_path / "dags", tmp_path / "lake"
    for folder in (home, dags):
        folder.mkdir()
    dags.joinpath(f"{DAG_ID}.py").write_text(DAG_FILE.format(dag_id=DAG_ID, lake=lake.as_uri(), **WINDOW))
    port = unused_port()
    env = {
        **user_environment(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",  # where task runners find the Execution API
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(unused_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(unused_port()),
        "AIRFLOW_CONN_INTERVALS_DEFAULT": connection_json(api, page_size=PAGE),
        "AWS_EC2_METADATA_DISABLED": "true",
        "INTERVALS_PACING_DIR": str(tmp_path / "pacing"),  # the key's state, in this test's own folder
    }
    airflow = Standalone(tmp_path, env).start()
    try:
        health = airflow.wait("a healthy Airflow", lambda: _healthy(port), START_TIMEOUT)
        assert {"scheduler", "triggerer", "dag_processor"} <= set(health)
        airflow.wait("the DAG", lambda: _get(port, f"/api/v2/dags/{DAG_ID}")["dag_id"], START_TIMEOUT)
        run = _post(port, f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": "2025-06-07T00:00:00Z"})
        ti_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run['dag_run_id'])}/taskInstances/land"

        def deferred_on_a_triggerer():
            ti = _get(port, ti_path)
            assert ti["state"] not in ("failed", "success", "up_for_retry"), airflow.tail()
            return ti["state"] == "deferred" and ti["trigger"] and ti["trigger"]["triggerer_id"] and ti

        ti = airflow.wait(
            "the task deferred and taken by the triggerer", deferred_on_a_triggerer, RUN_TIMEOUT
        )
        trigger = ti["trigger"]
        assert (
            trigger["classpath"] == "airflow_provider_intervals.triggers.allowance.IntervalsAllowanceTrigger"
        )
        triggerers = _get(port, "/api/v2/jobs?job_type=TriggererJob&is_alive=true")["jobs"]
        assert trigger["triggerer_id"] in [job["id"] for job in triggerers]  # a live triggerer runs it
        live = [p for p in airflow.started if live_processes([p])]
        assert any(p.cmdline()[-1:] == ["triggerer"] for p in live)  # in a process of its own
        pool = _get(port, "/api/v2/pools/default_pool")
        assert (pool["running_slots"], pool["deferred_slots"]) == (0, 1)  # its worker slot is free
        assert _get(port, "/api/v2/monitor/health")["triggerer"]["status"] == "healthy"
        assert api.stats["requests"] == 2  # the client's burst; nothing sent for the long wait
        landed_while_deferred = sorted(p.name for p in lake.rglob("part-*"))
        assert len(landed_while_deferred) == 1  # the part being written, finished before deferring

        def finished():
            ti = _get(port, ti_path)
            assert ti["state"] not in ("failed", "up_for_retry"), airflow.tail()
            return ti["state"] == "success" and ti

        ti = airflow.wait("the resumed task to succeed", finished, RUN_TIMEOUT)
        assert ti["try_number"] == 1  # resumed, not retried
        xcom = _get(port, f"{ti_path}/xcomEntries/return_value")["value"]
        summary = xcom if isinstance(xcom, dict) else json.loads(xcom)
    finally:
        survivors = airflow.stop()
    assert survivors == [], f"processes left running: {survivors}"
    assert summary["deferrals"] == 2  # the resumed process paced on the key's shared state
    assert summary["resumed_parts"] == 0  # none from an earlier try: the one part is this try's own
    pages = -(-api.store.count_events(**WINDOW) // PAGE)
    assert api.stats["pages_served"] == api.stats["requests"] == pages == summary["requests"] == 4
    prefix = ObjectStoragePath(summary["manifest"]).parent
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**WINDOW))
    assert [p["records"] for p in read_manifest(prefix)["parts"]] == [10, 5, 2]  # cut where it deferred


def _healthy(port: int) -> dict | None:
    health = _get(port, "/api/v2/monitor/health")
    return all(part["status"] == "healthy" for part in health.values()) and health
