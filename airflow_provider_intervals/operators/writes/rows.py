"""Input rows for the bulk write operators: reading, parsing and checking, streamed.

Formats (chosen by ``format``, else by the file name; a trailing ``.gz`` means gzip):

- **JSON Lines** (``.jsonl``, ``.ndjson``, ``.json``): one JSON object per line, its keys the
  API's body fields, values typed as JSON types them. Blank lines are skipped (they still
  count for line numbers).
- **CSV** (``.csv``): UTF-8 (a byte-order mark is allowed), comma-separated, a header row of
  API field names (line 1). Every cell is text, so:

  - surrounding whitespace is stripped, and an **empty cell means the field is absent**
    (the API's default applies); there is no way to send an empty string, which the API
    refuses anyway;
  - **number fields** (``lat``, ``lng``) are parsed as decimal numbers (``41.88``, ``-87.6``);
  - **object fields** (``address``) are parsed as JSON (``{"city": "Chicago"}``, quoted
    the CSV way: ``"{""city"": ""Chicago""}"``);
  - every other field stays text (dates ``YYYY-MM-DD``, times ``HH:MM``, enums, ids, URLs);
  - a row with more cells than the header is refused; missing trailing cells are empty.

  A row's line number is the file line its record starts on (a quoted cell may span lines).

Every row is then checked by the API's own rules (:mod:`airflow_provider_intervals.validation`),
the same checks the single-row operators and the hook run, so a row that passes here is a
body the hook would send. Problems name the line, the field and the fix; values of
personal fields (email, a participant's name, notes) are never quoted.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.writes.kinds import Kind

INPUT_FORMATS = ("jsonl", "csv")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
# Checks stop after this many problems in one row: a row of garbage does not need 20 lines.
_MAX_PROBLEMS_PER_ROW = 5


@dataclass(frozen=True)
class Problem:
    """One reason a row cannot be sent.

    :param line: the row's line number in the file (1-based).
    :param field: the offending field (``row`` when the row itself is unreadable).
    :param message: what is wrong and the fix; never a personal value.
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """Return the problem as a JSON-safe mapping (for the rejects and results files)."""
        return {"field": self.field, "message": self.message}


@dataclass
class Row:
    """A row as read: its line, its fields (``None`` if unreadable) and its problems.

    :param line: line number in the file.
    :param raw: the fields as read (CSV: text cells; JSON Lines: the object), for rejects.
    :param body: the checked body to send, or ``None`` when the row has problems.
    :param problems: why the row cannot be sent.
    """

    line: int
    raw: Any
    body: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)


