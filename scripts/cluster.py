"""The example DAGs on a distributed Airflow, checked end to end: ``python3 dev.py cluster``.

Starts, on loopback only, each in its own process group and working directory under one
temporary folder:

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
SIGKILL per process group) and checks that no process is left.

Needs the Debian packages ``postgresql`` and ``redis-server``: as root it installs the missing
ones with ``apt-get``; otherwise it says what is missing and exits with code 2. The Python side
(CeleryExecutor, psycopg2, asyncpg, the postgres provider) is the ``cluster`` extra, which
``dev.py`` installs. About three minutes on 2 cores.

    python3 dev.py cluster [--first-day 2025-06-01] [--days 3] [--events 20000] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cluster_services import (
    BIN,
    ROOT,
    WORKERS,
    CheckFailed,
    Processes,
    airflow_env,
    free_port,
    prerequisites,
    start_airflow,
    start_postgres,
    start_redis,
    start_seaweedfs,
    wait_for,
)

LAND, LOAD, NEW = "intervals_land_events", "intervals_warehouse_load", "intervals_new_events"


# ----------------------------------------------------------------------------- the REST API


class Api:
    """Airflow's REST API (``/api/v2``), with the token of the all-admins simple auth manager."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request; return the decoded JSON."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def login(self) -> bool:
        """Take a token (``GET /auth/token`` needs no credentials when every user is admin)."""
        self.call("GET", "/api/v2/monitor/health")
        self.token = self.call("GET", "/auth/token")["access_token"]
        return True

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Return every run of ``dag_id``, oldest first."""
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Return the run's task instances."""
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


def post_events(url: str, key: str, count: int, day: str) -> list[str]:
    """Publish ``count`` races dated ``day`` through the sandbox's API, as an organiser would."""
    ids = []
    for i in range(count):
        body = {
            "name": f"Cluster check race {i}",
            "slug": f"cluster-check-{secrets.token_hex(6)}",
            "type": "race",
            "date": day,
        }
        request = urllib.request.Request(
            f"{url}/events",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            ids.append(json.loads(response.read())["data"]["eventId"])
    return ids


# ----------------------------------------------------------------------------- the check


def dags_ready(api: Api) -> bool:
    """Every example DAG is parsed and stored, with no import error."""
    errors = api.call("GET", "/api/v2/importErrors")["import_errors"]
    if errors:
        raise SystemExit(f"The example DAGs have import errors: {json.dumps(errors, indent=1)[:3000]}")
    dag_ids = {d["dag_id"] for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
    return len(dag_ids) >= len(list((ROOT / "dags").glob("*.py"))) and {LAND, LOAD, NEW} <= dag_ids


def finished(runs: list[dict[str, Any]]) -> bool:
    """Whether every run has ended (success or failed)."""
    return all(r["state"] in ("success", "failed") for r in runs)


def triggerer_of(pg: int, dag_id: str, task_id: str) -> str | None:
    """Return the triggerer job running the deferred task's trigger: hostname, type (None until assigned)."""
    import psycopg2

    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="airflow") as con,
        con.cursor() as cur,
    ):
        cur.execute(
            "SELECT j.hostname, j.job_type, t.classpath FROM task_instance ti"
            " JOIN trigger t ON ti.trigger_id = t.id JOIN job j ON t.triggerer_id = j.id"
            " WHERE ti.dag_id = %s AND ti.task_id = %s AND ti.state = 'deferred'",
            (dag_id, task_id),
        )
        row = cur.fetchone()
    return None if row is None else f"{row[0]} ({row[1]}, {row[2].rsplit('.', 1)[-1]})"


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
    wait_for(
        "the warehouse loads", lambda: finished(api.runs(LOAD)) and wanted <= set(ledger(pg)), 240, every=2
    )
    load_runs = api.runs(LOAD)
    loads = []
    for run in load_runs:
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


def ledger(pg: int) -> dict[str, str]:
    """Return the warehouse's ledger: window prefix -> write id (empty before the first load)."""
    import psycopg2

    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="warehouse") as con,
        con.cursor() as cur,
    ):
        cur.execute("SELECT to_regclass('intervals_events_windows') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT prefix, write_id FROM intervals_events_windows")
        return dict(cur.fetchall())


