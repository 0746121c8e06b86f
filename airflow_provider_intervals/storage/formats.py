"""Part-file formats: gzip JSON Lines (default) and Parquet, written as streams.

A part writer takes pages of items (lists of dicts) and streams them into one open
binary file. It keeps nothing but the format's own buffer: the gzip stream for JSON
Lines, one row group (``row_group_size`` rows) for Parquet. Every byte written passes
through a hashing sink, so the part's size and sha256 are known when it closes,
without reading it back.

JSON Lines parts are byte-for-byte reproducible: compact separators, keys in the API's
order, and a gzip header without a timestamp or file name. A rerun over the same data
gives the same checksums.

Parquet parts have an explicit schema per resource, stable across runs whatever a page
happens to contain (a column that is empty in one window is still there, typed, in the
next). Nested objects (``address``, ``schedule``) are kept as JSON text columns, which
every warehouse can parse (``JSON_PARSE``, ``PARSE_JSON``, ``from_json``) and which do
not break when the API adds a key inside them. Dates (``date``, ``endDate``) are
``date32``. Fields the schema does not know yet land in the ``_extra`` column as JSON, so
nothing the API sends is dropped. An absent field and a JSON ``null`` both read back as
absent.

A resource's personal fields are named in :data:`PERSONAL_FIELDS`, beside its schema; a
landing's policy for them (:mod:`airflow_provider_intervals.personal`) is applied to the items
before they reach a writer, and a writer given :class:`Columns` lands the schema as transformed
(``drop``: no personal column; ``pseudonymise``: each personal column's field metadata says so).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

FORMATS = ("jsonl", "parquet")
EXTENSIONS = {"jsonl": ".jsonl.gz", "parquet": ".parquet"}
DEFAULT_COMPRESSLEVEL = 5  # zlib 5: ~2x faster than gzip's default 9, output ~5% larger
DEFAULT_ROW_GROUP_SIZE = 10_000
EXTRA_COLUMN = "_extra"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

#: Each resource's Parquet columns, ``(name, kind)`` in order; kinds are ``str``, ``date``,
#: ``float``, ``int``, ``bool`` and ``json`` (nested, kept as JSON text).
SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("_id", "str"),
        ("name", "str"),
        ("slug", "str"),
        ("type", "str"),
        ("date", "date"),
        ("organizationId", "str"),
        ("startTime", "str"),
        ("endDate", "date"),
        ("endTime", "str"),
        ("address", "json"),
        ("lat", "float"),
        ("lng", "float"),
        ("description", "str"),
        ("websiteUrl", "str"),
        ("registrationUrl", "str"),
    ),
    "registrations": (
        ("_id", "str"),
        ("eventId", "str"),
        ("eventRunId", "str"),
        ("email", "str"),
        ("name", "str"),
        ("registrationType", "str"),
        ("registrationStatus", "str"),
        ("paceGroup", "str"),
        ("bibIdentifier", "str"),
        ("checkedIn", "bool"),
    ),
    "recurrences": (
        ("_id", "str"),
        ("eventId", "str"),
        ("label", "str"),
        ("schedule", "json"),
        ("defaultCourseId", "str"),
        ("status", "str"),
        ("autoPublishHorizonWeeks", "int"),
    ),
    "groups": (
        ("_id", "str"),
        ("organizationId", "str"),
        ("name", "str"),
        ("slug", "str"),
        ("description", "str"),
        ("status", "str"),
        ("cardImageId", "str"),
        ("coverImageId", "str"),
    ),
}


#: Each resource's personal fields, by the API's spec (``docs/intervals-api.md``): the one list the
#: landings, the bulk and single writes and the error messages read. ``email`` and ``name`` identify
#: a participant; ``notes`` is free text about them (sent with ``POST /registration``, landed in
#: ``_extra`` if ever listed); ``bibIdentifier`` is printed on the runner and published with their
#: name in race results. A resource absent here carries no personal field.
PERSONAL_FIELDS: dict[str, frozenset[str]] = {
    "registrations": frozenset({"email", "name", "notes", "bibIdentifier"}),
}


@dataclass(frozen=True)
class Columns:
    """A listing's Parquet columns as landed: ``(name, kind)`` in order, and a note per column.

    :param fields: the columns, as in :data:`SCHEMAS` (minus any the landing drops).
    :param notes: column -> description, written as the Parquet field's ``description`` metadata
        (e.g. that it holds pseudonymised tokens).
    """

    fields: tuple[tuple[str, str], ...]
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartInfo:
    """A finished part file.

    :param path: path relative to the window prefix.
    :param records: number of items in the part.
    :param bytes: size of the file.
    :param sha256: hex digest of the file's bytes.
    :param cursor: ``_id`` of the part's last item (resume after it).
    """

    path: str
    records: int
    bytes: int
    sha256: str
    cursor: str

    def to_json(self) -> dict[str, Any]:
        """Return the part as a JSON-safe mapping (for the manifest and the checkpoint)."""
        return {
            "path": self.path,
            "records": self.records,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "cursor": self.cursor,
        }


class _HashingSink:
    """A write-only file object that hashes and counts what passes through to ``raw``."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class JsonLinesWriter:
    """Stream items as gzip-compressed JSON Lines (one compact JSON object per line).

    :param raw: the open binary file; closed by :meth:`close`.
    :param compresslevel: zlib level 1-9.
    """

    def __init__(self, raw: BinaryIO, compresslevel: int = DEFAULT_COMPRESSLEVEL) -> None:
        self._raw = raw
        self._sink = _HashingSink(raw)
        # mtime=0 and no file name: the same items always give the same bytes.
        self._gzip = gzip.GzipFile(
            filename="", fileobj=self._sink, mode="wb", compresslevel=compresslevel, mtime=0
        )

    def write(self, items: list[dict[str, Any]]) -> None:
        """Append ``items``; one encode and one compressor call per page."""
        self._gzip.write(("\n".join(map(_dumps, items)) + "\n").encode())

    def close(self) -> tuple[int, str]:
        """Finish the file; return its size and sha256."""
        self._gzip.close()
        self._raw.close()
        return self._sink.size, self._sink.sha256.hexdigest()


