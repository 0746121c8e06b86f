"""OpenLineage for real: the OpenLineage provider's listener, a file transport, ``dag.test()`` runs.

The DAG (``dags/lineage_check.py``: a landing, a failed landing, a bulk load, the single
writes) runs in a process of its own against the session's sandbox over HTTP; the tests read
the events the listener wrote and check each dataset name against openlineage-python's naming
helpers, and each facet and statistic against the sandbox's ground truth and the manifests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import seeded_runs

from airflow_provider_intervals import __version__
from airflow_provider_intervals.storage import formats
from airflow_provider_intervals.testing import FAST_RETRIES
from airflow_provider_intervals.validation import EVENT_FIELDS, REGISTRATION_FIELDS

HERE = Path(__file__).resolve().parent
pytest.importorskip("airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage")
from openlineage.client.naming.dataset import LocalFileSystem  # noqa: E402

from airflow_provider_intervals import lineage  # noqa: E402

pytestmark = pytest.mark.slow
EMAIL = "pat.lineage@runners.example"
WINDOW = lineage.WINDOW_FACET_KEY


@dataclass
class Emitted:
    """What the DAG runs emitted: the events in order, the runner's output, the paths used."""

    events: list[dict]
    stdout: str
    raw: str
    paths: dict

    def runs(self, job: str) -> list[dict[str, dict]]:
        """Return the job's task runs in order, each ``{eventType: event}``."""
        runs: dict[str, dict[str, dict]] = {}
        for event in self.events:
            if event["job"]["name"] == job:
                runs.setdefault(event["run"]["runId"], {})[event["eventType"]] = event
        return list(runs.values())

    def one(self, job: str, event_type: str) -> dict:
        """Return the job's single event of that type."""
        (run,) = self.runs(job)
        return run[event_type]


def _local(path: Path) -> tuple[str, str]:
    """The (namespace, name) openlineage-python's naming helper gives a local path."""
    naming = LocalFileSystem(path=str(path))
    return naming.get_namespace(), naming.get_name()


@pytest.fixture(scope="module")
def emitted(sandbox, tmp_path_factory):
    """Run the DAGs with a file transport; return what they emitted (:class:`Emitted`)."""
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
    raw = events.read_text()
    paths = {"lake": landing, "season": season}
    return Emitted([json.loads(line) for line in raw.splitlines()], proc.stdout, raw, paths)


def test_nothing_is_emitted_when_the_dag_file_is_parsed(emitted):
    assert "events after parse: 0" in emitted.stdout


def test_a_landing_names_the_api_listing_in_and_its_target_out(emitted, sandbox):
    event = emitted.one("lineage_check.land_events", "COMPLETE")
    (source,) = event["inputs"]
    (output,) = event["outputs"]
    assert (source["namespace"], source["name"]) == (sandbox.url, "/events?type=race")
    target = emitted.paths["lake"] / "events" / "type=race"
    assert (output["namespace"], output["name"]) == _local(target)
    window = output["outputFacets"][WINDOW]
    assert (window["dateFrom"], window["dateTo"], window["filtered"]) == ("2025-06-01", "2025-06-14", True)
    assert window["partition"] == "date_from=2025-06-01/date_to=2025-06-14"
    manifest = json.loads((Path(output["name"]) / window["partition"] / "_manifest.json").read_text())
    expected = sandbox.store.count_events("race", "2025-06-01", "2025-06-14")
    assert expected > 10  # several part files
    stats = output["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == expected == manifest["records"]
    assert stats["size"] == sum(part["bytes"] for part in manifest["parts"])
    assert stats["fileCount"] == len(manifest["parts"])
    assert source["inputFacets"] == {"inputStatistics": source["inputFacets"]["inputStatistics"]}
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == expected
    # Datasets carry static facets only: the window is the output's per-run facet.
    assert set(source["facets"]) == {"schema"}
    assert set(output["facets"]) == {"schema", "documentation"}
    for dataset in (source, output):
        fields = dataset["facets"]["schema"]["fields"]
        assert [f["name"] for f in fields] == [name for name, _ in formats.SCHEMAS["events"]]
        assert {"name": "date", "type": "date", "fields": []} in fields


def test_the_window_facet_points_at_its_schema_at_this_release_and_names_this_provider(emitted):
    event = emitted.one("lineage_check.land_events", "COMPLETE")
    window = event["outputs"][0]["outputFacets"][WINDOW]
    tag = f"https://raw.githubusercontent.com/intervals-run/airflow-provider-intervals/v{__version__}/"
    pointer = "#/$defs/IntervalsWindowOutputDatasetFacet"
    assert window["_schemaURL"] == f"{tag}docs/lineage/IntervalsWindowOutputDatasetFacet.json{pointer}"
    assert (
        window["_producer"]
        == f"https://github.com/intervals-run/airflow-provider-intervals/tree/v{__version__}"
    )
    for dataset in [*event["inputs"], *event["outputs"]]:  # every facet the provider built
        facets = {**dataset["facets"], **dataset.get("inputFacets", {}), **dataset.get("outputFacets", {})}
        assert {facet["_producer"] for facet in facets.values()} == {lineage.PRODUCER}


def test_a_failed_landing_names_what_it_read_and_meant_to_publish_without_statistics(emitted, sandbox):
    run = emitted.one("lineage_check.land_missing_group", "FAIL")
    (source,) = run["inputs"]
    (output,) = run["outputs"]
    assert (source["namespace"], source["name"]) == (sandbox.url, "/groups/no-such-group/events")
    target = emitted.paths["lake"] / "group_events" / "group=no-such-group" / "type=all"
    assert (output["namespace"], output["name"]) == _local(target)
    assert set(output["outputFacets"]) == {WINDOW}
    assert output["outputFacets"][WINDOW]["partition"] == "date_from=2025-06-01/date_to=2025-06-14"
    assert "inputStatistics" not in source.get("inputFacets", {})
    assert "errorMessage" in run["run"]["facets"]


def test_a_bulk_load_names_its_file_in_and_the_api_resource_and_results_out(emitted, sandbox):
    event = emitted.one("lineage_check.bulk_events", "COMPLETE")
    (source,) = event["inputs"]
    assert (source["namespace"], source["name"]) == _local(emitted.paths["season"])
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 3
    api_out, results = event["outputs"]
    assert (api_out["namespace"], api_out["name"]) == (sandbox.url, "/events")
    assert api_out["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert [f["name"] for f in api_out["facets"]["schema"]["fields"]] == list(EVENT_FIELDS)
    assert (results["namespace"], results["name"]) == _local(Path(f"{emitted.paths['season']}.results.jsonl"))
    assert Path(results["name"]).is_file()
    assert all(sandbox.store.slug_taken(f"lineage-season-{i}") for i in range(1, 4))


@pytest.mark.parametrize(
    ("task_id", "path", "fields"),
    [("create_event", "/events", EVENT_FIELDS), ("register", "/registration", REGISTRATION_FIELDS)],
    ids=["event", "registration"],
)
def test_a_single_write_names_the_api_resource_it_created_one_object_in(
    emitted, sandbox, task_id, path, fields
):
    event = emitted.one(f"lineage_check.{task_id}", "COMPLETE")
    assert event["inputs"] == []
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == (sandbox.url, path)
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 1
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == list(fields)


def test_no_event_holds_the_api_key_or_a_participants_personal_data(emitted, sandbox):
    assert emitted.raw  # the listener wrote events
    for secret in (sandbox.api_key, EMAIL, "Pat Lineage"):
        assert secret not in emitted.raw