def verify(report: dict[str, Any], pg: int) -> list[str]:
    """Compare every window with the API and the warehouse, and say who ran what; return the problems."""
    import psycopg2
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.storage import iter_records

    problems = []
    hook = IntervalsHook()
    loaded = ledger(pg)
    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="warehouse") as con,
        con.cursor() as cur,
    ):
        for w in report["windows"]:
            landed = list(iter_records(ObjectStoragePath(w["manifest"])))
            api_events = list(hook.iter_events(date_from=w["date_from"], date_to=w["date_to"]))
            cur.execute(
                "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM intervals_events"
                " WHERE date BETWEEN %s AND %s",
                (w["date_from"], w["date_to"]),
            )
            rows, distinct = cur.fetchone()
            w.update(
                landed=len(landed),
                api=len(api_events),
                warehouse=rows,
                equal=landed == api_events,
                in_ledger=loaded.get(w["prefix"]) is not None,
            )
            if not (w["equal"] and rows == distinct == len(landed) and w["in_ledger"]):
                problems.append(
                    f"window {w['date_from']} .. {w['date_to']}: landed {len(landed)}, API "
                    f"{len(api_events)}, equal {w['equal']}, warehouse {rows} ({distinct} distinct)"
                )
    hook.close()
    hosts = {t["hostname"] for t in report["tasks"]}
    if not hosts <= set(WORKERS):
        problems.append(f"tasks ran on {sorted(hosts)}, expected only {list(WORKERS)}")
    if not set(WORKERS) <= hosts:
        problems.append(f"only {sorted(hosts)} ran tasks: both workers should have")
    sensor = [t for t in report["tasks"] if t["task_id"] == "wait_for_new_events"]
    if not (report["sensor"]["triggerer"] or "").startswith("triggerer (TriggererJob"):
        problems.append(f"the sensor's trigger ran on {report['sensor']['triggerer']}, not the triggerer")
    if [(t["state"], t["try_number"]) for t in sensor] != [("success", 1)]:
        problems.append(f"the sensor did not complete in its first try: {sensor}")
    new_window = [w for w in report["windows"] if w["dag_id"] == NEW]
    if [(w["date_from"], w["date_to"]) for w in new_window] != [(report["sensor"]["day"],) * 2]:
        problems.append(f"the sensor's window {new_window} is not the posted events' day")
    return problems


def summary(report: dict[str, Any], problems: list[str], left: list[str], seconds: float, work: Path) -> str:
    """Return the printed summary (the cluster test reads it)."""
    lines = [
        "",
        "=== Distributed check: CeleryExecutor, PostgreSQL metadata DB and warehouse, Redis broker, "
        "SeaweedFS S3 ===",
        "Components: api-server, scheduler, dag-processor, triggerer, worker1, worker2 "
        "(+ postgres, redis, seaweedfs, sandbox), each in its own process group and folder",
        "Runs:",
    ]
    by_run: dict[tuple[str, str, str], list[str]] = {}
    for t in report["tasks"]:
        by_run.setdefault((t["dag_id"], t["run_id"], t["run"]), []).append(
            f"{t['task_id']}@{t['hostname']} {t['state']}"
        )
    for (dag_id, run_id, described), tis in by_run.items():
        load = next((x for x in report["loads"] if x["run_id"] == run_id), None)
        extra = (
            f"  consumed {load['consumed']} asset event(s), loaded {load['loaded'] or 'nothing new'}"
            if load
            else ""
        )
        lines.append(f"  {dag_id:<25} {described:<34} {', '.join(tis)}{extra}")
    lines.append("Windows (S3, s3://lake/intervals) vs the API and the warehouse (PostgreSQL):")
    for w in report["windows"]:
        lines.append(
            f"  {w['date_from']} .. {w['date_to']} ({w['kind']:<10}): landed {w['landed']:>3} records, "
            f"API {w['api']:>3}, {'equal' if w['equal'] else 'DIFFERENT'}; warehouse {w['warehouse']:>3} rows"
            f"{'' if w['in_ledger'] else ', NOT IN THE LEDGER'}"
        )
    consumed = sum(x["consumed"] for x in report["loads"])
    lines.append(
        f"Asset intervals_landed_events: {report['asset_events']} event(s) recorded, {consumed} consumed by "
        f"{len(report['loads'])} load run(s); the loads reconcile, so every window is loaded"
    )
    for worker in WORKERS:
        ran = [
            f"{t['dag_id'].removeprefix('intervals_')}.{t['task_id']}"
            for t in report["tasks"]
            if t["hostname"] == worker
        ]
        lines.append(f"Worker {worker}: {len(ran)} task(s): {', '.join(ran)}")
    s = report["sensor"]
    lines.append(
        f"Sensor: wait_for_new_events deferred on {s['triggerer']}, completed when {len(s['posted'])} new "
        f"races dated {s['day']} were published; its window landed and loaded"
    )
    lines.append(f"Processes left after stopping: {len(left)}" + "".join(f"\n    {p}" for p in left))
    verdict = "OK" if not problems and not left else "FAILED"
    equal = sum(w["equal"] for w in report["windows"])
    lines.append(
        f"Result: {verdict}: {equal}/{len(report['windows'])} windows equal to the API and loaded, "
        f"{len(by_run)} runs, in {seconds:.0f}s" + "".join(f"\n  problem: {p}" for p in problems)
    )
    if verdict != "OK":
        lines.append(f"Logs: {work / 'logs'} and {work}/*/logs")
    return "\n".join(lines)


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

        sandbox = SandboxProcess(args.events, ["--seed", "42", "--plan", "enterprise"]).start()
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
        wait_for("the API server", api.login, 240, procs, every=1)
        wait_for("the example DAGs to be parsed", lambda: dags_ready(api), 240, procs, every=2)
        report = exercise(api, env, pg, sandbox, days)
        problems = verify(report, pg)
    except CheckFailed as failure:
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