def detect_format(path: str, fmt: str | None) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` from ``fmt`` or the file name; raise naming the fix.

    :param path: the input's path or URL.
    :param fmt: ``jsonl``, ``csv`` or ``None`` to go by the extension.
    """
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    gzipped = name.endswith(".gz")
    stem = name[:-3] if gzipped else name
    if fmt:
        if fmt not in INPUT_FORMATS:
            raise exc.IntervalsArgumentError("format", fmt, f"expected one of {', '.join(INPUT_FORMATS)}")
        return fmt, gzipped
    for extension, found in _EXTENSIONS.items():
        if stem.endswith(extension):
            return found, gzipped
    raise exc.IntervalsArgumentError(
        "input_path",
        path,
        "cannot tell the format from the name: use .jsonl/.ndjson/.json or .csv (optionally .gz), "
        "or pass format='jsonl' or format='csv'",
    )


def canonical(body: dict[str, Any]) -> str:
    """Return the body as canonical JSON: sorted keys, no spaces. Equal bodies, equal text."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_digest(namespace: str, kind: Kind, body: str) -> str:
    """Return a row's identity across runs: a hash of the namespace, kind and canonical body.

    Salted with the namespace so changing ``idempotency_namespace`` makes every row new.

    :param body: the body as :func:`canonical` JSON.
    """
    text = f"{namespace}\x1f{kind.name}\x1f{body}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _open_text(path: ObjectStoragePath, gzipped: bool) -> io.TextIOBase:
    raw = path.open("rb")
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def _cell(kind: Kind, name: str, text: str) -> Any:
    """Parse one CSV cell by the rules in the module docstring; raise naming the field."""
    text = text.strip()
    if not text:
        return None
    if name in kind.numbers:
        try:
            number = float(text)
        except ValueError:
            raise exc.IntervalsArgumentError(name, text, "expected a decimal number, e.g. 41.88") from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if name in kind.objects:
        try:
            return json.loads(text)
        except ValueError:
            raise exc.IntervalsArgumentError(
                name, text, 'expected a JSON object, e.g. {"city": "Chicago"} (CSV-quoted)'
            ) from None
    return text


def coerce_text_fields(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    """Parse text values of number and object fields as CSV cells are (for rendered templates).

    :param kind: the body's kind.
    :param body: a body whose values may be rendered template text.
    """
    special = kind.numbers | kind.objects
    return {k: (_cell(kind, k, v) if k in special and isinstance(v, str) else v) for k, v in body.items()}


def _message(kind: Kind, error: exc.IntervalsArgumentError) -> str:
    if not kind.may_quote(error.argument) or error.value in (None, "<redacted>"):
        return error.expected
    value = repr(error.value)
    return f"{value if len(value) <= 60 else value[:57] + '...'}: {error.expected}"


def check_row(kind: Kind, line: int, data: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Check one row's fields by the API's rules; return the body to send, or the problems.

    The validation module stops at a row's first bad field; to report more, the bad field
    is set aside (a required one replaced by a valid stand-in) and the rest checked again,
    up to a few problems per row. A *missing* required field ends the search.
    """
    problems: list[Problem] = []
    remaining = dict(data)
    for _ in range(_MAX_PROBLEMS_PER_ROW):
        try:
            body = kind.check(remaining)
        except exc.IntervalsArgumentError as error:
            if any(p.field == error.argument for p in problems):
                break
            problems.append(Problem(line, error.argument, _message(kind, error)))
            if remaining.get(error.argument) is None:
                break
            if error.argument in kind.placeholders:
                remaining[error.argument] = kind.placeholders[error.argument]
            else:
                del remaining[error.argument]
        else:
            return (None, problems) if problems else (body, [])
    return None, problems


def _parse_jsonl(text: io.TextIOBase) -> Iterator[Row]:
    for line, content in enumerate(text, start=1):
        if not content.strip():
            continue
        try:
            data = json.loads(content)
        except ValueError as error:
            yield Row(
                line, content.rstrip("\r\n"), problems=[Problem(line, "row", f"not valid JSON ({error.msg})")]
            )
            continue
        if not isinstance(data, dict):
            yield Row(line, data, problems=[Problem(line, "row", "expected a JSON object of field -> value")])
            continue
        yield Row(line, data)


def _parse_csv(kind: Kind, text: io.TextIOBase, where: str) -> Iterator[Row]:
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    if "" in header or len(set(header)) != len(header):
        raise exc.IntervalsArgumentError(
            "input_path", where, f"the CSV header (line 1) must name every column once, got {header!r}"
        )
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(start, None, problems=[Problem(start, "row", f"unreadable CSV ({error})")])
            return
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            problem = Problem(start, "row", f"{len(cells)} cells but the header has {len(header)} columns")
            yield Row(start, dict(zip(header, cells, strict=False)), problems=[problem])
            continue
        raw = dict(zip(header, cells, strict=False))
        data, problems = {}, []
        for name, value in raw.items():
            try:
                data[name] = _cell(kind, name, value)
            except exc.IntervalsArgumentError as error:
                problems.append(Problem(start, name, _message(kind, error)))
        yield Row(start, raw, None if problems else data, problems)


def iter_rows(kind: Kind, path: ObjectStoragePath, fmt: str, gzipped: bool) -> Iterator[Row]:
    """Stream the file's rows, each parsed and checked; holds one row at a time.

    A row whose ``problems`` is empty has ``body`` set: the checked body to send. A field
    that must be unique in the file (an event's ``slug``) is tracked across rows, so the
    second use is a problem here rather than a 409 later.

    :param kind: what the rows are.
    :param path: the input file.
    :param fmt: ``jsonl`` or ``csv``.
    :param gzipped: whether the file is gzip-compressed.
    """
    first_use: dict[str, int] = {}
    with _open_text(path, gzipped) as text:
        rows = _parse_jsonl(text) if fmt == "jsonl" else _parse_csv(kind, text, str(path))
        for row in rows:
            if not row.problems:
                data = row.raw if fmt == "jsonl" else row.body
                row.body, row.problems = check_row(kind, row.line, data)
            unique = kind.unique_field
            if row.body is not None and unique and unique in row.body:
                value = row.body[unique]
                if value in first_use:
                    message = f"{value!r} is already used on line {first_use[value]}; each row needs its own"
                    row.problems = [Problem(row.line, unique, f"{message} {unique}")]
                    row.body = None
                else:
                    first_use[value] = row.line
            yield row
