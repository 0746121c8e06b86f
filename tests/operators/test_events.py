"""IntervalsEventsOperator in real Airflow runs (dag.test, metadata DB) against the sandbox."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from airflow import __version__ as airflow_version
from airflow.sdk import DAG, ObjectStoragePath
from packaging.version import Version

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow < 3.2 has it in core only
    from airflow.timetables.interval import CronDataIntervalTimetable
from helpers import files, retry_warnings, seed_failing_at, snapshot, task_context, unreachable_api, utc

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.storage import MANIFEST, SUCCESS, iter_records, read_manifest
from airflow_provider_intervals.windows import Window

AIRFLOW_VERSION = Version(airflow_version).release
MONTH = {"date_from": "2025-05-01", "date_to": "2025-06-30"}
YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def _dag(schedule=None, **op_kwargs):
    """A one-task DAG with a unique id (each test gets its own runs and task state)."""
    dag = DAG(f"land_{uuid.uuid4().hex[:8]}", schedule=schedule, start_date=utc(2015, 1, 1), catchup=False)
    with dag:
        IntervalsEventsOperator(task_id="land", **op_kwargs)
    return dag


def _landed(manifest_url, conn_id=None):
    """The window's prefix and every file under it."""
    prefix = ObjectStoragePath(manifest_url, conn_id=conn_id).parent
    return prefix, files(prefix)


def _expected(store, window, concurrency=DEFAULT_CONCURRENCY):
    """The window's events as a landing with ``concurrency`` lists them: sub-window by sub-window."""
    subs = Window(**window).sub_windows(concurrency)
    return [e for sub in subs for e in store.iter_events(**sub.__dict__)]


@pytest.mark.parametrize("concurrency", [1, 2], ids=["one-stream", "up-to-two-workers"])
def test_lands_the_window_record_for_record(api, make_conn, run_dag, landing_zone, concurrency):
    make_conn(api)
    output, conn_id = landing_zone
    dag = _dag(
        output_path=output, output_conn_id=conn_id, records_per_part=150, concurrency=concurrency, **MONTH
    )
    run = run_dag(dag, utc(2025, 7, 1))
    assert run.state == "success"
    summary = run.xcom("land")
    want = _expected(api.store, MONTH, concurrency)
    assert summary["records"] == len(want) > 150
    assert (summary["date_from"], summary["date_to"]) == (MONTH["date_from"], MONTH["date_to"])
    prefix, landed = _landed(summary["manifest"], conn_id)
    assert list(iter_records(prefix, verify=True)) == want
    manifest = read_manifest(prefix)
    assert landed == sorted([MANIFEST, SUCCESS, *(p["path"] for p in manifest["parts"])])
    assert "/events/type=all/date_from=2025-05-01/date_to=2025-06-30" in summary["prefix"]
    assert set(summary) == {
        "manifest",
        "prefix",
        "date_from",
        "date_to",
        "records",
        "parts",
        "requests",
        "resumed_parts",
        "deferrals",
    }
    assert summary["deferrals"] == 0


def test_rerun_produces_the_same_output_and_no_extra_parts(api, make_conn, run_dag, landing_zone):
    make_conn(api)
    output, conn_id = landing_zone
    dag = _dag(output_path=output, output_conn_id=conn_id, records_per_part=200, **MONTH)
    first = run_dag(dag, utc(2025, 7, 1)).xcom("land")
    before = read_manifest(ObjectStoragePath(first["manifest"], conn_id=conn_id))
    second = run_dag(dag, utc(2025, 7, 1)).xcom("land")
    prefix, landed = _landed(second["manifest"], conn_id)
    after = read_manifest(prefix)
    assert second["manifest"] == first["manifest"]
    assert after["write_id"] != before["write_id"]
    assert [p["sha256"] for p in after["parts"]] == [p["sha256"] for p in before["parts"]]
    assert landed == sorted([MANIFEST, SUCCESS, *(p["path"] for p in after["parts"])])
    assert list(iter_records(prefix)) == _expected(api.store, MONTH)


