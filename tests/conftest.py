"""Test-wide set-up: an isolated Airflow home, then fixtures that start real servers.

The environment is set before anything imports Airflow (Airflow reads it at import).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="intervals-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent / "dags")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import pytest  # noqa: E402

from airflow_provider_intervals.sandbox import Sandbox  # noqa: E402

FAST_RETRIES = {"retry_backoff": 0.001, "retry_backoff_max": 0.01, "max_retries": 8, "timeout": 5}


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox for the session: 2,000 seeded events, rate limits off; faults reset per test."""
    with Sandbox(events=2000, seed=7, rate_limits=False) as sb:
        yield sb


@pytest.fixture
def api(sandbox):
    """The shared sandbox with faults cleared, ``hasMore`` on and fresh counters."""
    sandbox.set_faults()
    sandbox.has_more = True
    sandbox.reset_stats()
    yield sandbox
    sandbox.set_faults()
    sandbox.has_more = True


@pytest.fixture
def make_conn(monkeypatch):
    """Return a function that defines an ``intervals`` connection in the environment."""
    import json

    def make(sb, conn_id: str = "intervals_default", key: str | None = None, **extra) -> str:
        conn = json.loads(sb.connection_json())
        if key is not None:
            conn["password"] = key
        conn["extra"] = {**FAST_RETRIES, **extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return make
