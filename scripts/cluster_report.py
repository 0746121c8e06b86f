"""The cluster check's verdict: every window against the API and the warehouse, who ran what, the summary.

See ``scripts/cluster.py`` for the run it judges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cluster_live import NEW, ledger
from cluster_services import WORKERS


def verify(report: dict[str, Any], pg: int) -> list[str]:
    """Compare every window with the API and the warehouse, and say who ran what; return the problems."""
    import psycopg2
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.storage import iter_records

    problems = []
    hook = IntervalsHook()
    loaded = ledger(pg)
    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="warehouse") as con,
        con.cursor() as cur,
    ):
        for w in report["windows"]:
            landed = list(iter_records(ObjectStoragePath(w["manifest"])))
            api_events = list(hook.iter_events(date_from=w["date_from"], date_to=w["date_to"]))
            cur.execute(
                "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM intervals_events"
                " WHERE date BETWEEN %s AND %s",
                (w["date_from"], w["date_to"]),
            )
            rows, distinct = cur.fetchone()
            w.update(
                landed=len(landed),
                api=len(api_events),
                warehouse=rows,
                equal=landed == api_events,
                in_ledger=loaded.get(w["prefix"]) is not None,
            )
            if not (w["equal"] and rows == distinct == len(landed) and w["in_ledger"]):
                problems.append(
                    f"window {w['date_from']} .. {w['date_to']}: landed {len(landed)}, API "
                    f"{len(api_events)}, equal {w['equal']}, warehouse {rows} ({distinct} distinct)"
                )
    hook.close()
    hosts = {t["hostname"] for t in report["tasks"]}
    if not hosts <= set(WORKERS):
        problems.append(f"tasks ran on {sorted(hosts)}, expected only {list(WORKERS)}")
    if not set(WORKERS) <= hosts:
        problems.append(f"only {sorted(hosts)} ran tasks: both workers should have")
    sensor = [t for t in report["tasks"] if t["task_id"] == "wait_for_new_events"]
    if not (report["sensor"]["triggerer"] or "").startswith("triggerer (TriggererJob"):
        problems.append(f"the sensor's trigger ran on {report['sensor']['triggerer']}, not the triggerer")
    if [(t["state"], t["try_number"]) for t in sensor] != [("success", 1)]:
        problems.append(f"the sensor did not complete in its first try: {sensor}")
    new_window = [w for w in report["windows"] if w["dag_id"] == NEW]
    if [(w["date_from"], w["date_to"]) for w in new_window] != [(report["sensor"]["day"],) * 2]:
        problems.append(f"the sensor's window {new_window} is not the posted events' day")
    return problems


def summary(report: dict[str, Any], problems: list[str], left: list[str], seconds: float, work: Path) -> str:
    """Return the printed summary (the cluster test reads it)."""
    lines = [
        "",
        "=== Distributed check: CeleryExecutor, PostgreSQL metadata DB and warehouse, Redis broker, "
        "SeaweedFS S3 ===",
        "Components: api-server, scheduler, dag-processor, triggerer, worker1, worker2 "
        "(+ postgres, redis, seaweedfs, sandbox), each in its own session and folder",
        "Runs:",
    ]
    by_run: dict[tuple[str, str, str], list[str]] = {}
    for t in report["tasks"]:
        by_run.setdefault((t["dag_id"], t["run_id"], t["run"]), []).append(
            f"{t['task_id']}@{t['hostname']} {t['state']}"
        )
    for (dag_id, run_id, described), tis in by_run.items():
        load = next((x for x in report["loads"] if x["run_id"] == run_id), None)
        extra = (
            f"  consumed {load['consumed']} asset event(s), loaded {load['loaded'] or 'nothing new'}"
            if load
            else ""
        )
        lines.append(f"  {dag_id:<25} {described:<34} {', '.join(tis)}{extra}")
    lines.append("Windows (S3, s3://lake/intervals) vs the API and the warehouse (PostgreSQL):")
    for w in report["windows"]:
        lines.append(
            f"  {w['date_from']} .. {w['date_to']} ({w['kind']:<10}): landed {w['landed']:>3} records, "
            f"API {w['api']:>3}, {'equal' if w['equal'] else 'DIFFERENT'}; warehouse {w['warehouse']:>3} rows"
            f"{'' if w['in_ledger'] else ', NOT IN THE LEDGER'}"
        )
    consumed = sum(x["consumed"] for x in report["loads"])
    lines.append(
        f"Asset intervals_landed_events: {report['asset_events']} event(s) recorded, {consumed} consumed by "
        f"{len(report['loads'])} load run(s); the loads reconcile, so every window is loaded"
    )
    for worker in WORKERS:
        ran = [
            f"{t['dag_id'].removeprefix('intervals_')}.{t['task_id']}"
            for t in report["tasks"]
            if t["hostname"] == worker
        ]
        lines.append(f"Worker {worker}: {len(ran)} task(s): {', '.join(ran)}")
    s = report["sensor"]
    lines.append(
        f"Sensor: wait_for_new_events deferred on {s['triggerer']}, completed when {len(s['posted'])} new "
        f"races dated {s['day']} were published; its window landed and loaded"
    )
    lines.append(f"Processes left after stopping: {len(left)}" + "".join(f"\n    {p}" for p in left))
    verdict = "OK" if not problems and not left else "FAILED"
    equal = sum(w["equal"] for w in report["windows"])
    lines.append(
        f"Result: {verdict}: {equal}/{len(report['windows'])} windows equal to the API and loaded, "
        f"{len(by_run)} runs, in {seconds:.0f}s" + "".join(f"\n  problem: {p}" for p in problems)
    )
    if verdict != "OK":
        lines.append(f"Logs: {work / 'logs'} and {work}/*/logs")
    return "\n".join(lines)
