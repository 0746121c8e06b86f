"""Extra links: each landing and write operator links what it landed or created, through a real run.

Airflow 3 asks a task's links for their URLs when the task ends, on the worker, and keeps them
in XCom under each link's ``xcom_key``; the UI (and ``GET .../taskInstances/{task}/links``)
reads them from there. These tests run real DAGs with ``dag.test()`` against the sandbox and
read what the UI would read: the link names of the serialized task and the stored URLs.
"""

from __future__ import annotations

import json
import types
import uuid
from urllib.parse import quote

import pytest
from airflow.sdk import ObjectStoragePath
from helpers import event_rows, seeded_runs, utc, write_dag, write_jsonl

from airflow_provider_intervals import links
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.operators.writes import (
    IntervalsBulkCreateEventsOperator,
    IntervalsCreateEventOperator,
    IntervalsRegisterParticipantOperator,
)

DAY = utc(2025, 6, 10)


def _links(run, task_id: str = "write") -> dict[str, str]:
    """What the UI shows for the task: its serialized links' names, each with its stored URL."""
    from airflow.models.serialized_dag import SerializedDagModel

    task = SerializedDagModel.get_dag(run.dag_run.dag_id).get_task(task_id)
    return {link.name: run.xcom(task_id, key=link.xcom_key) for link in task.operator_extra_links}


# ----------------------------------------------------------------------------- storage URLs


