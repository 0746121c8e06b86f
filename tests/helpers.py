"""Helpers shared by the tests: times, landed files, task contexts, fault seeds, write inputs.

One copy of each, imported as ``from helpers import ...`` (``tests/`` is on ``sys.path``
because ``tests/conftest.py`` lives there).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import sys
import types
import uuid
from pathlib import Path

import pytest
from airflow.sdk import DAG, ObjectStoragePath

# Starting, waiting for and stopping processes, and finding ports, are the supervisor's:
# the tests use the same code as the scripts (re-exported here under the tests' names).
from airflow_provider_intervals.supervisor import free_port as unused_port
from airflow_provider_intervals.supervisor import run_in_session  # noqa: F401

# The tests that use SeaweedFS (the session-scoped ``seaweedfs``: one per worker that asks) run on
# one worker, so one worker starts it. (The pacing's PostgreSQL and Redis are not grouped: most of
# their tests are ``wallclock`` ones, which ``dev.py test`` runs after the rest, three at a time.)
S3_SERVER = pytest.mark.xdist_group("s3-server")

# What Airflow 3.3's connection form posts for an Intervals connection saved with only the host
# and key filled (captured from the form in a real browser;
# tests/scripts/test_standalone.py posts it through the REST API and fills the form itself):
# every declared extra is present, the empty ones null, and the plan select's empty choice "".
UI_FORM_EXTRA = {
    "timeout": None,
    "max_retries": None,
    "retry_backoff": None,
    "retry_backoff_max": None,
    "max_rate_limit_wait": None,
    "page_size": None,
    "intervals_version": None,
    "plan": "",
    "requests_per_minute": None,
    "burst": None,
    "pacing_conn_id": None,
    "allow_insecure_http": None,
}


def user_environment() -> dict[str, str]:
    """A user's shell: no venv on ``PATH``, none of the test session's Airflow settings."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INTERVALS_")) and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    return env


def process_tree(pid: int) -> list:
    """The process ``pid`` and every process below it (``psutil.Process``), or ``[]`` once it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def live_processes(processes: list) -> list[str]:
    """Those of ``processes`` still running (not zombies, not a reused pid), as ``pid command`` lines."""
    import psutil

    out = []
    for p in processes:
        try:  # is_running compares the start time too: a reused pid is not ours
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            pass
    return out


def dag_bag():
    """Airflow's ``DagBag`` and ``sync_bag_to_db``, wherever this Airflow keeps them."""
    try:
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    except ImportError:  # Airflow < 3.2 (the version matrix runs 3.1)
        from airflow.models.dagbag import DagBag, sync_bag_to_db
    return DagBag, sync_bag_to_db


def utc(*args: int) -> dt.datetime:
    """``datetime(*args)`` in UTC."""
    return dt.datetime(*args, tzinfo=dt.UTC)


def files(prefix: ObjectStoragePath) -> list[str]:
    """Every file under ``prefix``, as sorted paths relative to it (``[]`` if it does not exist)."""
    root = prefix.path.rstrip("/")
    if not prefix.exists():
        return []
    return sorted(f[len(root) + 1 :] for f in prefix.fs.find(root))


def snapshot(prefix: ObjectStoragePath) -> dict[str, bytes | None]:
    """Everything under ``prefix``: each file's bytes and each directory (``None``), by relative path.

    Read fresh (the file system's listing cache dropped), so it sees what another client wrote.
    """
    fs, root = prefix.fs, prefix.path.rstrip("/")
    fs.invalidate_cache()
    if not fs.exists(root):
        return {}
    found = fs.find(root, withdirs=True, detail=True)
    return {
        path[len(root) + 1 :]: fs.cat_file(path) if info["type"] == "file" else None
        for path, info in found.items()
        if path.rstrip("/") != root
    }


def unreachable_api(**extra) -> types.SimpleNamespace:
    """A stand-in for a sandbox that ``make_conn`` can point a connection at: nothing answers there."""
    conn = {
        "conn_type": "intervals",
        "host": "127.0.0.1",
        "port": unused_port(),
        "schema": "http",
        "password": "itv_nobody_answers",
        "extra": extra,
    }
    return types.SimpleNamespace(connection_json=lambda key=None: json.dumps(conn))


