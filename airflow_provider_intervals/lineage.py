"""OpenLineage for the landing and write operators: datasets and facets, built after a task ran.

Only the operators' ``get_openlineage_facets_on_complete`` / ``_on_failure`` import this
module, and the OpenLineage provider's listener calls those on the worker once ``execute``
has returned or raised: nothing here runs at import or DAG-parse time, and without
``apache-airflow-providers-openlineage`` installed nothing here is imported at all.

Names follow OpenLineage's dataset naming conventions:

- **The API** (``IntervalsApi`` below): namespace = the scheme and authority of the
  connection's base URL (``https://api.intervals.run``); name = the endpoint's path (after
  any path prefix of the base URL) and the listing's filters other than the window, sorted,
  as a query string: ``/events?type=race``, ``/groups/lakefront/events``,
  ``/registration?eventId=e72tuv901wxy234``. The date window is a facet
  (``intervalsWindow``), not part of the name, so one listing is one dataset across runs.
- **Object storage**: S3 (and other buckets) ``s3://{bucket}`` and the key; local files
  ``file`` and the absolute path. The connection id that ``ObjectStoragePath`` carries in
  its URL (``s3://conn@bucket/...``) is left out.

No facet holds the API key (it is never part of a URL) or personal data: datasets name
field names, counts, dates and the ids of events, runs and groups, never a row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from attrs import define
from openlineage.client.generated.base import DatasetFacet, InputDataset, OutputDataset
from openlineage.client.generated.documentation_dataset import DocumentationDatasetFacet
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields

from airflow_provider_intervals import api

# Query parameters that page a listing or bound its window: not part of a dataset's name.
_NOT_IN_NAME = frozenset({"limit", "after", "before", "dateFrom", "dateTo"})
# Column kinds of storage.formats.SCHEMAS -> OpenLineage schema field types.
_TYPES = {"str": "string", "date": "date", "float": "double", "int": "long", "bool": "boolean"}
SCHEMA_URL = (
    "https://raw.githubusercontent.com/intervals-run/airflow-provider-intervals/main/"
    "docs/lineage/IntervalsWindowDatasetFacet.json"
)


@define
class IntervalsWindowDatasetFacet(DatasetFacet):
    """The date window a landing covered: its listing's ``dateFrom`` .. ``dateTo`` (inclusive).

    For a snapshot listing (registrations, recurrences, groups) the window names the
    snapshot's day instead of filtering the items.
    """

    dateFrom: str
    dateTo: str
    filtered: bool

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def api_dataset_name(base_url: str, request: api.Request) -> tuple[str, str]:
    """Return ``(namespace, name)`` of the API listing or endpoint ``request`` addresses."""
    url = urlsplit(base_url)
    host = url.hostname or ""
    authority = f"{host}:{url.port}" if url.port else host  # never user:password@
    filters = sorted((k, str(v)) for k, v in request.params.items() if k not in _NOT_IN_NAME)
    name = f"{url.path.rstrip('/')}{request.path}"
    return f"{url.scheme}://{authority}", f"{name}?{urlencode(filters)}" if filters else name


def storage_dataset_name(path: Any) -> tuple[str, str]:
    """Return ``(namespace, name)`` of an ``ObjectStoragePath`` (file or bucket), without its conn id."""
    protocol = path.protocol if isinstance(path.protocol, str) else path.protocol[0]
    if protocol in ("file", "local"):
        return "file", "/" + str(path.path).lstrip("/")
    return f"{protocol}://{path.bucket}", str(path.key).strip("/")


def schema_facet(columns: Sequence[tuple[str, str]]) -> SchemaDatasetFacet:
    """Return the schema facet of documented ``(field, kind)`` columns (``storage.formats.SCHEMAS``)."""
    return SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name=name, type=_TYPES.get(kind, kind)) for name, kind in columns]
    )


def window_facet(date_from: str, date_to: str, filtered: bool) -> IntervalsWindowDatasetFacet:
    """Return the ``intervalsWindow`` facet."""
    return IntervalsWindowDatasetFacet(dateFrom=str(date_from), dateTo=str(date_to), filtered=filtered)


def landing_datasets(
    base_url: str,
    request: api.Request,
    prefix: Any,
    columns: Sequence[tuple[str, str]],
    window: tuple[str, str],
    filtered: bool,
    landed: Any,
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """Return a landing's input (the API listing) and output (the window's prefix in storage).

    :param base_url: the connection's base URL.
    :param request: the listing's first request (its path and filters name the input).
    :param prefix: the window's ``ObjectStoragePath``.
    :param columns: the resource's documented fields, for both schema facets.
    :param window: ``(date_from, date_to)``.
    :param filtered: whether the window filters the listing (else it names a snapshot).
    :param landed: the :class:`~airflow_provider_intervals.storage.landing.LandingResult`, or
        ``None`` when nothing was published (a failed task): then the datasets carry no statistics.
    """
    schema = schema_facet(columns)
    facets: dict[str, Any] = {"schema": schema, "intervalsWindow": window_facet(*window, filtered)}
    in_facets: dict[str, Any] = {}
    out_facets: dict[str, Any] = {}
    if landed is not None:
        in_facets["inputStatistics"] = InputStatisticsInputDatasetFacet(rowCount=landed.records)
        out_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=landed.records, size=landed.bytes, fileCount=landed.parts
        )
    documentation = DocumentationDatasetFacet(
        description="Published atomically: read _manifest.json (or wait for _SUCCESS) for its parts."
    )
    source = InputDataset(*api_dataset_name(base_url, request), inputFacets=in_facets, facets=dict(facets))
    output = OutputDataset(
        *storage_dataset_name(prefix),
        outputFacets=out_facets,
        facets={**facets, "documentation": documentation},
    )
    return [source], [output]


def write_datasets(
    base_url: str,
    request: api.Request,
    fields: Sequence[str],
    *,
    created: int | None,
    source: Any = None,
    rows: int | None = None,
    side_files: Mapping[str, Any] | None = None,
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """Return a write's input (the file, if any) and outputs (the API resource, and side files).

    :param base_url: the connection's base URL.
    :param request: a request to the endpoint written to (its path names the output).
    :param fields: the body's documented fields, for the schema facets.
    :param created: objects the API created, or ``None`` when unknown.
    :param source: the input file's ``ObjectStoragePath`` (bulk writes), or ``None``.
    :param rows: rows read from the input file.
    :param side_files: ``{what: ObjectStoragePath}`` the task wrote beside the input
        (``results``, ``rejects``): outputs too.
    """
    schema = schema_facet([(name, "str") for name in fields])
    inputs = []
    if source is not None:
        stats = {} if rows is None else {"inputStatistics": InputStatisticsInputDatasetFacet(rowCount=rows)}
        inputs.append(
            InputDataset(*storage_dataset_name(source), inputFacets=stats, facets={"schema": schema})
        )
    out_stats = {}
    if created is not None:
        out_stats["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=created)
    target = api_dataset_name(base_url, request)
    outputs = [OutputDataset(*target, outputFacets=out_stats, facets={"schema": schema})]
    for path in (side_files or {}).values():
        if path is not None:
            outputs.append(OutputDataset(*storage_dataset_name(path)))
    return inputs, outputs


def operator_lineage(inputs: list[InputDataset], outputs: list[OutputDataset]) -> Any:
    """Return the OpenLineage provider's ``OperatorLineage`` of the datasets."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs, outputs=outputs)
