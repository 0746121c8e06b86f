"""Servers a shared pacing store can live on: a private Redis and a private PostgreSQL, on loopback.

Each is started once per session the way ``dev.py cluster`` starts them
(``scripts/cluster_services.py``), and the tests that need one skip, saying why, when its Debian
package is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _services():
    spec = importlib.util.spec_from_file_location(
        "cluster_services", ROOT / "scripts" / "cluster_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """The session's private servers, stopped at its end."""
    module = _services()
    logs = tmp_path_factory.mktemp("pacing-servers")
    procs = module.Processes(logs)
    yield module, procs, logs
    procs.stop()


@pytest.fixture(scope="session")
def redis_port(services):
    """A private ``redis-server`` on a free loopback port (no persistence)."""
    module, procs, logs = services
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    return module.start_redis(procs, logs)


@pytest.fixture(scope="session")
def postgres_port(services):
    """A private PostgreSQL on a free loopback port (user ``airflow``, trust, database ``airflow``)."""
    module, procs, _ = services
    pg_bin = module._pg_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
    port, data = module.start_postgres(procs, pg_bin)
    yield port
    shutil.rmtree(data, ignore_errors=True)


STORES = ["directory", "redis", "postgres", "sqlite"]


@pytest.fixture(params=STORES)
def store_conn(request, tmp_path):
    """``(pacing_conn_id, environment)`` for each kind of store; ``None`` for the per-host directory.

    The environment defines the store's Airflow connection for this process and the ones it starts.
    """
    kind = request.param
    env = {"INTERVALS_PACING_DIR": str(tmp_path / "pacing")}
    if kind == "directory":
        return None, env
    if kind == "redis":
        conn = {"conn_type": "redis", "host": "127.0.0.1", "port": request.getfixturevalue("redis_port")}
    elif kind == "postgres":
        port = request.getfixturevalue("postgres_port")
        conn = {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": port,
            "login": "airflow",
            "schema": "airflow",
        }
    else:
        conn = {"conn_type": "sqlite", "host": str(tmp_path / "pacing.db")}
    conn_id = f"pacing_{kind}_{uuid.uuid4().hex[:8]}"  # the process keeps a store per connection id
    env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return conn_id, env
