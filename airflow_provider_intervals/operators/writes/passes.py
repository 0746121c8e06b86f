"""The two passes of a bulk load over its input, each streaming one row at a time.

:func:`check_pass` parses and checks every row before any request (failing, or writing the
rejects file); :func:`send_pass` sends each valid row not created before and publishes the
results file. :mod:`.bulk` holds the operators that run them; its docstring tells the whole load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import personal
from airflow_provider_intervals.operators.writes import results as res
from airflow_provider_intervals.operators.writes.keys import RunIdentity
from airflow_provider_intervals.operators.writes.kinds import ROW_ERRORS, SHOWN, Kind, describe, error_record
from airflow_provider_intervals.operators.writes.rows import Problem, canonical, content_digest, iter_rows
from airflow_provider_intervals.progress import Progress


def bulk_progress(log: Any, what: str, total: int, interval: float) -> Progress:
    """Count rows by outcome; each line gives the counts and the rate (never a row's content).

    :param log: the task's logger.
    :param what: the kind's name.
    :param total: the rows in the file.
    :param interval: seconds between lines.
    """

    def line(counts: Mapping[str, int], elapsed: float) -> tuple[Any, ...]:
        done = sum(counts.values())
        return (
            "Bulk %s load: %d/%d rows done, %d created, %d existing (skipped), %d failed, %d rejected; "
            "%.1f rows/s",
            *(what, done, total, counts[res.CREATED], counts[res.EXISTING]),
            *(counts[res.FAILED], counts[res.REJECTED], done / max(elapsed, 1e-9)),
        )

    return Progress(log, interval, line, names=(res.CREATED, res.EXISTING, res.FAILED, res.REJECTED))


@dataclass(frozen=True)
class BulkSettings:
    """A bulk load's rendered, checked arguments.

    :param path: the input file.
    :param format: ``jsonl`` or ``csv``.
    :param gzipped: whether the input is gzip-compressed.
    :param skip_invalid: write invalid rows to the rejects file and go on.
    :param fail_on_row_errors: fail at the end if the API refused any row.
    :param checkpoint_rows: created rows per checkpoint.
    :param max_requests_per_minute: this task's cap below the key's allowance, or ``None``.
    :param personal: the policy for the rows' personal fields in the rejects file, or ``None``
        (as read: a kind without personal fields).
    """

    path: ObjectStoragePath
    format: str
    gzipped: bool
    skip_invalid: bool
    fail_on_row_errors: bool
    checkpoint_rows: int
    max_requests_per_minute: float | None
    personal: personal.PersonalData | None = None


def rejected_row(kind: Kind, data: personal.PersonalData | None, raw: Any) -> Any:
    """Return a row as the rejects file records it: as read, or with ``data``'s policy applied.

    Under ``pseudonymise`` or ``drop`` only the body's documented fields are kept (an unknown
    column, a ``phone`` say, may be personal too), and an unreadable row is ``None``.
    """
    if data is None or data.policy == personal.KEEP:
        return raw
    if not isinstance(raw, dict):
        return None
    return data.apply({k: v for k, v in raw.items() if k in kind.fields})


def check_pass(
    kind: Kind, settings: BulkSettings, layout: res.Layout, attempt: str, log: Any
) -> tuple[int, str | None]:
    """Stream the file once, checking each row; fail or write the rejects. No request is made.

    :param kind: what the rows create.
    :param settings: the load's checked arguments.
    :param layout: where the results and rejects files go.
    :param attempt: this try's name, for the temporary files.
    :param log: the task's logger.
    :return: the number of rows and the rejects file's path (``None`` if none written).
    """
    rows = bad = 0
    shown: list[Problem] = []
    rejects = res.AtomicLines(layout.rejects, attempt) if settings.skip_invalid else None
    try:
        for row in iter_rows(kind, settings.path, settings.format, settings.gzipped):
            rows += 1
            if not row.problems:
                continue
            bad += 1
            for problem in row.problems:
                log.warning("Invalid %s row: %s", kind.name, problem)
            if len(shown) < SHOWN:
                shown.extend(row.problems[: SHOWN - len(shown)])
            if rejects is not None:
                errors = [p.to_json() for p in row.problems]
                row_as_kept = rejected_row(kind, settings.personal, row.raw)
                rejects.add({"line": row.line, "errors": errors, "row": row_as_kept})
    except BaseException:
        if rejects is not None:
            rejects.discard()
        raise
    if bad and rejects is None:
        raise exc.IntervalsInvalidRowsError(str(settings.path), shown, bad, rows)
    if rejects is not None and rejects.publish():
        log.warning("%d of %d rows are invalid: written to %s", bad, rows, layout.rejects)
        return rows, str(layout.rejects)
    if layout.rejects.exists():  # a stale one from an earlier load would mislead
        layout.rejects.unlink()
    return rows, None


def send_pass(
    kind: Kind,
    settings: BulkSettings,
    layout: res.Layout,
    attempt: str,
    identity: RunIdentity,
    send: Callable[..., str],
    progress: Progress,
    log: Any,
) -> ObjectStoragePath:
    """Stream the file again, sending each valid row not created before; publish the results.

    :param kind: what the rows create.
    :param settings: the load's checked arguments.
    :param layout: where the results file goes (and what earlier tries or runs created).
    :param attempt: this try's name, for the temporary files.
    :param identity: the run's identity: row digests and idempotency keys.
    :param send: the hook's create method for ``kind`` (a row's body, ``idempotency_key=``).
    :param progress: counts each row's outcome (see :func:`bulk_progress`).
    :param log: the task's logger.
    :return: the published results file.
    """
    known = res.Known(layout)
    if known.ids:
        log.info("%d row(s) were created by an earlier try or run: they will be skipped", len(known.ids))
    writer = res.ResultsWriter(layout, attempt, known, settings.checkpoint_rows)
    seen: dict[str, int] = {}
    try:
        for row in iter_rows(kind, settings.path, settings.format, settings.gzipped):
            if row.body is None:
                error = {
                    "type": "IntervalsArgumentError",
                    "status": None,
                    "code": None,
                    **row.problems[0].to_json(),
                }
                record = {
                    "line": row.line,
                    "key": None,
                    "status": res.REJECTED,
                    "id": None,
                    "error": error,
                }
                writer.add(record)
                progress.add(**{res.REJECTED: 1})
                continue
            body = canonical(row.body)
            digest = content_digest(identity.namespace, kind, body)
            occurrence = seen[digest] = seen.get(digest, -1) + 1
            record = {
                "line": row.line,
                "key": row.body.get(kind.key_field),
                "digest": digest,
                "n": occurrence,
                "idempotency_key": identity.key(row.line, body),
                "status": res.EXISTING,
                "id": known.get(digest, occurrence),
                "error": None,
            }
            if record["id"] is None:
                try:
                    record["id"] = send(row.body, idempotency_key=record["idempotency_key"])
                    record["status"] = res.CREATED
                except ROW_ERRORS as error:
                    record["status"], record["error"] = res.FAILED, error_record(kind, error)
                    where = f"line {row.line} ({kind.key_field} {record['key']!r})"
                    log.warning("Refused: %s", describe(kind, where, error))
            writer.add(record)
            progress.add(**{record["status"]: 1})
    except BaseException:
        writer.abort()
        progress.report()
        raise
    results_path = writer.publish()
    progress.report()
    return results_path
