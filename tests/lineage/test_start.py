"""START lineage from the rendered task and the run alone: no request sent, nothing created in storage.

The listener calls ``get_openlineage_facets_on_start`` once the task's templates are rendered,
with the run's context current (``test_openlineage.py`` runs it for real). Here the same call is
made directly, against the sandbox over HTTP, so the test can see what it sent and created.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage")

from airflow.sdk import DAG
from airflow.sdk.execution_time.context import set_current_context
from helpers import utc
from openlineage.client.naming.dataset import S3, LocalFileSystem

from airflow_provider_intervals.lineage import WINDOW_FACET_KEY
from airflow_provider_intervals.operators.events import IntervalsEventsOperator, IntervalsGroupEventsOperator
from airflow_provider_intervals.operators.groups import IntervalsGroupsOperator
from airflow_provider_intervals.operators.recurrences import IntervalsRecurrencesOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.operators.writes import (
    IntervalsBulkRegisterParticipantsOperator,
    IntervalsCreateEventOperator,
)

# A daily run's data interval: the window is 2025-06-01 .. 2025-06-07.
CONTEXT = {"data_interval_start": utc(2025, 6, 1), "data_interval_end": utc(2025, 6, 8)}


def _naming(helper) -> tuple[str, str]:
    return helper.get_namespace(), helper.get_name()


@pytest.fixture
def start(api, make_conn):
    """Return ``start(operator, **params) -> OperatorLineage``: render, then START, counting requests."""
    make_conn(api)

    def run(operator, **params):
        context = {**CONTEXT, "params": params}
        operator.render_template_fields(context)
        before = api.stats["requests"]
        with set_current_context(context):
            lineage = operator.get_openlineage_facets_on_start()
        assert api.stats["requests"] == before  # nothing sent
        return lineage

    return run


def _task(cls, **kwargs):
    with DAG("lineage_start", schedule=None, start_date=utc(2025, 1, 1)):
        return cls(task_id="task", **kwargs)


def test_a_landing_names_its_rendered_target_and_the_runs_window_before_it_runs(start, api, tmp_path):
    lake = tmp_path / "lake"
    operator = _task(IntervalsEventsOperator, output_path="{{ params.lake }}", event_type="{{ params.type }}")
    lineage = start(operator, lake=lake.as_uri(), type="race")
    (source,), (output,) = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == (api.url, "/events?type=race")
    assert (output.namespace, output.name) == _naming(
        LocalFileSystem(path=str(lake / "events" / "type=race"))
    )
    window = output.outputFacets[WINDOW_FACET_KEY]
    assert (window.dateFrom, window.dateTo, window.filtered) == ("2025-06-01", "2025-06-07", True)
    assert window.partition == "date_from=2025-06-01/date_to=2025-06-07"
    assert set(output.outputFacets) == {WINDOW_FACET_KEY}  # no statistics yet
    assert source.inputFacets == {}
    assert not tmp_path.joinpath("lake").exists()  # nothing created


def test_a_landing_names_a_bucket_target_without_its_connection(start):
    # Named from the URL's text: no bucket, no S3 server and no such connection are needed.
    operator = _task(
        IntervalsEventsOperator, output_path="s3://lake/intervals/", output_conn_id="aws_missing"
    )
    (output,) = start(operator).outputs
    assert (output.namespace, output.name) == _naming(
        S3(bucket_name="lake", object_key="intervals/events/type=all")
    )


@pytest.mark.parametrize(
    ("cls", "arguments", "target", "partition"),
    [
        (
            IntervalsRegistrationsOperator,
            {"event_id": "e72tuv901wxy234", "personal_data": "drop"},
            "registrations/event_id=e72tuv901wxy234",
            "snapshot=2025-06-07",
        ),
        (
            IntervalsRecurrencesOperator,
            {"status": "paused"},
            "recurrences/status=paused",
            "snapshot=2025-06-07",
        ),
        (IntervalsGroupsOperator, {}, "groups", "snapshot=2025-06-07"),
        (
            IntervalsGroupEventsOperator,
            {"group_slug": "lakefront"},
            "group_events/group=lakefront/type=all",
            "date_from=2025-06-01/date_to=2025-06-07",
        ),
    ],
    ids=["registrations", "recurrences", "groups", "group-events"],
)
def test_each_landing_names_its_target_without_the_window(start, tmp_path, cls, arguments, target, partition):
    operator = _task(cls, output_path=tmp_path.as_uri(), **arguments)
    (output,) = start(operator).outputs
    assert output.name == str(tmp_path / target)
    assert output.outputFacets[WINDOW_FACET_KEY].partition == partition
    assert output.outputFacets[WINDOW_FACET_KEY].filtered is partition.startswith("date_from=")


@pytest.mark.parametrize(
    "arguments",
    [{"date_from": "2025-13-01"}, {"output_path": "lake/intervals"}, {"event_type": "marathon"}],
    ids=["bad-date", "not-a-storage-url", "bad-filter"],
)
def test_a_landing_with_a_bad_argument_names_nothing(start, tmp_path, arguments):
    operator = _task(IntervalsEventsOperator, **{"output_path": tmp_path.as_uri(), **arguments})
    lineage = start(operator)
    assert (lineage.inputs, lineage.outputs) == ([], [])


@pytest.mark.parametrize("skip_invalid", [False, True], ids=["fail-on-invalid", "skip-invalid"])
def test_a_bulk_load_names_its_file_and_the_files_beside_it_without_opening_them(
    start, api, tmp_path, skip_invalid
):
    source = tmp_path / "people.csv"  # does not exist: START does not look
    operator = _task(
        IntervalsBulkRegisterParticipantsOperator, input_path="{{ params.file }}", skip_invalid=skip_invalid
    )
    lineage = start(operator, file=source.as_uri())
    (read,) = lineage.inputs
    assert (read.namespace, read.name) == _naming(LocalFileSystem(path=str(source)))
    written = [(o.namespace, o.name) for o in lineage.outputs]
    beside = [f"{source}.results.jsonl", *([f"{source}.rejects.jsonl"] if skip_invalid else [])]
    assert written == [(api.url, "/registration"), *(_naming(LocalFileSystem(path=p)) for p in beside)]
    assert read.inputFacets == {}
    assert lineage.outputs[0].outputFacets == {}
    assert list(tmp_path.iterdir()) == []


def test_a_single_write_names_its_endpoint_before_it_sends(start, api):
    operator = _task(IntervalsCreateEventOperator, event={"name": "{{ params.name }}"})
    (output,) = start(operator, name="Lakefront 5K").outputs
    assert (output.namespace, output.name, output.outputFacets) == (api.url, "/events", {})