def _aws(monkeypatch, conn_id: str, **extra) -> None:
    conn = {"conn_type": "aws", "login": "k", "password": "s", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _ti(**kwargs):
    return types.SimpleNamespace(**{"dag_id": "d", "run_id": "manual__2025-06-10T00:00:00+00:00",
                                    "task_id": "t", "map_index": -1, **kwargs})  # fmt: skip


def test_a_local_file_links_the_tasks_xcom_in_airflows_ui_which_names_it(tmp_path, monkeypatch):
    """A web page may not open ``file://``: Airflow's UI shows only http(s) and its own links."""
    path = ObjectStoragePath(f"file://{tmp_path}/lake/events/_manifest.json")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080/")
    xcom = "http://localhost:8080/dags/d/runs/manual__2025-06-10T00%3A00%3A00%2B00%3A00/tasks/t/xcom"
    assert links.storage_url(path, _ti()) == xcom
    assert links.storage_url(path, _ti(map_index=3)) == xcom.replace("/xcom", "/mapped/3/xcom")
    assert links.storage_url(path, None) == ""


def test_an_object_on_aws_links_the_s3_console_in_the_connections_region(monkeypatch):
    _aws(monkeypatch, "aws_lake", region_name="eu-west-1")
    path = ObjectStoragePath("s3://aws_lake@lake/intervals/events/type=all/_manifest.json")
    assert links.storage_url(path, _ti()) == (
        "https://s3.console.aws.amazon.com/s3/object/lake"
        "?prefix=intervals%2Fevents%2Ftype%3Dall%2F_manifest.json&region=eu-west-1"
    )


def test_an_object_on_an_s3_compatible_store_links_its_path_style_url(monkeypatch):
    _aws(monkeypatch, "minio", endpoint_url="http://127.0.0.1:9000/", region_name="us-east-1")
    path = ObjectStoragePath("s3://minio@lake/intervals/date_from=2025-06-01/_manifest.json")
    assert (
        links.storage_url(path, _ti())
        == "http://127.0.0.1:9000/lake/intervals/date_from%3D2025-06-01/_manifest.json"
    )


def test_an_object_whose_connection_is_missing_still_links_the_console():
    path = ObjectStoragePath("s3://no_such_conn@lake/a/_manifest.json")
    assert (
        links.storage_url(path, _ti())
        == "https://s3.console.aws.amazon.com/s3/object/lake?prefix=a%2F_manifest.json"
    )


def test_an_event_links_its_address_in_the_api():
    assert (
        links.event_url("http://127.0.0.1:8787/", "e72tuv901wxy234")
        == "http://127.0.0.1:8787/events/e72tuv901wxy234"
    )


# ----------------------------------------------------------------------------- through real runs


def test_a_landing_links_its_published_manifest(api, make_conn, run_dag, tmp_path):
    make_conn(api)
    dag = write_dag(IntervalsEventsOperator, output_path=f"file://{tmp_path}/lake", date_from="2025-06-02",
                    date_to="2025-06-02")  # fmt: skip
    run = run_dag(dag, DAY)
    assert run.state == "success"
    # A local file: the link opens the task's XCom in the UI, where the manifest's path is.
    assert _links(run) == {"Landed window": links.task_xcom_url(run.ti("write"))}
    assert _links(run)["Landed window"].endswith(
        f"/dags/{dag.dag_id}/runs/{quote(run.dag_run.run_id, safe='')}/tasks/write/xcom"
    )
    assert ObjectStoragePath(run.xcom("write")["manifest"]).exists()


def test_a_landing_that_failed_before_publishing_links_nothing(api, make_conn, run_dag, tmp_path):
    make_conn(api, key="itv_wrong_key")
    dag = write_dag(IntervalsEventsOperator, output_path=f"file://{tmp_path}/lake", date_from="2025-06-02",
                    date_to="2025-06-02")  # fmt: skip
    run = run_dag(dag, DAY)
    assert run.state == "failed"
    assert _links(run) == {"Landed window": ""}  # the button shows, disabled


def test_a_created_event_links_its_address_in_the_api(api, make_conn, run_dag):
    make_conn(api)
    tag = uuid.uuid4().hex[:6]
    event = {"name": f"Links {tag}", "slug": f"links-{tag}", "type": "race", "date": "2025-06-10"}
    run = run_dag(write_dag(IntervalsCreateEventOperator, event=event), DAY)
    assert run.state == "success"
    event_id = run.xcom("write")
    assert _links(run) == {"Created event": f"{api.url}/events/{event_id}"}
    assert api.store.get_event(event_id)["event"]["slug"] == f"links-{tag}"


def test_a_registration_links_the_reference_of_its_endpoint(api, make_conn, run_dag):
    make_conn(api)
    body = {"eventRunId": seeded_runs(api.store, 1)[0], "email": f"l.{uuid.uuid4().hex[:6]}@x.example",
            "registrationType": "free"}  # fmt: skip
    run = run_dag(write_dag(IntervalsRegisterParticipantOperator, registration=body), DAY)
    assert run.state == "success"
    (url,) = _links(run).values()
    assert url == links.registration_reference_url()
    assert body["email"] not in url


@pytest.mark.parametrize("failing", [False, True], ids=["all-created", "a-row-failed"])
def test_a_bulk_write_links_its_results_file_even_when_a_row_failed(
    api, make_conn, run_dag, tmp_path, failing
):
    make_conn(api)
    rows = event_rows(3, uuid.uuid4().hex[:6])
    if failing:
        taken = next(api.store.iter_events())["slug"]
        rows.append(dict(rows[0], slug=taken))  # the API refuses a taken slug: 409
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/season.jsonl"), rows)
    run = run_dag(write_dag(IntervalsBulkCreateEventsOperator, input_path=path), DAY)
    assert run.state == ("failed" if failing else "success")
    assert _links(run) == {"Write results": links.task_xcom_url(run.ti("write"))}
    assert ObjectStoragePath(f"file://{tmp_path}/season.jsonl.results.jsonl").exists()


def test_every_landing_and_write_operator_declares_a_link_and_the_provider_lists_them():
    from airflow_provider_intervals.get_provider_info import get_provider_info
    from airflow_provider_intervals.operators import landing
    from airflow_provider_intervals.operators.writes import bulk, single

    operators = [landing.IntervalsLandingOperator, *landing.IntervalsLandingOperator.__subclasses__()]
    operators += [single.IntervalsCreateEventOperator, single.IntervalsRegisterParticipantOperator]
    operators += bulk.IntervalsBulkWriteOperator.__subclasses__()
    declared = {type(link) for op in operators for link in op.operator_extra_links}
    assert all(op.operator_extra_links for op in operators)
    listed = set(get_provider_info()["extra-links"])
    assert listed == {f"{cls.__module__}.{cls.__name__}" for cls in declared}
