"""Dataset names and facets of :mod:`airflow_provider_intervals.lineage` the DAG run does not cover."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage")

import attrs
from airflow.sdk import ObjectStoragePath
from openlineage.client.generated.base import OutputDatasetFacet
from openlineage.client.naming.dataset import GCS, S3, LocalFileSystem, RemoteFileSystem

from airflow_provider_intervals import __version__, api, lineage

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("base_url", "request_", "expected"),
    [
        ("https://api.intervals.run", api.events_request(), ("https://api.intervals.run", "/events")),
        (
            "https://api.intervals.run",
            api.events_request(event_type="race", date_from="2025-06-01", date_to="2025-06-30", after="e1"),
            ("https://api.intervals.run", "/events?type=race"),
        ),
        (
            "https://gw.example.com:8443/v1/partner/",
            api.registrations_request("e72tuv901wxy234", limit=100),
            ("https://gw.example.com:8443", "/v1/partner/registration?eventId=e72tuv901wxy234"),
        ),
        (
            "https://user:secret@api.intervals.run",
            api.recurrences_request(status="active"),
            ("https://api.intervals.run", "/recurrences?status=active"),
        ),
        (
            "https://api.intervals.run",
            api.group_events_request("lakefront", event_type="runClub", date_from="2025-01-01"),
            ("https://api.intervals.run", "/groups/lakefront/events?type=runClub"),
        ),
    ],
    ids=["plain", "window-and-cursor-left-out", "path-prefix-and-port", "no-userinfo", "group-events"],
)
def test_an_api_dataset_is_named_by_host_path_and_filters_other_than_the_window(base_url, request_, expected):
    assert lineage.api_dataset_name(base_url, request_) == expected


def _naming(helper) -> tuple[str, str]:
    return helper.get_namespace(), helper.get_name()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///data/lake/events/type=all", LocalFileSystem(path="/data/lake/events/type=all")),
        ("file:///data/lake/events/", LocalFileSystem(path="/data/lake/events")),
        ("file://localhost/data/lake", LocalFileSystem(path="/data/lake")),
        ("file://nas/data/lake", RemoteFileSystem(host="nas", path="/data/lake")),
        (
            "s3://lake/intervals/events/type=all",
            S3(bucket_name="lake", object_key="intervals/events/type=all"),
        ),
        ("s3://aws_lake@lake/intervals/events", S3(bucket_name="lake", object_key="intervals/events")),
        ("s3a://lake/intervals/events", S3(bucket_name="lake", object_key="intervals/events")),
        ("gcs://lake/intervals/events", GCS(bucket_name="lake", object_key="intervals/events")),
        ("gs://lake/intervals/events", GCS(bucket_name="lake", object_key="intervals/events")),
    ],
    ids=[
        "file",
        "file-trailing-slash",
        "file-localhost",
        "file-remote",
        "s3",
        "s3-without-the-conn-id",
        "s3a",
        "gcs",
        "gs",
    ],
)
def test_a_storage_dataset_follows_openlineage_naming(url, expected):
    assert lineage.storage_dataset_name(url) == _naming(expected)


def test_a_storage_dataset_is_named_from_an_object_storage_paths_text_without_its_conn_id(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_LAKE", '{"conn_type": "aws"}')
    path = ObjectStoragePath("s3://lake/intervals/events", conn_id="aws_lake")
    assert str(path).startswith("s3://aws_lake@")  # the conn id rides along in the text
    assert lineage.storage_dataset_name(str(path)) == _naming(
        S3(bucket_name="lake", object_key="intervals/events")
    )


def test_a_write_without_a_known_count_carries_no_statistics():
    inputs, outputs = lineage.write_datasets(
        "https://api.intervals.run", api.Request("POST", "/events"), ("name", "slug"), created=None
    )
    assert inputs == []
    (output,) = outputs
    assert (output.namespace, output.name) == ("https://api.intervals.run", "/events")
    assert output.outputFacets == {}
    assert [f.name for f in output.facets["schema"].fields] == ["name", "slug"]


@dataclass
class Landed:
    records: int = 42
    bytes: int = 1234
    parts: int = 3


@pytest.mark.parametrize("landed", [None, Landed()], ids=["start-or-failed", "published"])
def test_a_landing_puts_the_window_on_its_output_as_an_output_facet_and_only_schema_on_its_input(landed):
    window = lineage.window_facet(
        "2025-06-01", "2025-06-07", filtered=True, partition="date_from=2025-06-01/date_to=2025-06-07"
    )
    inputs, outputs = lineage.landing_datasets(
        "https://api.intervals.run",
        api.events_request(event_type="race", date_from="2025-06-01", date_to="2025-06-07"),
        "s3://lake/intervals/events/type=race",
        [("_id", "str"), ("date", "date")],
        window,
        landed,
    )
    (source,), (output,) = inputs, outputs
    assert (source.name, output.namespace, output.name) == (
        "/events?type=race",
        "s3://lake",
        "intervals/events/type=race",
    )
    assert set(source.facets) == {"schema"}
    assert set(output.facets) == {"schema", "documentation"}
    assert output.outputFacets[lineage.WINDOW_FACET_KEY] is window
    if landed is None:
        assert (source.inputFacets, set(output.outputFacets)) == ({}, {lineage.WINDOW_FACET_KEY})
    else:
        assert source.inputFacets["inputStatistics"].rowCount == 42
        stats = output.outputFacets["outputStatistics"]
        assert (stats.rowCount, stats.size, stats.fileCount) == (42, 1234, 3)


def test_the_window_facet_follows_the_specs_rules_for_custom_facets():
    facet = lineage.window_facet("2025-06-01", "2025-06-01", filtered=False, partition="snapshot=2025-06-01")
    assert isinstance(facet, OutputDatasetFacet)
    # {prefix}{name}{entity}Facet, key {prefix}_{name}
    assert type(facet).__name__ == "IntervalsWindowOutputDatasetFacet"
    assert lineage.WINDOW_FACET_KEY == "intervals_window"
    # An immutable URL (the release's tag, not a branch) with a JSON pointer to the definition.
    base, pointer = facet._schemaURL.split("#")
    assert (
        base
        == f"https://raw.githubusercontent.com/{lineage.REPOSITORY}/v{__version__}/{lineage.WINDOW_FACET_SCHEMA}"
    )
    assert pointer == "/$defs/IntervalsWindowOutputDatasetFacet"
    assert (
        facet._producer == lineage.PRODUCER == f"https://github.com/{lineage.REPOSITORY}/tree/v{__version__}"
    )


def test_the_window_facets_schema_file_is_the_one_its_url_names():
    schema = json.loads((ROOT / lineage.WINDOW_FACET_SCHEMA).read_text())
    base, pointer = lineage.WINDOW_FACET_SCHEMA_URL.split("#")
    # A release bumps __version__: this file's $id must then name the new tag too.
    assert schema["$id"] == base
    definition = schema["$defs"][pointer.rsplit("/", 1)[1]]
    facet = attrs.asdict(lineage.window_facet("2025-06-01", "2025-06-02", filtered=True, partition="x"))
    fields = {name for name in facet if not name.startswith("_")}
    assert set(definition["allOf"][1]["properties"]) == fields == set(definition["allOf"][1]["required"])
    assert schema["properties"] == {lineage.WINDOW_FACET_KEY: {"$ref": f"#{pointer}"}}


def test_the_producer_is_this_projects_repository():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Source"] == f"https://github.com/{lineage.REPOSITORY}"
    assert lineage.PRODUCER.startswith(urls["Source"] + "/tree/v")
