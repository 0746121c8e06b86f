"""OpenLineage for real: the OpenLineage provider's listener, a file transport, a ``dag.test()`` run.

The DAG (``dags/lineage_check.py``) runs in a process of its own against the session's
sandbox over HTTP; the test reads the events the listener wrote and checks each dataset,
facet and statistic against the sandbox's ground truth and the published manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import seeded_runs

from airflow_provider_intervals.storage import formats
from airflow_provider_intervals.testing import FAST_RETRIES
from airflow_provider_intervals.validation import EVENT_FIELDS, REGISTRATION_FIELDS

HERE = Path(__file__).resolve().parent
pytest.importorskip("airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage")
pytestmark = pytest.mark.slow
EMAIL = "pat.lineage@runners.example"


@pytest.fixture(scope="module")
def emitted(sandbox, tmp_path_factory):
    """Run the DAG once with a file transport; return (events by job and type, run output, paths)."""
    tmp = tmp_path_factory.mktemp("lineage")
    events, landing = tmp / "events.jsonl", tmp / "lake"
    season = tmp / "season.jsonl"
    rows = [
        {"name": f"Season race {i}", "slug": f"lineage-season-{i}", "type": "race", "date": f"2025-08-0{i}"}
        for i in range(1, 4)
    ]
    season.write_text("".join(json.dumps(row) + "\n" for row in rows))
    conn = json.loads(sandbox.connection_json())
    conn["extra"] = {**conn.get("extra", {}), **FAST_RETRIES}
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_INTERVALS_DEFAULT": json.dumps(conn),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "intervals-lineage-test",
        "LINEAGE_EVENTS": str(events),
        "LINEAGE_OUTPUT": landing.as_uri(),
        "LINEAGE_INPUT": season.as_uri(),
        "LINEAGE_RUN_ID": seeded_runs(sandbox.store, 1)[0],
        "LINEAGE_EMAIL": EMAIL,
    }
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_dag.py")], env=env, capture_output=True, text=True, timeout=300
    )
    assert "dag run state: failed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-5000:]
    by_job: dict[tuple[str, str], dict] = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        by_job[(event["job"]["name"], event["eventType"])] = event
    return by_job, proc.stdout, events.read_text(), {"lake": landing, "season": season}


def test_nothing_is_emitted_when_the_dag_file_is_parsed(emitted):
    _, stdout, _, _ = emitted
    assert "events after parse: 0" in stdout


def test_a_landing_names_the_api_listing_in_and_the_landed_window_out(emitted, sandbox):
    by_job, _, _, paths = emitted
    event = by_job[("lineage_check.land_events", "COMPLETE")]
    (source,) = event["inputs"]
    (output,) = event["outputs"]
    assert (source["namespace"], source["name"]) == (sandbox.url, "/events?type=race")
    prefix = paths["lake"] / "events" / "type=race" / "date_from=2025-06-01" / "date_to=2025-06-14"
    assert (output["namespace"], output["name"]) == ("file", str(prefix))
    manifest = json.loads((prefix / "_manifest.json").read_text())
    expected = sandbox.store.count_events("race", "2025-06-01", "2025-06-14")
    assert expected > 10  # several part files
    stats = output["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == expected == manifest["records"]
    assert stats["size"] == sum(part["bytes"] for part in manifest["parts"])
    assert stats["fileCount"] == len(manifest["parts"])
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == expected
    for dataset in (source, output):
        fields = dataset["facets"]["schema"]["fields"]
        assert [f["name"] for f in fields] == [name for name, _ in formats.SCHEMAS["events"]]
        assert {"name": "date", "type": "date", "fields": []} in fields
        window = dataset["facets"]["intervalsWindow"]
        assert (window["dateFrom"], window["dateTo"]) == ("2025-06-01", "2025-06-14")
        assert window["filtered"] is True
        assert window["_schemaURL"].endswith("IntervalsWindowDatasetFacet.json")


def test_a_failed_landing_names_what_it_read_and_meant_to_publish_without_statistics(emitted, sandbox):
    by_job, _, _, paths = emitted
    event = by_job[("lineage_check.land_missing_group", "FAIL")]
    (source,) = event["inputs"]
    (output,) = event["outputs"]
    assert (source["namespace"], source["name"]) == (sandbox.url, "/groups/no-such-group/events")
    assert output["name"].startswith(str(paths["lake"] / "group_events" / "group=no-such-group"))
    assert "outputStatistics" not in output.get("outputFacets", {})
    assert "errorMessage" in event["run"]["facets"]


def test_a_bulk_load_names_its_file_in_and_the_api_resource_and_results_out(emitted, sandbox):
    by_job, _, _, paths = emitted
    event = by_job[("lineage_check.bulk_events", "COMPLETE")]
    (source,) = event["inputs"]
    assert (source["namespace"], source["name"]) == ("file", str(paths["season"]))
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 3
    api_out, results = event["outputs"]
    assert (api_out["namespace"], api_out["name"]) == (sandbox.url, "/events")
    assert api_out["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert [f["name"] for f in api_out["facets"]["schema"]["fields"]] == list(EVENT_FIELDS)
    assert (results["namespace"], results["name"]) == ("file", f"{paths['season']}.results.jsonl")
    assert all(sandbox.store.slug_taken(f"lineage-season-{i}") for i in range(1, 4))


@pytest.mark.parametrize(
    ("task_id", "path", "fields"),
    [("create_event", "/events", EVENT_FIELDS), ("register", "/registration", REGISTRATION_FIELDS)],
    ids=["event", "registration"],
)
def test_a_single_write_names_the_api_resource_it_created_one_object_in(
    emitted, sandbox, task_id, path, fields
):
    by_job, _, _, _ = emitted
    event = by_job[(f"lineage_check.{task_id}", "COMPLETE")]
    assert event["inputs"] == []
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == (sandbox.url, path)
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 1
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == list(fields)


def test_no_event_holds_the_api_key_or_a_participants_personal_data(emitted, sandbox):
    _, _, raw, _ = emitted
    assert raw  # the listener wrote events
    for secret in (sandbox.api_key, EMAIL, "Pat Lineage"):
        assert secret not in raw
