"""OpenLineage for the landing and write operators: their datasets and facets.

Only the operators' ``get_openlineage_facets_on_start`` / ``_on_complete`` / ``_on_failure``
import this module, and the OpenLineage provider's listener calls those on the worker: START
with the task's templates rendered, before ``execute``; COMPLETE or FAIL after it. Nothing here
runs at import or DAG-parse time, and without ``apache-airflow-providers-openlineage``
installed nothing here is imported at all. Names come from rendered arguments, the
connection's base URL and the run's window alone, so START names what COMPLETE names without
sending a request or touching object storage.

Names follow OpenLineage's dataset naming conventions:

- **The API** (:func:`api_dataset_name`): namespace = the scheme and authority of the
  connection's base URL (``https://api.intervals.run``); name = the endpoint's path (after
  any path prefix of the base URL) and the listing's filters other than the window, sorted,
  as a query string: ``/events?type=race``, ``/groups/lakefront/events``,
  ``/registration?eventId=e72tuv901wxy234``. OpenLineage names no HTTP datasets; this follows
  its pattern for remote files (namespace the server, name the path).
- **Object storage** (:func:`storage_dataset_name`, from the URL text): buckets
  ``s3://{bucket}`` (``s3a``/``s3n`` too), ``gs://{bucket}`` (``gcs`` too), any other
  ``{scheme}://{bucket}``, and the key; local files ``file`` and the absolute path. The
  connection id an ``ObjectStoragePath`` carries in its URL (``s3://conn@bucket/...``) is
  left out.

A landing's output is its **target**, the same dataset on every run:
``{output_path}/{directory}/{filters}`` (``.../events/type=race``,
``.../registrations/event_id=...``), the window's prefix without its ``date_from=.../date_to=...``
or ``snapshot=...`` segments. Which window a run published, and where below that name, is
per-run data: the output facet ``intervals_window``
(:class:`IntervalsWindowOutputDatasetFacet`). Datasets carry static facets only (``schema``,
``documentation``); statistics are input and output facets, on COMPLETE.

The custom facet's ``_schemaURL`` points into ``docs/lineage/`` at this release's git tag
(immutable); every facet built here names this provider as its ``_producer``. No facet holds
the API key (it is never part of a URL) or personal data: datasets name field names, counts,
dates and the ids of events, runs and groups, never a row. A landing's output schema is the
schema as landed: a field its personal-data policy drops is absent, and a pseudonymised one says
so in its ``description`` (``pseudonymised: hmac-sha256-hex token, key version v1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from attrs import define
from openlineage.client.generated.base import InputDataset, OutputDataset, OutputDatasetFacet
from openlineage.client.generated.documentation_dataset import DocumentationDatasetFacet
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet
from openlineage.client.generated.output_statistics_output_dataset import (
    OutputStatisticsOutputDatasetFacet,
)
from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields

from airflow_provider_intervals import RELEASE_TAG as _TAG
from airflow_provider_intervals import REPOSITORY, api
from airflow_provider_intervals.storage.formats import Columns

PRODUCER = f"https://github.com/{REPOSITORY}/tree/{_TAG}"
WINDOW_FACET_KEY = "intervals_window"  # {prefix}_{name}, the spec's pattern for custom facets
WINDOW_FACET_SCHEMA = "docs/lineage/IntervalsWindowOutputDatasetFacet.json"
WINDOW_FACET_SCHEMA_URL = (
    f"https://raw.githubusercontent.com/{REPOSITORY}/{_TAG}/{WINDOW_FACET_SCHEMA}"
    "#/$defs/IntervalsWindowOutputDatasetFacet"
)

# Query parameters that page a listing or bound its window: not part of a dataset's name.
_NOT_IN_NAME = frozenset({"limit", "after", "before", "dateFrom", "dateTo"})
# Column kinds of storage.formats.SCHEMAS -> OpenLineage schema field types.
_TYPES = {"str": "string", "date": "date", "float": "double", "int": "long", "bool": "boolean"}
# ObjectStoragePath schemes -> the namespace schemes of OpenLineage's naming conventions.
_SCHEMES = {"s3a": "s3", "s3n": "s3", "gcs": "gs", "local": "file"}
_LANDED = (
    "An Intervals landing: one prefix per run window below this name (date_from=.../date_to=..., "
    "or snapshot=... for a listing without a date filter), each published atomically: read its "
    "_manifest.json (or wait for _SUCCESS) for its part files. A run's window and prefix are in "
    f"its {WINDOW_FACET_KEY} output facet."
)


@define
class IntervalsWindowOutputDatasetFacet(OutputDatasetFacet):
    """The window a landing run published in its target: ``dateFrom`` .. ``dateTo`` (inclusive).

    For a snapshot listing (registrations, recurrences, groups; ``filtered`` false) the
    window's last day names the snapshot instead of filtering the items. ``partition`` is
    the window's prefix below the output dataset's name (``date_from=.../date_to=...`` or
    ``snapshot=...``). Schema: ``docs/lineage/IntervalsWindowOutputDatasetFacet.json``.
    """

    dateFrom: str
    dateTo: str
    filtered: bool
    partition: str

    @staticmethod
    def _get_schema() -> str:
        return WINDOW_FACET_SCHEMA_URL


def api_dataset_name(base_url: str, request: api.Request) -> tuple[str, str]:
    """Return ``(namespace, name)`` of the API listing or endpoint ``request`` addresses."""
    url = urlsplit(base_url)
    host = url.hostname or ""
    authority = f"{host}:{url.port}" if url.port else host  # never user:password@
    filters = sorted((k, str(v)) for k, v in request.params.items() if k not in _NOT_IN_NAME)
    name = f"{url.path.rstrip('/')}{request.path}"
    return f"{url.scheme}://{authority}", f"{name}?{urlencode(filters)}" if filters else name


def storage_dataset_name(url: str) -> tuple[str, str]:
    """Return ``(namespace, name)`` of an object-storage URL, from its text alone.

    Nothing is looked up or opened: no connection, no file system. An ``ObjectStoragePath``
    may be passed as its ``str()``; its connection id is left out.
    """
    parts = urlsplit(str(url).strip())
    scheme = _SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    location = parts.netloc.rpartition("@")[2]  # s3://conn@bucket/...: the bucket
    if scheme == "file":
        path = "/" + parts.path.strip("/")
        return ("file", path) if location in ("", "localhost") else (f"file://{location}", path)
    return f"{scheme}://{location}", parts.path.strip("/")


def schema_facet(
    columns: Sequence[tuple[str, str]], notes: Mapping[str, str] | None = None
) -> SchemaDatasetFacet:
    """Return the schema facet of documented ``(field, kind)`` columns (``storage.formats.SCHEMAS``).

    :param notes: field -> description (e.g. that the field holds pseudonymised tokens).
    """
    notes = notes or {}
    fields = [
        SchemaDatasetFacetFields(name=name, type=_TYPES.get(kind, kind), description=notes.get(name))
        for name, kind in columns
    ]
    return SchemaDatasetFacet(fields=fields, producer=PRODUCER)


def window_facet(
    date_from: str, date_to: str, *, filtered: bool, partition: str
) -> IntervalsWindowOutputDatasetFacet:
    """Return the ``intervals_window`` output facet (see :class:`IntervalsWindowOutputDatasetFacet`)."""
    return IntervalsWindowOutputDatasetFacet(
        dateFrom=str(date_from),
        dateTo=str(date_to),
        filtered=filtered,
        partition=partition,
        producer=PRODUCER,
    )


def landing_datasets(
    base_url: str,
    request: api.Request,
    target: str,
    columns: Sequence[tuple[str, str]],
    window: IntervalsWindowOutputDatasetFacet,
    landed: Any = None,
    output_columns: Columns | None = None,
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """Return a landing's input (the API listing) and output (its target in object storage).

    :param base_url: the connection's base URL.
    :param request: the listing's first request (its path and filters name the input).
    :param target: the target's URL, ``{output_path}/{directory}/{filters}``, without the window.
    :param columns: the resource's documented fields, for both schema facets.
    :param window: the run's ``intervals_window`` facet, an output facet.
    :param landed: the :class:`~airflow_provider_intervals.storage.landing.LandingResult`, or
        ``None`` before or without a publish (START, a failed task): then no statistics.
    :param output_columns: the columns as landed (after a personal-data policy), for the
        output's schema facet; default: ``columns``, unchanged.
    """
    schema = schema_facet(columns)
    landed_schema = schema
    if output_columns is not None:
        landed_schema = schema_facet(output_columns.fields, output_columns.notes)
    in_facets: dict[str, Any] = {}
    out_facets: dict[str, Any] = {WINDOW_FACET_KEY: window}
    if landed is not None:
        in_facets["inputStatistics"] = InputStatisticsInputDatasetFacet(
            rowCount=landed.records, producer=PRODUCER
        )
        out_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=landed.records, size=landed.bytes, fileCount=landed.parts, producer=PRODUCER
        )
    documentation = DocumentationDatasetFacet(description=_LANDED, producer=PRODUCER)
    source = InputDataset(
        *api_dataset_name(base_url, request), inputFacets=in_facets, facets={"schema": schema}
    )
    output = OutputDataset(
        *storage_dataset_name(target),
        outputFacets=out_facets,
        facets={"schema": landed_schema, "documentation": documentation},
    )
    return [source], [output]


def write_datasets(
    base_url: str,
    request: api.Request,
    fields: Sequence[str],
    *,
    created: int | None,
    source: str | None = None,
    rows: int | None = None,
    side_files: Sequence[str] = (),
) -> tuple[list[InputDataset], list[OutputDataset]]:
    """Return a write's input (the file, if any) and outputs (the API resource, and side files).

    :param base_url: the connection's base URL.
    :param request: a request to the endpoint written to (its path names the output).
    :param fields: the body's documented fields, for the schema facets.
    :param created: objects the API created, or ``None`` when unknown (START, or no send yet).
    :param source: the input file's URL (bulk writes), or ``None``.
    :param rows: rows read from the input file, once known.
    :param side_files: URLs of the files the task writes beside the input (results,
        rejects): outputs too.
    """
    schema = schema_facet([(name, "str") for name in fields])
    inputs = []
    if source is not None:
        stats = {}
        if rows is not None:
            stats["inputStatistics"] = InputStatisticsInputDatasetFacet(rowCount=rows, producer=PRODUCER)
        inputs.append(
            InputDataset(*storage_dataset_name(source), inputFacets=stats, facets={"schema": schema})
        )
    out_stats = {}
    if created is not None:
        out_stats["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=created, producer=PRODUCER
        )
    target = api_dataset_name(base_url, request)
    outputs = [OutputDataset(*target, outputFacets=out_stats, facets={"schema": schema})]
    outputs.extend(OutputDataset(*storage_dataset_name(path)) for path in side_files)
    return inputs, outputs


def operator_lineage(inputs: list[InputDataset], outputs: list[OutputDataset]) -> Any:
    """Return the OpenLineage provider's ``OperatorLineage`` of the datasets."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs, outputs=outputs)