def test_a_landing_in_dag_test_talks_to_airflow_from_its_workers_only_for_the_checkpoint(
    api, make_conn, run_dag, landing_zone, monkeypatch
):
    """``dag.test()``'s comms are one deque without a lock: two threads talking at once swap answers.

    Worker threads so could lose a checkpoint (``cannot import name 'SUPERVISOR_COMMS'`` while
    another thread's request is handled). A worker's hook must be ready before its thread starts:
    its connection (whose password Airflow asks the supervisor to mask), its pacing store, its
    storage. From the threads come only the checkpoint's saves, one at a time.
    """
    import threading

    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    sent: list[tuple[str, str]] = []
    send = InProcessSupervisorComms.send

    def recorded(self, msg):
        sent.append((threading.current_thread().name, type(msg).__name__))
        return send(self, msg)

    monkeypatch.setattr(InProcessSupervisorComms, "send", recorded)
    make_conn(api)
    output, conn_id = landing_zone
    dag = _dag(output_path=output, output_conn_id=conn_id, records_per_part=100, concurrency=4, **MONTH)
    run = run_dag(dag, utc(2025, 7, 1))
    assert run.state == "success"
    main = threading.main_thread().name
    from_workers = {kind for thread, kind in sent if thread != main}
    assert {kind for thread, kind in sent if thread == main} >= {"MaskSecret", "SetXCom"}
    if AIRFLOW_VERSION >= (3, 3):  # the checkpoint is saved by the workers, part by part
        assert from_workers == {"SetTaskStateStore"}, sent
    else:  # no task_state_store: the workers send nothing
        assert from_workers == set(), sent
    prefix, _ = _landed(run.xcom("land")["manifest"], conn_id)
    assert list(iter_records(prefix, verify=True)) == _expected(api.store, MONTH, 4)


def test_a_wrong_key_rerun_over_a_published_window_leaves_the_prefix_exactly_as_it_was(
    api, make_conn, run_dag, landing_zone
):
    make_conn(api)
    output, conn_id = landing_zone
    dag = _dag(output_path=output, output_conn_id=conn_id, records_per_part=200, **MONTH)
    first = run_dag(dag, utc(2025, 7, 1))
    assert first.state == "success"
    prefix = ObjectStoragePath(first.xcom("land")["prefix"], conn_id=conn_id)
    before = snapshot(prefix)
    assert MANIFEST in before

    make_conn(api, key="itv_wrong_key")
    api.reset_stats()
    rerun = run_dag(dag, utc(2025, 7, 1))
    assert rerun.state == "failed"
    assert set(api.stats["by_status"]) == {401}  # the key was refused, nothing was read
    assert snapshot(prefix) == before  # every file byte for byte, and no new folder
    assert list(iter_records(prefix, verify=True)) == _expected(api.store, MONTH)


