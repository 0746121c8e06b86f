"""Dataset names and facets of :mod:`airflow_provider_intervals.lineage` the DAG run does not cover."""

from __future__ import annotations

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage")

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import api, lineage


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


@pytest.mark.parametrize(
    ("url", "conn_id", "expected"),
    [
        ("file:///data/lake/events/type=all", None, ("file", "/data/lake/events/type=all")),
        ("s3://lake/intervals/events/type=all", None, ("s3://lake", "intervals/events/type=all")),
        ("s3://lake/intervals/events", "aws_lake", ("s3://lake", "intervals/events")),
    ],
    ids=["file", "s3", "s3-without-the-conn-id"],
)
def test_a_storage_dataset_follows_openlineage_naming(url, conn_id, expected, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_LAKE", '{"conn_type": "aws"}')
    assert lineage.storage_dataset_name(ObjectStoragePath(url, conn_id=conn_id)) == expected


def test_a_write_without_a_known_count_carries_no_statistics():
    inputs, outputs = lineage.write_datasets(
        "https://api.intervals.run", api.Request("POST", "/events"), ("name", "slug"), created=None
    )
    assert inputs == []
    (output,) = outputs
    assert (output.namespace, output.name) == ("https://api.intervals.run", "/events")
    assert output.outputFacets == {}
    assert [f.name for f in output.facets["schema"].fields] == ["name", "slug"]
