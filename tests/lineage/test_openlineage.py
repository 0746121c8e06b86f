"""OpenLineage for real: the OpenLineage provider's listener, a file transport, ``dag.test()`` runs.

Two DAGs run in a process of their own against the session's sandbox over HTTP:
``dags/lineage_check.py`` (a landing, a failed landing, a bulk load, the single writes) once,
and ``dags/lineage_windows.py`` (a daily DAG with a templated output path) for two windows.
The tests read the events the listener wrote and check each against the official OpenLineage
schemas (``spec.py``), each dataset name against openlineage-python's naming helpers, and each
facet and statistic against the sandbox's ground truth and the published manifests.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
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
from spec import registry, violations  # noqa: E402

from airflow_provider_intervals import lineage  # noqa: E402

# One worker runs the module (-n): its fixture runs the DAGs once for all of its tests.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("openlineage")]
EMAIL = "pat.lineage@runners.example"
WINDOW = lineage.WINDOW_FACET_KEY


@dataclass
class Emitted:
    """What the DAG runs emitted: the events in order, the runner's result lines, the paths used."""

    events: list[dict]
    results: str
    raw: str
    paths: dict
    days: list[str]
    event_id: str

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


def _names(datasets: list[dict]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def _local(path: Path) -> tuple[str, str]:
    """The (namespace, name) openlineage-python's naming helper gives a local path."""
    naming = LocalFileSystem(path=str(path))
    return naming.get_namespace(), naming.get_name()


def _window_days(store) -> list[str]:
    """Two days of June 2025 with events: the windows of ``lineage_windows``' two runs."""
    days = sorted(
        {event["date"] for event in store.iter_events(date_from="2025-06-01", date_to="2025-06-30")}
    )
    assert len(days) >= 2
    return [days[0], days[-1]]


def _event_with_registrations(store) -> str:
    return next(
        e["_id"] for e in store.iter_events() if sum(1 for _ in store.iter_registrations(e["_id"])) > 3
    )


@pytest.fixture(scope="module")
def emitted(sandbox, tmp_path_factory):
    """Run the DAGs with a file transport; return what they emitted (:class:`Emitted`)."""
    tmp = tmp_path_factory.mktemp("lineage")
    events, landing, results = tmp / "events.jsonl", tmp / "lake", tmp / "results.txt"
    season = tmp / "season.jsonl"
    rows = [
        {"name": f"Season race {i}", "slug": f"lineage-season-{i}", "type": "race", "date": f"2025-08-0{i}"}
        for i in range(1, 4)
    ]
    season.write_text("".join(json.dumps(row) + "\n" for row in rows))
    days = _window_days(sandbox.store)
    # A daily data interval: the run of day D + 1 covers day D.
    logical = [
        (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat() + "T00:00:00+00:00" for day in days
    ]
    event_id = _event_with_registrations(sandbox.store)
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
        "LINEAGE_RESULTS": str(results),
        "LINEAGE_OUTPUT": landing.as_uri(),
        "LINEAGE_INPUT": season.as_uri(),
        "LINEAGE_RUN_ID": seeded_runs(sandbox.store, 1)[0],
        "LINEAGE_EMAIL": EMAIL,
        "LINEAGE_WINDOWS": ",".join(logical),
        "LINEAGE_EVENT_ID": event_id,
    }
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_dag.py")], env=env, capture_output=True, text=True, timeout=300
    )
    problems = [line for line in proc.stdout.splitlines() if re.search(r"\[(error|warning)|Error\b", line)]
    said = results.read_text() if results.exists() else ""
    tail = said + "\n".join(problems[:40]) + "\n...\n" + proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "dag run state: failed\n" in said, tail  # lineage_check fails on purpose
    assert len(re.findall(r"^lineage_windows \S+: success$", said, re.M)) == 2, tail
    raw = events.read_text()
    paths = {"lake": landing, "season": season}
    return Emitted([json.loads(line) for line in raw.splitlines()], said, raw, paths, days, event_id)


def test_nothing_is_emitted_when_the_dag_files_are_parsed(emitted):
    assert "events after parse: 0\n" in emitted.results


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


TASKS = [
    *(f"lineage_check.{t}" for t in ("land_events", "land_missing_group", "bulk_events", "create_event")),
    *("lineage_check.register", "lineage_windows.land_events", "lineage_windows.land_registrations"),
]


@pytest.mark.parametrize("job", TASKS)
def test_start_names_the_inputs_and_outputs_the_end_of_the_run_names(emitted, job):
    runs = emitted.runs(job)
    assert runs
    for run in runs:
        start, end = run["START"], run.get("COMPLETE") or run["FAIL"]
        assert end["outputs"]  # something to compare
        assert _names(start["inputs"]) == _names(end["inputs"])
        assert _names(start["outputs"]) == _names(end["outputs"])
        # No statistics before the run: START knows names, schemas and the window only.
        for dataset in start["inputs"] + start["outputs"]:
            assert not {"inputStatistics", "outputStatistics"} & {
                *dataset.get("inputFacets", {}),
                *dataset.get("outputFacets", {}),
            }
        if WINDOW in end["outputs"][0].get("outputFacets", {}):
            assert start["outputs"][0]["outputFacets"][WINDOW] == end["outputs"][0]["outputFacets"][WINDOW]