def _arrow_schema(columns: Columns) -> Any:
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "date": pa.date32(),
        "float": pa.float64(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "json": pa.string(),
    }
    notes = columns.notes
    fields = [
        pa.field(name, types[kind], metadata={"description": notes[name]} if name in notes else None)
        for name, kind in columns.fields
    ]
    return pa.schema([*fields, pa.field(EXTRA_COLUMN, pa.string())])


def _to_row(item: dict[str, Any], columns: tuple[tuple[str, str], ...], known: frozenset[str]) -> dict:
    row: dict[str, Any] = {}
    for name, kind in columns:
        value = item.get(name)
        if value is not None:
            if kind == "json":
                value = _dumps(value)
            elif kind == "date":
                value = dt.date.fromisoformat(value)
        row[name] = value
    extra = {k: v for k, v in item.items() if k not in known}
    row[EXTRA_COLUMN] = _dumps(extra) if extra else None
    return row


class ParquetWriter:
    """Stream items into a Parquet file with the resource's explicit schema.

    :param raw: the open binary file; closed by :meth:`close`.
    :param resource: a key of :data:`SCHEMAS`.
    :param row_group_size: rows buffered before a row group is written (the memory bound).
    :param columns: the columns as landed; default: the resource's schema, unchanged.
    """

    def __init__(
        self,
        raw: BinaryIO,
        resource: str,
        row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
        columns: Columns | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        columns = columns or Columns(SCHEMAS[resource])
        self._raw = raw
        self._sink = _HashingSink(raw)
        self._schema = _arrow_schema(columns)
        self._columns = columns.fields
        # Every schema field is known, dropped ones too: a dropped field never reaches _extra.
        self._known = frozenset(name for name, _ in SCHEMAS[resource])
        self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self._row_group_size = row_group_size

    def write(self, items: list[dict[str, Any]]) -> None:
        """Append ``items``; a row group is written each ``row_group_size`` rows."""
        self._rows.extend(_to_row(item, self._columns, self._known) for item in items)
        if len(self._rows) >= self._row_group_size:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> tuple[int, str]:
        """Write the last row group and the footer; return the file's size and sha256."""
        self._flush()
        self._writer.close()
        self._raw.close()
        return self._sink.size, self._sink.sha256.hexdigest()


def open_writer(
    raw: BinaryIO,
    fmt: str,
    resource: str,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
    columns: Columns | None = None,
) -> JsonLinesWriter | ParquetWriter:
    """Return the part writer for ``fmt`` on the open binary file ``raw`` (``columns``: :class:`Columns`)."""
    if fmt == "parquet":
        return ParquetWriter(raw, resource, columns=columns)
    return JsonLinesWriter(raw, compresslevel)


def _from_row(row: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, value in row.items():
        if value is None:
            continue
        if name == EXTRA_COLUMN:
            item.update(json.loads(value))
        elif kinds.get(name) == "json":
            item[name] = json.loads(value)
        elif kinds.get(name) == "date":
            item[name] = value.isoformat()
        else:
            item[name] = value
    return item


def iter_part(raw: BinaryIO, fmt: str, resource: str) -> Iterator[dict[str, Any]]:
    """Yield the items of one part file, as the API sent them (Parquet: see the module docstring).

    :param raw: the part, opened for binary reading.
    :param fmt: ``jsonl`` or ``parquet``.
    :param resource: the resource the part holds (selects the Parquet schema).
    """
    if fmt == "parquet":
        import pyarrow.parquet as pq

        kinds = dict(SCHEMAS[resource])
        for batch in pq.ParquetFile(raw).iter_batches():
            for row in batch.to_pylist():
                yield _from_row(row, kinds)
        return
    with gzip.GzipFile(fileobj=raw, mode="rb") as lines:
        for line in lines:
            yield json.loads(line)