@contextlib.contextmanager
def retry_warnings(what: str, then: str = "; retry "):
    """Collect the hooks' retry warnings for ``what`` (e.g. ``GET /organization``), one per log record.

    The hooks log through Airflow's structlog loggers, which ``caplog`` does not see: the
    records are captured as structlog events (hooks made inside the block, any thread).

    :param then: what the warning says the hook does next: retry (a fault), or
        ``"; waiting for the API's retryAfter"`` (a 429, which spends no retry).
    """
    from structlog.testing import capture_logs

    found: list[str] = []
    with capture_logs() as events:
        yield found
    for event in events:
        text = str(event.get("event", ""))
        if event.get("log_level") == "warning" and text.startswith(f"{what}: ") and then in text:
            found.append(text)


def task_context(
    dag_id: str = "direct", task_id: str = "write", run_id: str = "manual__test", try_number: int = 1
) -> dict:
    """The part of a task context the operators read, for calling ``execute`` directly."""
    ti = types.SimpleNamespace(
        dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1, try_number=try_number
    )
    return {"ti": ti}


def first_fault(seed: int, rate: float) -> int:
    """Index of the first request the sandbox faults with ``rate`` and ``seed`` (one draw per request)."""
    rng = random.Random(seed)
    return next(i for i in range(10_000) if rng.random() < rate)


def seed_failing_at(request_index: int, rate: float = 0.2) -> int:
    """A fault seed whose first fault (error or dropped response) is request ``request_index`` (0-based)."""
    return next(s for s in range(10_000) if first_fault(s, rate) == request_index)


# ----------------------------------------------------------------------------- write operators


def write_dag(operator, params=None, dag_kwargs=None, **op_kwargs):
    """A one-task DAG with a unique id (each test gets its own runs, keys and task state)."""
    dag = DAG(
        f"write_{uuid.uuid4().hex[:8]}",
        schedule=None,
        start_date=utc(2024, 1, 1),
        params=params or {},
        **(dag_kwargs or {}),
    )
    with dag:
        operator(task_id="write", **op_kwargs)
    return dag


def seeded_runs(store, count):
    """``count`` event-run ids of seeded events (created events have no runs)."""
    runs = []
    for event_id in store.event_ids_sample(200):
        runs += [run["_id"] for run in store.get_event(event_id)["runs"]]
        if len(runs) >= count:
            return runs[:count]
    raise AssertionError("not enough seeded runs")


def registration_rows(store, count, tag):
    runs = seeded_runs(store, 25)
    return [
        {
            "eventRunId": runs[i % len(runs)],
            "email": f"runner{i}.{tag}@bulk.example",
            "registrationType": "paid" if i % 3 else "free",
            "name": f"Runner {i}",
        }
        for i in range(count)
    ]


def event_rows(count, tag):
    return [
        {
            "name": f"Bulk {tag} {i}",
            "slug": f"bulk-{tag}-{i}",
            "type": "race",
            "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "startTime": "08:00",
        }
        for i in range(count)
    ]


def write_jsonl(path: ObjectStoragePath, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write("".join(json.dumps(r) + "\n" for r in rows).encode())
    return str(path)


def write_csv(path: ObjectStoragePath, rows, columns=None) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns or list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(text.getvalue().encode())
    return str(path)


def read_lines(path: ObjectStoragePath):
    with path.open("rb") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def created_registrations(store, rows):
    """How many registrations exist in the sandbox per email of ``rows``."""
    emails = {r["email"] for r in rows}
    events = {store.run_event_index(r["eventRunId"]) for r in rows}
    found: dict[str, int] = {}
    for i in events:
        for reg in store.registrations(i):
            if reg["email"] in emails:
                found[reg["email"]] = found.get(reg["email"], 0) + 1
    return found


def events_with_prefix(store, prefix):
    return [e for e in store.iter_events() if e["slug"].startswith(prefix)]


class AssetStates:
    """The task context's ``asset_state_store``: one dict per asset (what Airflow 3.3 provides)."""

    def __init__(self) -> None:
        self.states: dict[str, dict] = {}

    def __getitem__(self, asset):
        state = self.states.setdefault(asset.uri, {})
        return types.SimpleNamespace(get=lambda k, default=None: state.get(k, default), set=state.__setitem__)
