"""Deferrable landings out of allowance mid-window: they defer, resume and publish the API's window once.

The sandbox runs the free plan's limit (100 requests a day, burst 20) on a clock 576 times
faster: 100 per 150 s, so one request per 1.5 s once the burst is spent, past the landings'
``defer_after`` of 1 s. A page is 8 events, so the two-month window (169 events) takes 22 pages:
more than a burst. ``dag.test()`` runs the trigger inline, in the task's own process; the test
without a ``task_state_store`` resumes each time in a new operator with a new token bucket, as
a new worker process would.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from airflow.sdk import DAG, ObjectStoragePath

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # an older task SDK: it lives in core
    from airflow.exceptions import TaskDeferred
from helpers import files, retry_warnings, task_context, utc

from airflow_provider_intervals import pacing
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.storage import MANIFEST, SUCCESS, iter_records, read_manifest
from airflow_provider_intervals.triggers.allowance import IntervalsAllowanceTrigger

FREE_SCALED = (100, 150.0, 20)
PAGE = 8
PART = 50
MONTH = {"date_from": "2025-05-01", "date_to": "2025-06-30"}
UNPACED = {"plan": "unknown", "requests_per_minute": None, "burst": None}

pytestmark = pytest.mark.intervals_sandbox(plan="free", rate_limits={"free": FREE_SCALED})


def _operator(tmp_path, **kwargs) -> IntervalsEventsOperator:
    kwargs = {"deferrable": True, "defer_after": 1, **kwargs}
    return IntervalsEventsOperator(
        task_id="land", output_path=f"file://{tmp_path}/lake", records_per_part=PART, concurrency=1,
        **MONTH, **kwargs,
    )  # fmt: skip


def _dag(tmp_path, **kwargs) -> DAG:
    dag = DAG(f"defer_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2015, 1, 1), catchup=False)
    with dag:
        _operator(tmp_path, **kwargs)
    return dag


def _pages(api) -> int:
    return -(-api.store.count_events(**MONTH) // PAGE)


def _check_window(api, summary) -> list[int]:
    """The landed window equals the API's, record for record, and its prefix holds nothing else."""
    prefix = ObjectStoragePath(summary["manifest"]).parent
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**MONTH))
    manifest = read_manifest(prefix)
    assert files(prefix) == sorted([MANIFEST, SUCCESS, *(p["path"] for p in manifest["parts"])])
    assert manifest["api_requests"] == _pages(api) == summary["requests"]
    return [p["records"] for p in manifest["parts"]]


@pytest.mark.parametrize("door", ["pacing", "429-retry-after"])
def test_out_of_allowance_mid_window_it_defers_resumes_and_publishes_the_window_once(
    api, make_conn, run_dag, tmp_path, fresh_pacing, door
):
    """Pacing: the hook's next slot is 1.5 s away, so nothing is sent and the landing defers.

    429: the hook does not pace (plan unknown), so the API answers 429 with ``retryAfter`` 1.5 s
    away: each deferral costs that one 429, and no page is fetched twice. A resume that comes
    late (Airflow 3.1's ``dag.test()`` starts the resumed try 1.3 s after the trigger fires) finds
    the next token under ``defer_after`` away after its first page: that 429 is waited for on the
    worker, as the hook logs, not deferred.
    """
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    make_conn(api, page_size=PAGE, **(UNPACED if door == "429-retry-after" else {}))
    dag = _dag(tmp_path)
    with retry_warnings("GET /events", then="; waiting for the API's retryAfter") as waited:
        run = run_dag(dag, utc(2025, 7, 1))
    assert run.state == "success"
    summary = run.xcom("land")
    assert summary["deferrals"] >= 1
    assert summary["records"] == api.store.count_events(**MONTH)
    sizes = _check_window(api, summary)
    assert any(size < PART for size in sizes[:-1])  # a part finished early, as the landing deferred
    refused = api.stats["by_status"].get(429, 0)
    # What the deferrals cost: one 429 each, and at most one more 429 waited for after a resume.
    assert refused == (0 if door == "pacing" else summary["deferrals"] + len(waited))
    assert len(waited) <= summary["deferrals"]
    assert api.stats["pages_served"] == _pages(api)  # no page fetched twice
    assert api.stats["requests"] == _pages(api) + refused
    with create_session() as session:
        events = [e for e in session.query(AssetEvent).all() if e.source_dag_id == dag.dag_id]
    assert [e.extra["manifest"] for e in events] == [summary["manifest"]]  # published once


