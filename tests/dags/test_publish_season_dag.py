"""The season-publishing DAG creates every event of a plan in object storage, once."""

from __future__ import annotations

import datetime as dt
import json

from dagfiles import load
from include.season import sample_plan, write_plan


def test_publishes_every_planned_event_once_and_a_rerun_creates_nothing(
    api, make_conn, run_dag, tmp_path, monkeypatch
):
    make_conn(api)
    plan = sample_plan(2026, count=8)
    monkeypatch.setenv("AIRFLOW_VAR_INTERVALS_SEASON_PLAN", f"file://{tmp_path}/season/plan.jsonl")
    write_plan(f"file://{tmp_path}/season/plan.jsonl", plan)
    module = load("intervals_publish_season")
    before = api.store.event_total()

    first = run_dag(module.dag, dt.datetime(2025, 12, 1, tzinfo=dt.UTC))
    assert first.state == "success"
    summary = first.xcom("create_season_events")
    assert (summary["rows"], summary["created"], summary["failed"]) == (8, 8, 0)
    assert api.store.event_total() == before + 8
    results = [json.loads(line) for line in (tmp_path / "season" / "plan.jsonl.results.jsonl").open()]
    created = {r["id"] for r in results if r.get("id")}
    assert len(created) == 8
    published = {e["slug"]: e for d in {p["date"] for p in plan}
                 for e in api.store.iter_events(date_from=d, date_to=d)}  # fmt: skip
    for row in plan:
        assert published[row["slug"]]["name"] == row["name"]
        assert published[row["slug"]]["_id"] in created

    again = run_dag(module.dag, dt.datetime(2025, 12, 2, tzinfo=dt.UTC))
    assert again.state == "success"
    assert again.xcom("create_season_events")["created"] == 0
    assert api.store.event_total() == before + 8
