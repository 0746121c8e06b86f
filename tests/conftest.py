"""Test-wide set-up: fixtures that start real servers, under the names the tests use.

The isolated Airflow home (a fresh ``AIRFLOW_HOME``, examples off, this repo's DAGs folder, the
pacing's per-host directory in it, all removed at the end of each session, each worker's too) is
the provider's own pytest plugin's: ``intervals_airflow_home`` and ``intervals_dags_folder`` in
``pyproject.toml``, set before this file is imported (Airflow reads them at import).
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_intervals.testing import FAST_RETRIES, create_metadata_db

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # boto3 asks no metadata service
# pytest caches the test modules it rewrites for their assertions (in __pycache__, gitignored)
# unless PYTHONDONTWRITEBYTECODE is set, as it is on some machines: then each of the suite's pytest
# processes rewrites all of them again, about 2 CPU-seconds each. This session's processes cache them.
sys.dont_write_bytecode = False

# The sandbox, its connection and their resets come from the provider's own pytest plugin
# (airflow_provider_intervals/testing/pytest_plugin.py), the kit users get: these are its
# fixtures under the names the tests use.


def pytest_collection_modifyitems(config, items):
    """Start the slow tests first (a stable sort: the order within each kind stays).

    On parallel workers (``python3 dev.py test`` runs ``-n auto --dist loadgroup``) a long test
    then starts while the short ones fill the other workers, instead of finishing last on one
    worker while the others idle.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def intervals_sandbox_defaults():
    """The suite's sandbox: 2,000 seeded events, seed 7, rate limits off (a marker may say otherwise)."""
    return {"events": 2000, "seed": 7, "rate_limits": False}


@pytest.fixture(scope="session")
def sandbox(intervals_sandboxes, intervals_sandbox_defaults):
    """The session's sandbox of the suite's defaults (the one ``api`` is, unless a marker says otherwise)."""
    return intervals_sandboxes.get(**intervals_sandbox_defaults)


@pytest.fixture
def api(intervals_sandbox):
    """The test's sandbox (``intervals_sandbox``): faults cleared, ``hasMore`` on, fresh counters."""
    return intervals_sandbox


@pytest.fixture
def fresh_pacing():
    """The token buckets, plans and failures of the process and of the session's pacing directory,
    dropped before and after the test."""
    from airflow_provider_intervals import pacing

    pacing.forget()
    yield
    pacing.forget()


@pytest.fixture
def make_conn(intervals_connection_factory):
    """Return ``make(sb, conn_id, key, **extra)``: an ``intervals`` connection with fast retries."""

    def make(sb, conn_id: str = "intervals_default", key: str | None = None, **extra) -> str:
        return intervals_connection_factory(sb, conn_id, key, **{**FAST_RETRIES, **extra})

    return make


# ----------------------------------------------------------------------------- a real Airflow


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh metadata DB (SQLite in the session's AIRFLOW_HOME), created once."""
    create_metadata_db()


@pytest.fixture
def run_dag(airflow_db, monkeypatch):
    """Return ``run(dag, logical_date)``: one DAG run with ``dag.test()``, as a :class:`RunResult`.

    The DAG is written to the metadata DB the way the DAG processor would (``sync_bag_to_db``),
    so DAGs built inside tests run like DAGs from files. Two ways to create the run other
    than ``dag.test()``'s own (a manual run whose data interval comes from the logical date):

    - ``triggered_by_cli=True``: the run is made by Airflow's ``trigger_dag`` (what
      ``airflow dags trigger -l`` and ``TriggerDagRunOperator`` call), whose data interval
      comes from the moment of the trigger;
    - ``consumed_asset_events=[AssetEvent ids]``: an asset-triggered run that consumed exactly
      those events, as the scheduler makes it (``triggering_asset_events`` in the tasks).
    """
    import airflow.models.dagrun as dagrun_module
    from helpers import dag_bag

    DagBag, sync_bag_to_db = dag_bag()
    create = dagrun_module.get_or_create_dagrun

    def run(
        dag, logical_date=None, *, triggered_by_cli=False, consumed_asset_events=(), **kwargs
    ) -> RunResult:
        bag = DagBag(dag_folder=os.devnull, collect_dags=False)
        bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)

        def make_run(**spec):
            return _make_run(create, spec, triggered_by_cli, list(consumed_asset_events))

        with monkeypatch.context() as patch:
            patch.setattr(dagrun_module, "get_or_create_dagrun", make_run)
            return RunResult(dag.test(logical_date=logical_date, **kwargs))

    return run