@pytest.mark.parametrize(
    "arguments",
    [{"deferrable": False}, {"deferrable": True, "defer_after": 5}],
    ids=["not-deferrable", "waits-below-defer_after"],
)
def test_a_wait_on_the_worker_is_unchanged_without_deferrable_or_below_the_threshold(
    api, make_conn, run_dag, tmp_path, fresh_pacing, arguments
):
    make_conn(api, page_size=PAGE)
    run = run_dag(_dag(tmp_path, **arguments), utc(2025, 7, 1))
    assert run.state == "success"
    summary = run.xcom("land")
    assert summary["deferrals"] == 0
    assert [size for size in _check_window(api, summary)][:-1] == [PART] * (summary["parts"] - 1)
    assert api.stats["requests"] == _pages(api)


def test_without_a_task_state_store_the_checkpoint_rides_the_trigger_to_a_new_process(
    api, make_conn, tmp_path, fresh_pacing
):
    """As on Airflow < 3.3 (no ``task_state_store``): each resume is a new operator with a new bucket.

    The trigger is rebuilt from its serialized kwargs, as the triggerer does, and run; its event
    is handed to ``execute_complete``. A fresh bucket does not know the API's is empty, so a
    resume may draw one 429 before it defers again: at most one per deferral.
    """
    make_conn(api, page_size=PAGE)
    summary, triggers = _land_in_new_processes(api, tmp_path)
    carried = [len(t["resume"]["checkpoint"]["streams"]["000"]["parts"]) for t in triggers]
    assert summary["deferrals"] == len(carried) >= 1
    assert carried == sorted(carried)  # the checkpoint's parts grow from deferral to deferral
    assert carried[0] >= 1
    _check_window(api, summary)
    refused = api.stats["by_status"].get(429, 0)
    assert refused <= summary["deferrals"]
    assert api.stats["pages_served"] == _pages(api)  # no page fetched twice
    assert api.stats["requests"] == _pages(api) + refused


def test_a_resume_that_finds_the_allowance_spent_elsewhere_waits_longer_and_still_lands_the_window(
    api, make_conn, tmp_path, fresh_pacing
):
    """Another task with the key takes what came back while the landing waited: the resume's first
    request draws a 429 (injected, ``retryAfter`` 3 s away) and fetches nothing, so its deferral
    waits twice that, letting the allowance build up, instead of resuming for nothing again."""
    make_conn(api, page_size=PAGE)
    resumed_at = []

    def other_task(deferrals: int) -> None:
        if deferrals == 1:
            api.set_faults(rate_limit_burst=1, rate_limit_retry_ms=3000)
            resumed_at.append(time.time())

    summary, triggers = _land_in_new_processes(api, tmp_path, before_resume=other_task)
    assert [t["resume"]["idle"] for t in triggers] == [0, 1]  # the second resume lands the rest
    assert triggers[1]["moment"] > resumed_at[0] + 4.5  # twice the 3 s, not 3 s
    assert api.stats["by_status"][429] == 1
    _check_window(api, summary)
    assert api.stats["pages_served"] == _pages(api)  # no page fetched twice


def _land_in_new_processes(api, tmp_path, before_resume=None) -> tuple[dict, list[dict]]:
    """Land the window, each call in a new process (a new operator, a full token bucket), no task state.

    Each deferral's trigger is rebuilt from its serialized kwargs and run, as the triggerer does,
    and its event is handed to ``execute_complete``. Return the summary and each trigger's kwargs.
    """
    event, triggers = None, []
    for _ in range(20):
        pacing.forget()
        summary, deferred = _run_once(_operator(tmp_path), event)
        if deferred is None:
            return summary, triggers
        assert deferred.method_name == "execute_complete"
        path, kwargs = deferred.trigger.serialize()
        text = json.dumps(kwargs)  # primitives only
        assert path == "airflow_provider_intervals.triggers.allowance.IntervalsAllowanceTrigger"
        assert api.api_key not in text
        triggers.append(kwargs)
        event = asyncio.run(IntervalsAllowanceTrigger(**json.loads(text)).run().__anext__()).payload
        if before_resume is not None:
            before_resume(len(triggers))
    pytest.fail("no progress after 20 deferrals")


def _run_once(op, event) -> tuple[dict | None, TaskDeferred | None]:
    """Run the task's first call (no event) or its resume; return its summary, or how it deferred."""
    try:
        if event is None:
            return op.execute(task_context()), None
        return op.execute_complete(task_context(), event), None
    except TaskDeferred as deferred:
        return None, deferred