def test_crash_mid_window_then_retry_resumes_from_task_state_store(api, make_conn, run_dag, tmp_path):
    """Faults outlast the hook's retry budget after 5 pages; the task's retry resumes there.

    Airflow < 3.3 has no ``task_state_store``: there the retry starts the window over, as the
    docs say (docs/landing-layout.md), and still lands it whole.
    """
    resumable = AIRFLOW_VERSION >= (3, 3)
    make_conn(api, max_retries=0)
    crash_at = 5
    api.set_faults(error_rate=0.2, seed=seed_failing_at(crash_at))
    dag = _dag(
        output_path=f"file://{tmp_path}/lake",
        records_per_part=100,
        concurrency=1,
        retries=1,
        retry_delay=dt.timedelta(0),
        on_retry_callback=lambda context: api.set_faults(),
        **YEAR,
    )
    run = run_dag(dag, utc(2025, 7, 1))
    assert run.state == "success"
    assert run.ti("land").try_number == 2
    summary = run.xcom("land")
    full_pages = -(-api.store.count_events(**YEAR) // 100)
    resumed = crash_at if resumable else 0
    assert summary["resumed_parts"] == resumed
    assert summary["requests"] == full_pages - resumed  # the retry asked only for what was missing
    assert api.stats["requests"] == crash_at + 1 + summary["requests"]
    prefix, landed = _landed(summary["manifest"])
    manifest = read_manifest(prefix)
    assert manifest["api_requests"] == (full_pages if resumable else summary["requests"])
    assert landed == sorted([MANIFEST, SUCCESS, *(p["path"] for p in manifest["parts"])])
    assert list(iter_records(prefix, verify=True)) == list(api.store.iter_events(**YEAR))


# ----------------------------------------------------------------------------- the plan lookup

RETRIES = 3  # the connection's max_retries in these tests: one budget is 4 attempts


def _land_in_four(tmp_path) -> IntervalsEventsOperator:
    """Two months in eight sub-windows, up to four workers; the connection names no plan.

    A second worker starts only once the first has a paced answer: the plan lookup is over by
    then, so a failed one ends the landing before any other worker asks.
    """
    return IntervalsEventsOperator(
        task_id="land", output_path=f"file://{tmp_path}/lake", concurrency=4, **MONTH
    )


def test_a_refused_plan_lookup_spends_one_retry_budget_for_all_four_sub_windows(
    make_conn, tmp_path, fresh_pacing
):
    make_conn(unreachable_api(), max_retries=RETRIES)  # no plan extra: learned from GET /organization
    refused = pytest.raises(exc.IntervalsTransportError, match=r"^GET /organization failed: ConnectionError")
    with retry_warnings("GET /organization") as warnings, refused:
        _land_in_four(tmp_path).execute(task_context())
    assert len(warnings) == RETRIES  # one budget, not one per sub-window
    assert list(tmp_path.iterdir()) == []


def test_a_plan_lookup_answered_503_is_asked_one_retry_budget_in_all(api, make_conn, tmp_path, fresh_pacing):
    make_conn(api, plan=None, max_retries=RETRIES)
    api.fail_next(100, 503)
    with pytest.raises(exc.IntervalsServerError, match="503 SERVICE_UNAVAILABLE"):
        _land_in_four(tmp_path).execute(task_context())
    assert api.stats["by_status"] == {503: RETRIES + 1}  # one budget, then the others fail at once


def test_a_plan_lookup_that_recovers_is_made_once_and_every_sub_window_paces_to_it(
    api, make_conn, tmp_path, fresh_pacing
):
    from airflow_provider_intervals import pacing

    make_conn(api, plan=None, max_retries=RETRIES)
    api.fail_next(2, 503)
    summary = _land_in_four(tmp_path).execute(task_context())
    assert summary["records"] == api.store.count_events(**MONTH)
    assert api.stats["by_status"][503] == 2
    assert api.stats["requests"] == 2 + 1 + summary["requests"]  # 503, 503, the plan, the pages
    assert pacing.learned_rate(api.api_key) == (True, pacing.Rate.for_plan(api.plan))


# ----------------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("schedule", "logical_date", "templates", "window"),
    [
        (
            CronDataIntervalTimetable("@daily", timezone="UTC"),
            utc(2025, 6, 2),
            {},
            ("2025-06-01", "2025-06-01"),
        ),
        (
            CronDataIntervalTimetable("@weekly", timezone="UTC"),
            utc(2025, 6, 8),
            {},
            ("2025-06-01", "2025-06-07"),
        ),
        ("@daily", utc(2025, 6, 2), {}, ("2025-06-02", "2025-06-02")),  # start == end: the logical day
        (None, utc(2025, 6, 10), {}, ("2025-06-10", "2025-06-10")),
        (None, utc(2024, 3, 15), {}, ("2024-03-15", "2024-03-15")),  # backfill-like, before the data
        (
            None,
            utc(2025, 6, 10),
            {"date_from": "{{ macros.ds_add(ds, -6) }}", "date_to": "{{ ds }}"},
            ("2025-06-04", "2025-06-10"),
        ),
    ],
    ids=[
        "daily-data-interval",
        "weekly-data-interval",
        "daily-cron-trigger",
        "schedule-none",
        "backfill-date",
        "templated",
    ],
)
def test_window_follows_the_schedule_or_the_templates(
    api, make_conn, run_dag, tmp_path, schedule, logical_date, templates, window
):
    make_conn(api)
    dag = _dag(schedule, output_path=f"file://{tmp_path}/lake", **templates)
    run = run_dag(dag, logical_date)
    assert run.state == "success"
    summary = run.xcom("land")
    date_from, date_to = window
    assert (summary["date_from"], summary["date_to"]) == window
    assert f"/date_from={date_from}/date_to={date_to}" in summary["prefix"]
    assert summary["records"] == api.store.count_events(date_from=date_from, date_to=date_to)
    manifest = read_manifest(ObjectStoragePath(summary["manifest"]))
    assert manifest["window"] == {"date_from": date_from, "date_to": date_to}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"date_from": "{{ ds }}x"}, "Invalid date_from='2025-06-10x'"),
        ({"date_from": "2025-02-30"}, "Invalid date_from='2025-02-30'"),
        ({"date_from": "2025-06-11", "date_to": "{{ ds }}"}, "must be on or after date_from='2025-06-11'"),
        ({"event_type": "Race"}, "Invalid event_type='Race'"),
        ({"format": "csv"}, "Invalid format='csv'"),
        ({"records_per_part": "{{ params.n }}"}, "Invalid records_per_part='many'"),
        ({"concurrency": 50}, "Invalid concurrency=50"),
        ({"deferrable": True, "defer_after": "{{ params.n }}"}, "Invalid defer_after='many'"),
        ({"deferrable": True, "defer_after": -1}, "Invalid defer_after=-1: expected seconds from 0"),
        ({"deferrable": "yes"}, "Invalid deferrable='yes': expected True or False"),
    ],
    ids=[
        "date-suffix",
        "impossible-date",
        "from-after-to",
        "type-case",
        "format",
        "part-size",
        "concurrency",
        "defer-after-text",
        "defer-after-negative",
        "deferrable-text",
    ],
)
def test_bad_arguments_fail_before_any_request(api, make_conn, run_dag, tmp_path, arguments, message):
    make_conn(api)
    dag = DAG(f"bad_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2024, 1, 1), params={"n": "many"})
    with dag:
        IntervalsEventsOperator(task_id="land", output_path=f"file://{tmp_path}/lake", **arguments)
    run = run_dag(dag, utc(2025, 6, 10))
    assert run.state == "failed"
    assert api.stats["requests"] == 0
    assert not (tmp_path / "lake").exists()
    # The same message, as the task log shows it:
    task = dag.task_dict["land"]
    context = {"ds": "2025-06-10", "logical_date": utc(2025, 6, 10), "params": {"n": "many"}, "macros": None}
    task.render_template_fields(context)
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        task.execute(context)
    assert message in str(raised.value)
    assert api.stats["requests"] == 0


def test_empty_window_is_published_or_fails_by_option(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    allowed = run_dag(_dag(output_path=f"file://{tmp_path}/a"), utc(2020, 1, 1))
    assert allowed.state == "success"
    assert allowed.xcom("land")["records"] == 0
    refused = run_dag(_dag(output_path=f"file://{tmp_path}/b", allow_empty=False), utc(2020, 1, 1))
    assert refused.state == "failed"
    assert not list((tmp_path / "b").rglob(MANIFEST))


def test_declares_an_asset_and_records_the_window_in_its_event(api, make_conn, run_dag, tmp_path):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    make_conn(api)
    output = f"file://{tmp_path}/lake"
    dag = _dag(output_path=output, **MONTH)
    (asset,) = dag.task_dict["land"].outlets
    assert asset.uri == f"{output}/events"
    run = run_dag(dag, utc(2025, 7, 1))
    with create_session() as session:
        events = [e for e in session.query(AssetEvent).all() if e.source_dag_id == dag.dag_id]
    assert len(events) == 1
    assert events[0].extra["manifest"] == run.xcom("land")["manifest"]
    assert events[0].extra["records"] == api.store.count_events(**MONTH)
