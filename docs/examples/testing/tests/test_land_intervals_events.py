"""The DAG in ``dags/`` in real runs (``dag.test()``) against the Intervals sandbox.

The fixtures come from the provider's pytest plugin (installed with the provider): a running
sandbox (``intervals_sandbox``), the connection ``intervals_default`` pointing at it
(``intervals_connection``) and a metadata DB in the session's isolated Airflow home
(``intervals_airflow_db``, with ``intervals_airflow_home = true`` in ``pyproject.toml``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow < 3.2
    from airflow.models.dagbag import DagBag

from airflow_provider_intervals.storage import iter_records
from airflow_provider_intervals.testing import FAST_RETRIES

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "land_intervals_events.py"
DAY = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def dag(intervals_airflow_db):
    """Return the DAG as Airflow parses it from its file."""
    return DagBag(dag_folder=str(DAG_FILE)).get_dag("land_intervals_events")


@pytest.fixture
def landing(tmp_path, monkeypatch):
    """Set the Variable ``landing_path`` to a directory of the test's own; return its URL."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_PATH", f"file://{tmp_path}/lake")
    return f"file://{tmp_path}/lake"


def landed(landing: str, day: str) -> list[dict]:
    """Return the records landed for one day, read through the day's published manifest."""
    manifest = f"{landing}/events/type=all/date_from={day}/date_to={day}/_manifest.json"
    return list(iter_records(ObjectStoragePath(manifest)))


def test_a_run_lands_the_events_of_its_day(dag, landing, intervals_sandbox, intervals_connection):
    """A run lands exactly the sandbox's events of its logical date."""
    run = dag.test(logical_date=DAY)

    assert run.state == "success"
    want = list(intervals_sandbox.store.iter_events(date_from="2025-06-01", date_to="2025-06-01"))
    assert want, "the seeded data has events on that day"
    assert landed(landing, "2025-06-01") == want  # the sandbox's store is the truth


@pytest.mark.intervals_sandbox(faults={"error_rate": 0.3, "seed": 3})
def test_a_run_rides_out_server_errors(dag, landing, intervals_sandbox, intervals_connection_factory):
    """With 30% of requests answered 500 or 503, the run retries and still lands every event."""
    intervals_connection_factory(**FAST_RETRIES)  # intervals_default, retrying at once

    run = dag.test(logical_date=DAY)

    assert run.state == "success"
    assert intervals_sandbox.stats["faults_injected"] > 0
    want = list(intervals_sandbox.store.iter_events(date_from="2025-06-01", date_to="2025-06-01"))
    assert landed(landing, "2025-06-01") == want
