"""The example DAGs on a distributed Airflow, checked end to end: ``python3 dev.py cluster``.

Starts, on loopback only, each in a session and working directory of its own under one
temporary folder (the sandbox, which starts nothing, stays in the check's process group):

- **PostgreSQL** (metadata DB, Celery result backend, and the warehouse the load writes to):
  a private cluster made with ``initdb``, run as the ``postgres`` user when started as root;
- **Redis** (the Celery broker, and the key's shared pacing store), **SeaweedFS** (``weed
  mini``: the S3 landing zone) and the **Intervals sandbox**;
- Airflow's **API server, scheduler, DAG processor, triggerer** and **two Celery workers**
  (``--celery-hostname worker1@%h`` / ``worker2@%h``; each reports its own name as the task
  instances' hostname, so the summary can say which worker ran what).

Then it points the Variables at S3 and the Postgres warehouse (through the REST API, as a user
would in the UI), unpauses ``intervals_warehouse_load``, ``intervals_land_events`` and
``intervals_new_events``, backfills three days (``airflow backfill create``, as the README
says), publishes new events while the sensor waits deferred on the triggerer, and waits for
every run. It checks each landed window against the API (the window's records == the
sandbox's events of those days), the warehouse against the windows (rows per window, no
duplicate ids, every window in the ledger), which worker ran each task, and that the sensor
deferred to the triggerer and completed; prints a summary; stops everything (SIGTERM, then
SIGKILL per session) and checks that no process is left.

Needs the Debian packages ``postgresql`` and ``redis-server``: as root it installs the missing
ones with ``apt-get``; otherwise it says what is missing and exits with code 2. The Python side
(CeleryExecutor, psycopg2, asyncpg, the postgres provider) is the ``cluster`` extra, which
``dev.py`` installs. About three minutes on 2 cores.

The parts: ``cluster_services.py`` starts the processes (with ``airflow_provider_intervals.supervisor``),
``cluster_live.py`` talks to the running cluster, ``cluster_report.py`` judges and summarises.

    python3 dev.py cluster [--first-day 2025-06-01] [--days 3] [--events 20000] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cluster_live import LAND, LOAD, NEW, Api, dags_ready, finished, ledger, post_events, triggerer_of
from cluster_report import summary, verify
from cluster_services import (
    BIN,
    CheckFailed,
    Processes,
    airflow_env,
    prerequisites,
    start_airflow,
    start_postgres,
    start_redis,
    start_seaweedfs,
)
from local_airflow import SANDBOX_ARGS

from airflow_provider_intervals.supervisor import ChildFailed, free_port, wait_for


def exercise(api: Api, env: dict[str, str], pg: int, sandbox: Any, days: list[dt.date]) -> dict[str, Any]:
    """Configure, run the DAGs, wait for every run; return what happened."""
    for key, value in {
        "intervals_landing_path": "s3://lake/intervals",
        "intervals_landing_conn": "lake",
        "intervals_warehouse_conn": "warehouse",
    }.items():
        api.call("POST", "/api/v2/variables", {"key": key, "value": value})
    for dag_id in (LOAD, LAND, NEW):
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    command = [
        BIN / "airflow",
        "backfill",
        "create",
        "--dag-id",
        LAND,
        "--from-date",
        days[0].isoformat(),
        "--to-date",
        days[-1].isoformat(),
    ]
    print("+ " + " ".join(str(c) for c in command[1:]), flush=True)
    result = subprocess.run(
        command, env={**env, "INTERVALS_CLUSTER_HOST": "cli"}, capture_output=True, text=True
    )
    if result.returncode:
        raise CheckFailed(f"airflow backfill create failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

    print("Waiting for intervals_new_events' sensor to defer to the triggerer ...", flush=True)
    sensor_run = wait_for("a run of intervals_new_events", lambda: (api.runs(NEW) or [None])[0], 120)
    run_id = sensor_run["dag_run_id"]
    state = lambda: {t["task_id"]: t for t in api.task_instances(NEW, run_id)}  # noqa: E731
    wait_for("the sensor to defer", lambda: state()["wait_for_new_events"]["state"] == "deferred", 180)
    triggerer = wait_for(
        "the triggerer to pick up the trigger", lambda: triggerer_of(pg, NEW, "wait_for_new_events"), 60
    )
    day = (dt.date.fromisoformat(sensor_run["logical_date"][:10]) + dt.timedelta(days=7)).isoformat()
    posted = post_events(sandbox.url, sandbox.api_key, 3, day)
    print(f"  deferred on {triggerer}; published 3 races dated {day}", flush=True)

    print(f"Waiting for {len(days)} backfill runs and the scheduled run of {LAND}, and {NEW} ...", flush=True)

    def landings_done():
        runs = api.runs(LAND)
        backfill = [r for r in runs if r["run_type"] == "backfill"]
        return runs if len(backfill) == len(days) and len(runs) > len(days) and finished(runs) else None

    land_runs = wait_for("the landing runs", landings_done, 300, every=2)
    new_runs = wait_for(
        "the sensor run", lambda: finished(api.runs(NEW)[:1]) and api.runs(NEW)[:1], 180, every=2
    )
    windows = []
    for dag_id, task_id, runs in (
        (LAND, "land_events", land_runs),
        (NEW, "land_new_events_window", new_runs),
    ):
        for run in runs:
            if run["state"] != "success":
                raise CheckFailed(f"{dag_id} run {run['dag_run_id']} ended {run['state']}")
            xcom = api.call(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{task_id}"
                "/xcomEntries/return_value?deserialize=true",
            )["value"]
            windows.append(
                {
                    "dag_id": dag_id,
                    "run_id": run["dag_run_id"],
                    "run_type": run["run_type"],
                    **xcom,
                    "kind": run["run_type"] if dag_id == LAND else "new events",
                }
            )

    print("Waiting for intervals_warehouse_load to hold every window ...", flush=True)
    wanted = {w["prefix"] for w in windows}

    def loads_done():
        # One listing judged and then read: a load run that an asset event queues after this wait
        # ends has no XCom yet, so it must not be read as one of the finished runs.
        runs = api.runs(LOAD)
        return runs if finished(runs) and wanted <= set(ledger(pg)) else None

    load_runs = wait_for("the warehouse loads", loads_done, 240, every=2)
    loads = []
    for run in load_runs:
        if run["state"] != "success":
            raise CheckFailed(f"{LOAD} run {run['dag_run_id']} ended {run['state']}")
        events = api.call("GET", f"/api/v2/dags/{LOAD}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
        xcom = api.call(
            "GET",
            f"/api/v2/dags/{LOAD}/dagRuns/{run['dag_run_id']}/taskInstances/load_windows"
            "/xcomEntries/return_value?deserialize=true",
        )["value"]
        loads.append(
            {
                "run_id": run["dag_run_id"],
                "state": run["state"],
                "consumed": events["total_entries"],
                "loaded": [w["date_from"] for w in xcom["windows"]],
            }
        )
    tasks = [
        {
            "dag_id": dag_id,
            "run_id": run["dag_run_id"],
            "task_id": ti["task_id"],
            "state": ti["state"],
            "hostname": ti["hostname"],
            "try_number": ti["try_number"],
            "run": _describe(run),
        }
        for dag_id, runs in ((LAND, land_runs), (LOAD, load_runs), (NEW, new_runs))
        for run in runs
        for ti in api.task_instances(dag_id, run["dag_run_id"])
    ]
    published = api.call("GET", "/api/v2/assets/events?limit=100&name_pattern=intervals_landed_events")
    return {
        "windows": windows,
        "loads": loads,
        "tasks": tasks,
        "sensor": {"triggerer": triggerer, "posted": posted, "day": day},
        "asset_events": published["total_entries"],
    }


def _describe(run: dict[str, Any]) -> str:
    """Return ``run_type`` and what dates the run: its logical date, else when it was triggered."""
    if run.get("logical_date"):
        return f"{run['run_type']}, logical date {run['logical_date'][:10]}"
    return f"{run['run_type']}, at {run['run_after'][11:19]}"


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, run and check the example DAGs, stop everything; 0 when all is well."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--first-day", default="2025-06-01", help="first backfilled day (default 2025-06-01)")
    parser.add_argument("--days", type=int, default=3, help="days to backfill (default 3)")
    parser.add_argument("--events", type=int, default=20_000, help="events in the sandbox (default 20,000)")
    parser.add_argument(
        "--work", type=Path, default=None, help="where everything goes (default: a temp folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (kept anyway on failure)")
    args = parser.parse_args(argv)
    days = [dt.date.fromisoformat(args.first_day) + dt.timedelta(days=i) for i in range(args.days)]
    pg_bin = prerequisites()
    # SIGTERM (dev.py passes it on) unwinds like Ctrl+C, so everything started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = (args.work or Path(tempfile.mkdtemp(prefix="intervals-cluster-"))).resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    procs, sandbox, report, problems, pg_data = Processes(work / "logs"), None, None, [], None
    started = time.monotonic()
    try:
        print(f"Starting PostgreSQL, Redis, SeaweedFS and the Intervals sandbox in {work} ...", flush=True)
        pg, pg_data = start_postgres(procs, pg_bin)
        redis = start_redis(procs, work)
        s3 = start_seaweedfs(procs, work)
        from airflow_provider_intervals.sandbox.process import SandboxProcess

        sandbox = SandboxProcess(args.events, SANDBOX_ARGS).start()
        api_port = free_port()
        env = airflow_env(work, pg, redis, api_port, s3, sandbox.connection_json)
        # This process reads the landed windows and the API for the checks: same settings, quieter.
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "AWS_"))})
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        print(
            "Starting Airflow: api-server, scheduler, dag-processor, triggerer, two Celery workers ...",
            flush=True,
        )
        start_airflow(procs, work, env, api_port)
        api = Api(api_port)
        wait_for("the API server", api.login, 240, every=1, check=procs.check_alive)
        wait_for(
            "the example DAGs to be parsed", lambda: dags_ready(api), 240, every=2, check=procs.check_alive
        )
        report = exercise(api, env, pg, sandbox, days)
        problems = verify(report, pg)
    except (CheckFailed, ChildFailed) as failure:
        problems = [str(failure)]
    except (KeyboardInterrupt, SystemExit) as stop:
        problems = [f"interrupted ({type(stop).__name__})"]
    finally:
        # A second Ctrl+C or SIGTERM must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(OSError):  # stdout may be a pipe whose reader is gone
            print("Stopping everything ...", flush=True)
        left = procs.stop({"postgres": signal.SIGINT})  # PostgreSQL's fast shutdown
        if sandbox is not None:
            sandbox.stop()
        if pg_data is not None:
            shutil.rmtree(pg_data, ignore_errors=True)
    seconds = time.monotonic() - started
    if report is None:
        print(f"Processes left after stopping: {len(left)}" + "".join(f"\n    {p}" for p in left))
        print(f"FAILED: {problems[0]}\nLogs: {work / 'logs'} and {work}/*/logs")
        return 1
    text = summary(report, problems, left, seconds, work)
    print(text)
    (work / "summary.json").write_text(json.dumps({**report, "problems": problems, "left": left}, indent=1))
    ok = not problems and not left
    if ok and not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
