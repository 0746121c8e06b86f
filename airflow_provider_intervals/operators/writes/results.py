"""Results, checkpoints and rejects of a bulk load, written beside its input, never appended.

For an input ``{dir}/{name}`` (e.g. ``s3://plans/2025/season.csv``)::

    {dir}/{name}.results.jsonl                      every row's outcome (replaced whole per try)
    {dir}/{name}.results.parts/{attempt}-{n:05d}.jsonl   checkpoints: rows created since the last one
    {dir}/{name}.rejects.jsonl                      rows refused by the checks (skip_invalid=True)

Object stores have no append, so nothing here appends. The results file is streamed to a
temporary name while the rows are sent and moved into place when the try has been through
every row (an atomic rename on a file system, one copy on S3); the rejects file likewise.
Because a try can die before that (a worker lost, faults outlasting the retries), every
``checkpoint_rows`` created rows (and at least every ``checkpoint_seconds``) the outcomes
since the last checkpoint are written as a new small object under ``.results.parts/``.
When a try publishes the results file, the checkpoints it has folded in are deleted.

A load starts by reading the published results and every checkpoint: each row recorded
as created (matched by its content digest and occurrence, see :class:`Known`) is skipped
and reported ``existing`` with its id, so a rerun sends nothing for it. Two loads of the
same input at the same moment are not supported (use ``max_active_runs`` or a pool).

Each line of the results file is a JSON object::

    {"line": 12, "key": "<slug or eventRunId>", "digest": "<row identity>", "n": 0,
     "idempotency_key": "<uuid>", "status": "created" | "existing" | "failed" | "rejected",
     "id": "<new id>" | null, "error": {"type", "status", "code", "field", "message"} | null}

``key`` is the row's non-personal name (an event's slug, a registration's event run);
``digest`` is a salted hash of the row's content, not the content. Rejects lines are
``{"line": 7, "errors": [{"field", "message"}], "row": <the row as read>}``: the row
itself, since it must be fixed, which for registrations is personal data, kept in the
same store as the input it came from.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.storage.atomic import AtomicFile

CREATED, EXISTING, FAILED, REJECTED = "created", "existing", "failed", "rejected"
DEFAULT_CHECKPOINT_ROWS = 500
DEFAULT_CHECKPOINT_SECONDS = 30.0
RESULTS_SUFFIX, REJECTS_SUFFIX = ".results.jsonl", ".rejects.jsonl"  # appended to the input's name

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Layout:
    """Where a load's results, checkpoints and rejects live, from its input path.

    :param input_path: the input file.
    """

    def __init__(self, input_path: ObjectStoragePath) -> None:
        self.results = input_path.parent / f"{input_path.name}{RESULTS_SUFFIX}"
        self.parts = input_path.parent / f"{input_path.name}.results.parts"
        self.rejects = input_path.parent / f"{input_path.name}{REJECTS_SUFFIX}"

    def part_paths(self) -> list[str]:
        """Return the checkpoint objects present now (file-system paths, sorted)."""
        try:
            return sorted(self.parts.fs.find(self.parts.path))
        except FileNotFoundError:
            return []


def failed_rows(layout: Layout, key_field: str, limit: int) -> list[str]:
    """Return the first ``limit`` failed rows of the published results file, as message lines.

    :param layout: the load's layout (its ``results`` file is read).
    :param key_field: the rows' non-personal name field (``slug``, ``eventRunId``).
    :param limit: lines at most.
    """
    failures: list[str] = []
    with layout.results.open("rb") as lines:
        for raw in lines:
            record = json.loads(raw)
            if record["status"] == FAILED:
                e = record["error"]
                field = f" (field {e['field']})" if e.get("field") else ""
                failures.append(
                    f"line {record['line']} ({key_field} {record['key']!r}): "
                    f"{e['status']} {e['code']}{field}: {e['message']}"
                )
                if len(failures) >= limit:
                    break
    return failures


def _iter_lines(fs: Any, path: str) -> Iterator[dict[str, Any]]:
    with fs.open(path, "rb") as raw:
        for line in raw:
            if line.strip():
                yield json.loads(line)


class Known:
    """Rows an earlier try or run created: ``(digest, occurrence) -> id``.

    A row's identity is its content digest plus its occurrence (the n-th identical row in
    the file), not its line: a row still matches after rows are inserted above it.

    :param layout: the load's layout, read at construction.
    """

    def __init__(self, layout: Layout) -> None:
        self.ids: dict[tuple[str, int], str] = {}
        self.parts = layout.part_paths()
        fs = layout.results.fs
        sources = ([layout.results.path] if layout.results.exists() else []) + self.parts
        for path in sources:
            for record in _iter_lines(fs, path):
                if record.get("status") in (CREATED, EXISTING) and record.get("id"):
                    self.ids[(record["digest"], record.get("n", 0))] = record["id"]

    def get(self, digest: str, occurrence: int) -> str | None:
        """Return the id of a row created before, or ``None``."""
        return self.ids.get((digest, occurrence))


class AtomicLines(AtomicFile):
    """JSON lines written to ``{target}.{attempt}.tmp``, then moved onto ``target``.

    :param target: the file to publish.
    :param attempt: a name unique to this try (keeps concurrent temporaries apart).
    """

    def __init__(self, target: ObjectStoragePath, attempt: str) -> None:
        super().__init__(target, attempt)
        self.lines = 0

    def add(self, record: dict[str, Any]) -> None:
        """Add one record as a line."""
        self.write(_dumps(record).encode() + b"\n")
        self.lines += 1


class ResultsWriter:
    """Stream a try's outcomes into the results file, with checkpoints for a try that dies.

    :param layout: the load's layout.
    :param attempt: a name unique to this try.
    :param known: what was read at the start (its checkpoints are deleted on publish).
    :param checkpoint_rows: created rows per checkpoint.
    :param checkpoint_seconds: longest time between checkpoints while rows are created.
    """

    def __init__(
        self,
        layout: Layout,
        attempt: str,
        known: Known,
        checkpoint_rows: int = DEFAULT_CHECKPOINT_ROWS,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
    ) -> None:
        self.layout = layout
        self.attempt = attempt
        self.known = known
        self.checkpoint_rows = checkpoint_rows
        self.checkpoint_seconds = checkpoint_seconds
        self.results = AtomicLines(layout.results, attempt)
        self.written_parts: list[str] = []
        self._pending: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def add(self, record: dict[str, Any]) -> None:
        """Record one row's outcome."""
        self.results.add(record)
        if record["status"] == CREATED:
            self._pending.append(record)
            if (
                len(self._pending) >= self.checkpoint_rows
                or time.monotonic() - self._last >= self.checkpoint_seconds
            ):
                self.checkpoint()

    def checkpoint(self) -> None:
        """Write the created rows since the last checkpoint as one new object."""
        if not self._pending:
            return
        self.layout.parts.mkdir(parents=True, exist_ok=True)
        part = self.layout.parts / f"{self.attempt}-{len(self.written_parts):05d}.jsonl"
        with part.open("wb") as out:
            out.write(b"".join(_dumps(r).encode() + b"\n" for r in self._pending))
        self.written_parts.append(part.path)
        self._pending = []
        self._last = time.monotonic()

    def publish(self) -> ObjectStoragePath:
        """Publish the results file; delete the checkpoints it now contains."""
        if not self.results.publish():
            # An input without rows still gets a (empty) results file: the load happened.
            with self.layout.results.open("wb"):
                pass
        folded = self.known.parts + self.written_parts
        if folded:
            fs = self.layout.parts.fs
            fs.rm(folded)
            if not self.layout.part_paths():
                # A file system keeps the empty directory; an object store has none.
                with contextlib.suppress(OSError, NotImplementedError):
                    fs.rmdir(self.layout.parts.path)
        return self.layout.results

    def abort(self) -> None:
        """Keep what was created as a checkpoint; drop the unfinished results file."""
        try:
            self.checkpoint()
        finally:
            self.results.discard()