@pytest.mark.parametrize(
    ("task_id", "target", "partition", "filtered"),
    [
        ("land_events", "events/type=all", "date_from={day}/date_to={day}", True),
        ("land_registrations", "registrations/event_id={event_id}", "snapshot={day}", False),
    ],
    ids=["events", "registrations-snapshot"],
)
def test_a_landing_names_one_output_across_two_windows_with_each_window_in_its_run(
    emitted, sandbox, task_id, target, partition, filtered
):
    runs = emitted.runs(f"lineage_windows.{task_id}")
    assert len(runs) == 2
    dataset = _local(emitted.paths["lake"] / target.format(event_id=emitted.event_id))
    for run, day in zip(runs, emitted.days, strict=True):
        for event in (run["START"], run["COMPLETE"]):  # START: templated path rendered, window from the run
            (output,) = event["outputs"]
            assert (output["namespace"], output["name"]) == dataset
            window = output["outputFacets"][WINDOW]
            assert (window["dateFrom"], window["dateTo"], window["filtered"]) == (day, day, filtered)
            assert window["partition"] == partition.format(day=day)
        published = run["COMPLETE"]["outputs"][0]
        manifest = Path(published["name"]) / published["outputFacets"][WINDOW]["partition"] / "_manifest.json"
        records = json.loads(manifest.read_text())["records"]
        assert published["outputFacets"]["outputStatistics"]["rowCount"] == records
        if filtered:
            assert records == sandbox.store.count_events(None, day, day) > 0
        else:
            assert records == sum(1 for _ in sandbox.store.iter_registrations(emitted.event_id)) > 3


def test_every_event_is_valid_against_the_official_openlineage_schemas(emitted):
    schemas = registry()
    found = {
        f"{e['eventType']} {e['job']['name']}: {v}" for e in emitted.events for v in violations(e, schemas)
    }
    assert sorted(found) == []
    checked = [o for e in emitted.events for o in e.get("outputs", []) if WINDOW in o.get("outputFacets", {})]
    # Ours too: START and end of lineage_check's two landings, of two landings in two windows.
    assert len(checked) == 2 * 2 + 2 * 2 * 2


BREAKS = {
    "run-id-not-a-uuid": lambda e: e["run"].update(runId="run-1"),
    "event-type-unknown": lambda e: e.update(eventType="DONE"),
    "dataset-without-name": lambda e: e["outputs"][0].pop("name"),
    "window-date-not-a-date": lambda e: e["outputs"][0]["outputFacets"][WINDOW].update(dateFrom="June 1st"),
    "window-partition-escapes": lambda e: e["outputs"][0]["outputFacets"][WINDOW].update(partition="../x"),
    "window-without-filtered": lambda e: e["outputs"][0]["outputFacets"][WINDOW].pop("filtered"),
    "window-under-another-key": lambda e: e["outputs"][0]["outputFacets"].update(
        intervalsWindow=e["outputs"][0]["outputFacets"].pop(WINDOW)
    ),
    "schema-url-without-pointer": lambda e: e["outputs"][0]["outputFacets"][WINDOW].update(
        _schemaURL=lineage.WINDOW_FACET_SCHEMA_URL.split("#")[0]
    ),
    "schema-url-unknown": lambda e: e["outputs"][0]["facets"]["schema"].update(
        _schemaURL="https://example.com/Schema.json#/$defs/Schema"
    ),
    "schema-fields-not-a-list": lambda e: e["outputs"][0]["facets"]["schema"].update(fields={"name": "x"}),
    "statistics-row-count-text": lambda e: e["outputs"][0]["outputFacets"]["outputStatistics"].update(
        rowCount="many"
    ),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_the_schema_check_finds_an_event_that_breaks_the_spec(emitted, name):
    event = copy.deepcopy(emitted.one("lineage_check.land_events", "COMPLETE"))
    schemas = registry()
    assert violations(event, schemas) == []
    BREAKS[name](event)
    assert violations(event, schemas)


def test_no_event_holds_the_api_key_or_personal_data(emitted, sandbox):
    assert emitted.raw  # the listener wrote events
    registrants = list(sandbox.store.iter_registrations(emitted.event_id))  # landed by lineage_windows
    personal = {EMAIL, "Pat Lineage"} | {r[k] for r in registrants for k in ("email", "name") if r.get(k)}
    assert len(personal) > len(registrants)
    for secret in (sandbox.api_key, *personal):
        assert secret not in emitted.raw