def _make_run(create, spec: dict, triggered_by_cli: bool, consumed: list[int]):
    """``dag.test()``'s run, or one made as ``airflow dags trigger`` or the scheduler would make it."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.asset import AssetEvent
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    session = spec["session"]
    if not triggered_by_cli:
        dag_run = create(**spec)
    else:
        old = session.scalar(
            select(DagRun).where(
                DagRun.dag_id == spec["dag"].dag_id, DagRun.logical_date == spec["logical_date"]
            )
        )
        if old is not None:
            session.delete(old)
            session.commit()
        made = trigger_dag(spec["dag"].dag_id, triggered_by=DagRunTriggeredByType.CLI,
                           logical_date=spec["logical_date"], conf=spec["conf"])  # fmt: skip
        dag_run = session.scalar(select(DagRun).where(DagRun.run_id == made.run_id))
        dag_run.state, dag_run.start_date = DagRunState.RUNNING, spec["start_date"]
        dag_run.dag = spec["dag"]
    if consumed:
        dag_run.run_type = DagRunType.ASSET_TRIGGERED
        dag_run.consumed_asset_events.extend(
            session.scalars(select(AssetEvent).where(AssetEvent.id.in_(consumed)))
        )
    session.commit()
    return dag_run


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


@pytest.fixture
def post_events():
    """Return ``post(sb, count, ...)``: POST events over HTTP from a thread, like an organiser would.

    With ``wait`` (default) the thread first waits, on the sandbox's counters and not on a clock,
    for the end of the next listing the sandbox serves (its last page: a watcher's baseline or
    first poll), so the events are published after what the watcher has seen, however slow the
    machine. ``post.join()`` waits for the thread (and raises what it raised); the returned list
    fills with the new ids.
    """
    import threading
    import time
    import uuid

    import requests

    threads: list[threading.Thread] = []
    failures: list[BaseException] = []

    def post(sb, count: int, date: str = "2025-04-15", event_type: str = "race", wait: bool = True) -> list:
        ids: list[str] = []
        ended = sb.stats["listings_ended"]

        def work():
            try:
                deadline = time.monotonic() + 120
                while wait and sb.stats["listings_ended"] == ended:
                    if time.monotonic() > deadline:
                        raise TimeoutError("no listing ended in 120 s: nothing watched the feed")
                    time.sleep(0.01)
                for _ in range(count):
                    body = {
                        "name": "New race",
                        "slug": f"new-{uuid.uuid4().hex[:12]}",
                        "type": event_type,
                        "date": date,
                    }
                    headers = {"Authorization": f"Bearer {sb.api_key}"}
                    response = requests.post(f"{sb.url}/events", json=body, headers=headers, timeout=30)
                    response.raise_for_status()
                    ids.append(response.json()["data"]["eventId"])
            except BaseException as error:  # surfaced by join(), in the test's thread
                failures.append(error)

        threads.append(threading.Thread(target=work, daemon=True))
        threads[-1].start()
        return ids

    def join() -> None:
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    post.join = join
    yield post
    join()


# ----------------------------------------------------------------------------- a server of canned answers


class _CannedHandler(BaseHTTPRequestHandler):
    """Answers each request with the next scripted ``(status, body)``, then ``server.canned``.

    For the shapes the spec allows but the sandbox never sends (top-level error fields, a
    ``Retry-After`` header, non-JSON bodies); it records each request's path and headers.
    """

    protocol_version = "HTTP/1.1"

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        answer = self.server.script.pop(0) if self.server.script else self.server.canned
        status, body, *headers = answer
        self.server.hits += 1
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers[0].items() if headers else ():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def canned(make_conn):
    """A loopback server of canned answers; the default connection points at it, unpaced.

    ``server.canned = (status, body)`` answers every request; ``server.script`` (a list of
    ``(status, body[, headers])``) answers the next ones first. ``server.seen`` lists
    ``(method, path, headers)`` of every request; ``server.configure(**extra)`` redefines the
    connection's extras.
    """
    import json
    import threading
    import types

    server = ThreadingHTTPServer(("127.0.0.1", 0), _CannedHandler)
    server.canned, server.script, server.seen, server.hits = (200, b""), [], [], 0
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    conn = {
        "conn_type": "intervals",
        "host": "127.0.0.1",
        "port": server.server_address[1],
        "schema": "http",
        "password": "itv_canned",
        "extra": {"plan": "unknown"},
    }
    target = types.SimpleNamespace(connection_json=lambda key=None: json.dumps(conn))
    server.configure = lambda **extra: make_conn(target, **extra)
    server.configure(max_retries=1)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def conn(api, make_conn):
    """The default Intervals connection, pointing at the sandbox."""
    return make_conn(api)
