"""The landing operators' workers sized to the round trip, in real Airflow runs against the sandbox.

The sandbox runs the enterprise plan on a 5x clock (1,000 requests per 12 s, burst 50) and adds
``latency`` to every request; 30 ms there is 150 ms on the real clock (the same rate x round
trip: 2.5 requests in flight). Requests in flight are counted where they arrive (the sandbox's
``peak_in_flight``), never timed.
"""

from __future__ import annotations

import uuid

import pytest
from airflow.sdk import DAG, ObjectStoragePath
from helpers import utc

from airflow_provider_intervals import pacing
from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY, workers_needed
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.storage import iter_records, read_manifest
from airflow_provider_intervals.windows import Window

ENTERPRISE_X5 = {"enterprise": (1000, 12.0, 50)}
LATENCY = 0.030
WINDOW = {"date_from": "2025-01-01", "date_to": "2025-04-30"}

pytestmark = pytest.mark.intervals_sandbox(rate_limits=ENTERPRISE_X5)


def _land(api, make_conn, run_dag, tmp_path, latency, **op_kwargs):
    """Land WINDOW with a full bucket on both sides; return the XCom, the manifest and the stats."""
    api.rate_limits = ENTERPRISE_X5  # every sandbox bucket full again
    pacing.forget()  # and the client's
    api.set_faults(latency=latency)
    api.reset_stats()
    make_conn(api, page_size=5)  # its extras pace to the sandbox's limit: 5,000/min, burst 50
    dag = DAG(f"inflight_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2025, 1, 1))
    with dag:
        IntervalsEventsOperator(
            task_id="land", output_path=f"file://{tmp_path}/{uuid.uuid4().hex[:6]}", **WINDOW, **op_kwargs
        )
    run = run_dag(dag, utc(2025, 5, 1))
    stats = api.stats
    api.set_faults()
    assert run.state == "success"
    summary = run.xcom("land")
    return summary, read_manifest(ObjectStoragePath(summary["manifest"]).parent), stats


def _parts(manifest):
    """The parts as the settings make them, without the write series' random id."""
    return [(p["path"].split("/", 1)[1], p["records"], p["sha256"]) for p in manifest["parts"]]


def test_a_slow_network_gets_more_requests_in_flight_and_the_same_output(
    api, make_conn, run_dag, tmp_path, fresh_pacing
):
    near_summary, near, near_stats = _land(api, make_conn, run_dag, tmp_path, latency=0.0)
    far_summary, far, far_stats = _land(api, make_conn, run_dag, tmp_path, latency=LATENCY)

    rate = ENTERPRISE_X5["enterprise"][0] / ENTERPRISE_X5["enterprise"][1]
    assert far_stats["peak_in_flight"] >= workers_needed(rate, LATENCY, DEFAULT_CONCURRENCY) >= 3
    assert far_stats["peak_in_flight"] > near_stats["peak_in_flight"]
    assert far_stats["peak_in_flight"] <= DEFAULT_CONCURRENCY
    # Every record once, sub-window by sub-window, whatever the workers did ...
    subs = Window(**WINDOW).sub_windows(DEFAULT_CONCURRENCY)
    want = [e for sub in subs for e in api.store.iter_events(**sub.__dict__)]
    for summary in (near_summary, far_summary):
        prefix = ObjectStoragePath(summary["manifest"]).parent
        assert list(iter_records(prefix, verify=True)) == want
        assert summary["requests"] > 50  # past the burst: the bucket paced the rest
    # ... and the same sub-windows and parts, byte for byte: the network sized the workers only.
    assert _parts(far) == _parts(near)
    assert {p.split("-")[1] for p, _, _ in _parts(far)} == {f"{i:03d}" for i in range(len(subs))}


@pytest.mark.intervals_sandbox(rate_limits=False)
def test_concurrency_bounds_the_workers_of_an_unpaced_key(api, make_conn, run_dag, tmp_path, fresh_pacing):
    # No limit: the connection says plan "unknown", so nothing caps the workers but concurrency.
    api.set_faults(latency=LATENCY)
    make_conn(api, page_size=5)
    dag = DAG(f"inflight_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2025, 1, 1))
    with dag:
        IntervalsEventsOperator(
            task_id="land", output_path=f"file://{tmp_path}/lake", concurrency=3, **WINDOW
        )
    run = run_dag(dag, utc(2025, 5, 1))
    assert run.state == "success"
    assert api.stats["peak_in_flight"] == 3
    assert run.xcom("land")["records"] == api.store.count_events(**WINDOW)
