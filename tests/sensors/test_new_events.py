"""IntervalsNewEventsSensor and its triggers against the sandbox, in real Airflow runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import subprocess
import sys
import textwrap
import uuid

import pytest
from helpers import AssetStates

from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor
from airflow_provider_intervals.triggers.new_events import (
    IntervalsNewEventsTrigger,
)

WINDOW = {"date_from": "2025-04-01", "date_to": "2025-04-30"}


def sensor_dag(dag_id: str, **sensor_kwargs):
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), catchup=False) as dag:
        IntervalsNewEventsSensor(task_id="wait", **{"poke_interval": 0.2, "timeout": 20, **sensor_kwargs})
    return dag


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_new_events_posted_while_waiting_are_detected_once(run_dag, api, conn, deferrable, post_events):
    dag = sensor_dag(f"new_events_{deferrable}_{uuid.uuid4().hex[:6]}", deferrable=deferrable, **WINDOW)
    posted = post_events(api, 3)
    first = run_dag(dag)
    post_events.join()
    assert first.state == "success"
    summary = first.xcom("wait")
    # A poll may fall between the three POSTs on a loaded machine: the run then reports the
    # first of them, and the next run the rest. Either way each is reported exactly once.
    seen = summary["new_event_ids"]
    assert seen
    assert set(seen) <= set(posted)
    assert summary["new_event_count"] == len(seen)
    assert (summary["date_from"], summary["date_to"], summary["by_type"]) == (
        "2025-04-15",
        "2025-04-15",
        {"race": len(seen)},
    )

    # The next runs report only what is newer: nothing twice (two POSTs may again be split).
    later = post_events(api, 2)  # fills as the POSTs complete
    unseen = [i for i in posted if i not in seen]
    reported: list[str] = []
    for _ in range(3):
        reported += run_dag(dag).xcom("wait")["new_event_ids"]
        post_events.join()
        if len(reported) >= len(unseen) + 2:
            break
    assert sorted(reported) == sorted(unseen + later)


def test_nothing_new_times_out_softly_and_reports_nothing_twice(run_dag, api, conn, post_events):
    dag = sensor_dag(f"quiet_{uuid.uuid4().hex[:6]}", timeout=1.5, soft_fail=True, **WINDOW)
    post_events(api, 1)
    assert run_dag(dag).state == "success"
    post_events.join()
    again = run_dag(dag)  # nothing new since: the sensor must not report the same event again
    assert again.ti("wait").state == "skipped"


def test_events_outside_filters_are_not_new(run_dag, api, conn, post_events):
    dag = sensor_dag(
        f"filters_{uuid.uuid4().hex[:6]}", event_type="runClub", timeout=2, soft_fail=True, **WINDOW
    )
    post_events(api, 2, event_type="race")  # wrong type
    result = run_dag(dag)
    post_events.join()
    assert result.ti("wait").state == "skipped"


def test_first_run_all_reports_existing_events(run_dag, api, conn):
    dag = sensor_dag(
        f"all_{uuid.uuid4().hex[:6]}", first_run="all", date_from="2025-02-01", date_to="2025-02-03"
    )
    result = run_dag(dag)
    want = [e["_id"] for e in api.store.iter_events(date_from="2025-02-01", date_to="2025-02-03")]
    assert result.xcom("wait")["new_event_count"] == len(want) > 0
    assert result.xcom("wait")["new_event_ids"] == want[:100]


def test_known_event_ids_replace_the_baseline(run_dag, api, conn):
    listed = [e["_id"] for e in api.store.iter_events(date_from="2025-03-01", date_to="2025-03-02")]
    dag = sensor_dag(
        f"known_{uuid.uuid4().hex[:6]}",
        known_event_ids=listed[1:],
        date_from="2025-03-01",
        date_to="2025-03-02",
    )
    assert run_dag(dag).xcom("wait")["new_event_ids"] == listed[:1]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_429_storm_delays_but_does_not_fail(run_dag, api, conn, deferrable, post_events):
    dag = sensor_dag(f"storm_{deferrable}_{uuid.uuid4().hex[:6]}", deferrable=deferrable, **WINDOW)
    run_dag(sensor_dag(dag.dag_id, timeout=0.5, soft_fail=True, **WINDOW))  # take the baseline
    posted = post_events(api, 1, wait=False)
    post_events.join()
    api.set_faults(rate_limit_burst=12)
    result = run_dag(dag)
    assert result.state == "success"
    assert result.xcom("wait")["new_event_ids"] == posted
    assert api.stats["by_status"].get(429, 0) >= 12


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_missing_scope_fails_at_once(run_dag, api, make_conn, deferrable):
    api.add_key("no-events-scope", scopes={"read:series"}, plan="enterprise")
    make_conn(api, key="no-events-scope")
    dag = sensor_dag(f"forbidden_{deferrable}_{uuid.uuid4().hex[:6]}", deferrable=deferrable, timeout=60)
    result = run_dag(dag)
    assert result.ti("wait").state == "failed"
    assert api.stats["by_status"] == {403: 1}  # one request: no retry, no polling on


class _NoAssetStateSensor(IntervalsNewEventsSensor):
    """The sensor as it runs on Airflow < 3.3, whose context has no asset_state_store."""

    def execute(self, context):
        context.pop("asset_state_store", None)
        return super().execute(context)

    def execute_complete(self, context, event):
        context.pop("asset_state_store", None)
        return super().execute_complete(context, event)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_without_asset_state_store_the_baseline_lives_in_a_variable(
    run_dag, api, conn, deferrable, post_events
):
    from airflow.models.variable import Variable as VariableModel
    from airflow.sdk import DAG

    from airflow_provider_intervals import watermark

    dag_id = f"variable_{deferrable}_{uuid.uuid4().hex[:6]}"
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) as dag:
        _NoAssetStateSensor(task_id="wait", poke_interval=0.2, timeout=20, deferrable=deferrable, **WINDOW)
    posted = post_events(api, 1)
    result = run_dag(dag)
    post_events.join()
    assert result.xcom("wait")["new_event_ids"] == posted
    key = watermark.feed_key("intervals_default", {"event_type": None, **WINDOW})
    stored = json.loads(VariableModel.get(key))
    assert stored == {"established": True, "watermark": posted[-1], "date_from": WINDOW["date_from"]}


def test_bad_filters_fail_before_any_request(run_dag, api, conn):
    dag = sensor_dag(f"bad_{uuid.uuid4().hex[:6]}", date_from="2025-13-01")
    assert run_dag(dag).ti("wait").state == "failed"
    assert api.stats["requests"] == 0


@pytest.mark.slow  # a second Python process that imports Airflow and runs the DAG: about 10 s
def test_baseline_survives_a_new_process(run_dag, api, conn, tmp_path, post_events):
    """Take the baseline here; a separate Python process (same metadata DB) reports only newer events."""
    dag_id = f"durable_{uuid.uuid4().hex[:6]}"
    run_dag(sensor_dag(dag_id, timeout=0.5, soft_fail=True, **WINDOW))  # baseline only
    posted = post_events(api, 2, wait=False)
    post_events.join()
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import datetime as dt, json, os, sys
            sys.path.insert(0, {str(tmp_path.parent)!r})
            from airflow.sdk import DAG
            try:
                from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
            except ImportError:  # Airflow < 3.2
                from airflow.models.dagbag import DagBag, sync_bag_to_db
            from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor
            with DAG({dag_id!r}, schedule=None, start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) as dag:
                IntervalsNewEventsSensor(task_id="wait", poke_interval=0.2, timeout=20, **{WINDOW!r})
            bag = DagBag(dag_folder=os.devnull, collect_dags=False)
            bag.bag_dag(dag)
            sync_bag_to_db(bag, "dags-folder", None)
            run = dag.test()
            from airflow.models.xcom import XComModel
            from airflow.utils.session import create_session
            q = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="wait", key="return_value")
            with create_session() as s:
                print("RESULT" + json.dumps(XComModel.deserialize_value(s.scalars(q).first())))
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    assert sorted(json.loads(line[6:])["new_event_ids"]) == sorted(posted)


# ----------------------------------------------------------------------------- triggers


def test_a_quiet_poll_costs_one_request_in_both_modes(api, conn):
    """The rate-limit budget: with a baseline and nothing new, each poll is a single request."""
    from airflow_provider_intervals import watermark
    from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook

    last = [e["_id"] for e in api.store.iter_events(**WINDOW)][-1]
    baseline = watermark.Baseline(established=True, watermark=last)
    sensor = IntervalsNewEventsSensor(task_id="quiet", **WINDOW)
    api.reset_stats()
    assert sensor._poll(baseline).count == 0
    assert api.stats["requests"] == 1

    trigger = IntervalsNewEventsTrigger("intervals_default", watermark.check_filters(None, **WINDOW))
    api.reset_stats()
    scan = asyncio.run(trigger.poll(IntervalsAsyncHook("intervals_default"), baseline))
    assert scan.count == 0
    assert api.stats["requests"] == 1


def _pages(api, **filters) -> int:
    return max(1, math.ceil(sum(1 for _ in api.store.iter_events(**filters)) / 100))


def test_a_date_from_that_moves_forward_keeps_the_feeds_baseline(api, conn, capsys):
    """``date_from="{{ ds }}"``: the first run lists what lies ahead once; later runs poll once.

    The task log (Airflow's structured logger, on stdout here) says up front what the listing costs.
    """
    context = {"asset_state_store": AssetStates()}
    api.reset_stats()
    assert not IntervalsNewEventsSensor(task_id="w", date_from="2025-04-10").poke(context).is_done
    assert api.stats["requests"] == _pages(api, date_from="2025-04-10")  # the baseline, listed once
    log = capsys.readouterr().out
    assert "Taking this feed's baseline" in log
    assert "one request per 100 events" in log

    later = IntervalsNewEventsSensor(task_id="w", date_from="2025-04-12")  # the next day's run
    api.reset_stats()
    assert not later.poke(context).is_done
    assert api.stats["requests"] == 1  # the watermark holds for a later date_from
    tag = uuid.uuid4().hex[:8]
    behind = api.store.create_event({"name": "B", "slug": f"b-{tag}", "type": "race", "date": "2025-04-11"})
    ahead = api.store.create_event({"name": "A", "slug": f"a-{tag}", "type": "race", "date": "2025-04-20"})
    found = later.poke(context)
    assert found.is_done
    assert found.xcom_value["new_event_ids"] == [ahead]  # not the one dated before date_from
    assert behind not in found.xcom_value["new_event_ids"]

    back = IntervalsNewEventsSensor(task_id="w", date_from="2025-04-01")  # the bound moved back
    api.reset_stats()
    assert not back.poke(context).is_done  # a new baseline: old events are not reported as new
    assert api.stats["requests"] == _pages(api, date_from="2025-04-01")
    assert "lies before it, so a new baseline is taken" in capsys.readouterr().out


def test_the_baseline_listing_is_paced_with_the_key(api, make_conn):
    from airflow_provider_intervals import pacing

    make_conn(api, requests_per_minute=6000, burst=2)  # 100/s: every page after the first waits
    pacing.forget()
    try:
        sensor = IntervalsNewEventsSensor(task_id="w", date_from="2025-06-01")
        assert not sensor.poke({"asset_state_store": AssetStates()}).is_done
        (bucket,) = pacing.registry._BUCKETS.values()
    finally:
        pacing.forget()
    assert bucket.reserved == _pages(api, date_from="2025-06-01") == api.stats["requests"]
    assert bucket.waited > 0
