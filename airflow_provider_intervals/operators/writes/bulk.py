"""Bulk writes: create every row of a JSON Lines or CSV file in object storage, exactly once.

A load reads its input twice, streaming, one row at a time (:mod:`.passes`):

1. **Check pass.** Every row is parsed (:mod:`.rows`: formats, CSV cell rules) and checked by
   the API's rules. Every bad row is logged with its line and field. If any row is bad and
   ``skip_invalid`` is off, the task fails here, before any request, naming the bad lines.
   With ``skip_invalid=True`` the bad rows go to ``{input}.rejects.jsonl`` and the load goes on.
2. **Send pass.** Each good row is skipped if an earlier try or run created it (from the
   results file and its checkpoints, :mod:`.results`), else sent with its derived
   ``Idempotency-Key`` (:mod:`.keys`): a retry replays what the API already did. The
   outcome of every row (id or error) is written to ``{input}.results.jsonl``.

Failure policy: an API error about one row (400, 404, 409, 422) is recorded for that row
and the load goes on; at the end the task fails with ``IntervalsRowsFailedError`` listing
them, unless ``fail_on_row_errors=False``.
Errors about every row (401, 403; transport errors and 5xx the hook's retries could not
overcome; a 429 whose wait is too long) stop the load at once: the task fails, keeping a
checkpoint, and its retry resumes where it stopped.

Rate: the hook paces every request through the key's shared bucket (the plan's rate, or what
429s taught) and waits out a 429 until its ``retryAfter``, so a load runs at the key's allowance
instead of failing. ``max_requests_per_minute`` caps this task below it, leaving the rest to others.

Memory: one row at a time, plus ~100 bytes per row for the identities of the rows (to
tell identical rows apart) and of rows created before, and per distinct slug for events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_intervals import api, links, personal, validation
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import DEFAULT_CONN_ID
from airflow_provider_intervals.operators.writes import results as res
from airflow_provider_intervals.operators.writes.keys import RunIdentity
from airflow_provider_intervals.operators.writes.kinds import (
    EVENT,
    REGISTRATION,
    SHOWN,
    Kind,
)
from airflow_provider_intervals.operators.writes.passes import (
    BulkSettings,
    bulk_progress,
    check_pass,
    send_pass,
)
from airflow_provider_intervals.operators.writes.rows import (
    detect_format,
)
from airflow_provider_intervals.progress import Progress

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

DEFAULT_PROGRESS_INTERVAL = 10.0


@dataclass
class BulkRun:
    """What one ``execute`` counted, kept for the lineage the OpenLineage listener asks for after it.

    :param rows: rows in the file, once counted.
    :param progress: the send pass's counts, once it started.
    """

    rows: int | None = None
    progress: Progress | None = None


class IntervalsBulkWriteOperator(BaseOperator):
    """Create every row of a JSON Lines or CSV file; a subclass names its :class:`.Kind` of row.

    Returns (XCom) the results and rejects paths and the counts: ``rows``, ``created``,
    ``existing``, ``failed``, ``rejected``. Never a row.

    :param input_path: the file, any ``ObjectStoragePath`` URL (``s3://plans/season.csv``,
        ``file:///data/export.jsonl.gz``). Results and rejects are written beside it. Templated.
    :param input_conn_id: connection of the object store (e.g. an ``aws`` connection). Templated.
    :param intervals_conn_id: the Intervals connection. Templated.
    :param format: ``jsonl`` or ``csv``; default from the file name. Templated.
    :param skip_invalid: send the valid rows and write the invalid ones to
        ``{input}.rejects.jsonl`` (default: fail before any request). Templated.
    :param fail_on_row_errors: fail the task at the end if the API refused any row
        (default ``True``); the results file has every row's outcome either way. Templated.
    :param idempotency_namespace: salt of the keys and row identities; change it to create
        the rows again on purpose. Templated.
    :param max_requests_per_minute: this task's own cap, below the key's allowance (default
        none: the key's whole allowance, shared with whoever else uses the key). Templated.
    :param checkpoint_rows: created rows per checkpoint (default 500). Templated.
    :param progress_interval: seconds between progress log lines (default 10).
    """

    kind: Kind = EVENT
    template_fields: Sequence[str] = (
        "input_path",
        "input_conn_id",
        "intervals_conn_id",
        "format",
        "skip_invalid",
        "fail_on_row_errors",
        "idempotency_namespace",
        "max_requests_per_minute",
        "checkpoint_rows",
    )
    ui_color = "#fdf0e0"
    operator_extra_links = (links.WriteResultsLink(),)
    _run: BulkRun | None = None  # set by execute(), read by the OpenLineage methods

    def __init__(
        self,
        *,
        input_path: str,
        input_conn_id: str | None = None,
        intervals_conn_id: str = DEFAULT_CONN_ID,
        format: str | None = None,
        skip_invalid: bool = False,
        fail_on_row_errors: bool = True,
        idempotency_namespace: str | None = None,
        max_requests_per_minute: float | None = None,
        checkpoint_rows: int = res.DEFAULT_CHECKPOINT_ROWS,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_path = input_path
        self.input_conn_id = input_conn_id
        self.intervals_conn_id = intervals_conn_id
        self.format = format
        self.skip_invalid = skip_invalid
        self.fail_on_row_errors = fail_on_row_errors
        self.idempotency_namespace = idempotency_namespace
        self.max_requests_per_minute = max_requests_per_minute
        self.checkpoint_rows = checkpoint_rows
        self.progress_interval = progress_interval

    @cached_property
    def hook(self) -> IntervalsHook:
        """The Intervals hook, paced by the checked ``max_requests_per_minute``."""
        from airflow_provider_intervals.hooks.intervals import IntervalsHook

        rpm = validation.check_rate("max_requests_per_minute", self.max_requests_per_minute)
        return IntervalsHook(intervals_conn_id=self.intervals_conn_id, max_requests_per_minute=rpm)

    def input_url(self) -> str:
        """Return the rendered ``input_path`` if it is a storage URL (checked as text: nothing is opened)."""
        if not isinstance(self.input_path, str) or "://" not in self.input_path:
            raise exc.IntervalsArgumentError(
                "input_path", self.input_path, "expected a storage URL such as 's3://bucket/season.csv'"
            )
        return self.input_path.strip()

    def check_arguments(self) -> BulkSettings:
        """Check the rendered arguments and return them as settings; the input must exist."""
        url = self.input_url()
        fmt, gzipped = detect_format(url, (self.format or "").strip() or None)
        skip_invalid = validation.check_flag("skip_invalid", self.skip_invalid)
        fail_on_row_errors = validation.check_flag("fail_on_row_errors", self.fail_on_row_errors)
        checkpoint_rows = validation.check_whole("checkpoint_rows", self.checkpoint_rows, 1, 10_000_000)
        rpm = validation.check_rate("max_requests_per_minute", self.max_requests_per_minute)
        path = ObjectStoragePath(url, conn_id=self.input_conn_id or None)
        if not path.is_file():
            raise exc.IntervalsArgumentError(
                "input_path", self.input_path, "no such file: check the path (and input_conn_id for a bucket)"
            )
        return BulkSettings(path, fmt, gzipped, skip_invalid, fail_on_row_errors, checkpoint_rows, rpm)

    def execute(self, context: Any) -> dict[str, Any]:
        """Check every row, then send the rows not yet created; return paths and counts."""
        settings = self.check_arguments()
        identity = RunIdentity.from_context(context, self.idempotency_namespace)
        layout = res.Layout(settings.path)
        attempt = f"try{getattr(context['ti'], 'try_number', 0)}-{uuid.uuid4().hex[:8]}"
        self.log.info("Checking every %s row of %s (%s)", self.kind.name, settings.path, settings.format)
        self._run = run = BulkRun()
        rows, rejects = check_pass(self.kind, settings, layout, attempt, self.log)
        run.rows = rows
        run.progress = progress = bulk_progress(self.log, self.kind.name, rows, self.progress_interval)
        send = getattr(self.hook, self.kind.hook_method)
        try:
            results_path = send_pass(self.kind, settings, layout, attempt, identity, send, progress, self.log)
        finally:
            self.hook.close()
        links.WriteResultsLink.record(self, links.storage_url(results_path, context.get("ti")))
        counts = progress.counts
        summary = {"results": str(results_path), "rejects": rejects, "rows": rows, **counts}
        if counts[res.FAILED] and settings.fail_on_row_errors:
            failures = res.failed_rows(layout, self.kind.key_field, SHOWN)
            raise exc.IntervalsRowsFailedError(str(results_path), failures, counts)
        return summary

    def get_openlineage_facets_on_start(self) -> Any:
        """Return the file the load reads and what it writes, as COMPLETE names them, before it runs.

        From the rendered arguments and the base URL only: no request, the file not opened.
        """
        return self._lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return the load's lineage: the file in; the API resource, the results and the rejects out.

        The input carries the rows read, the API output the objects created (rows created by an
        earlier try or run are not counted again); both the body's documented schema. The rejects
        file is an output whenever ``skip_invalid`` is on (the load writes or removes it).
        """
        return self._lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Return what a failed load read and created before it stopped."""
        return self._lineage()

    def _lineage(self) -> Any:
        from airflow_provider_intervals import lineage

        try:
            source = self.input_url()
            skip_invalid = validation.check_flag("skip_invalid", self.skip_invalid)
            base_url = self.hook.api_url  # the hook checks max_requests_per_minute
        except exc.IntervalsArgumentError:  # the task fails on it before any request
            return lineage.operator_lineage([], [])
        run = self._run or BulkRun()  # START, or a failure before the file was read: nothing counted
        suffixes = (res.RESULTS_SUFFIX, res.REJECTS_SUFFIX) if skip_invalid else (res.RESULTS_SUFFIX,)
        inputs, outputs = lineage.write_datasets(
            base_url,
            api.Request("POST", self.kind.path),
            self.kind.fields,
            created=run.progress.counts[res.CREATED] if run.progress is not None else None,
            source=source,
            rows=run.rows,
            side_files=[source + suffix for suffix in suffixes],
        )
        return lineage.operator_lineage(inputs, outputs)


class IntervalsBulkCreateEventsOperator(IntervalsBulkWriteOperator):
    """Create every event of a season plan (JSON Lines or CSV; columns are ``POST /events`` fields).

    Slugs must be unique in the file (checked before any request) and in the organisation
    (a 409 for the row otherwise). See :class:`IntervalsBulkWriteOperator` for the arguments.
    """

    kind = EVENT


class IntervalsBulkRegisterParticipantsOperator(IntervalsBulkWriteOperator):
    """Register every participant of an export (columns are ``POST /registration`` fields).

    Rows are personal data: no row, email or name is logged or returned; messages name the
    line and field only, and the results file records no value of a row (its line, event run,
    content digest, key, outcome and id). The only file that records rows, the rejects file
    (``skip_invalid=True``), follows ``personal_data``. See :class:`IntervalsBulkWriteOperator`
    for the other arguments.

    :param personal_data: what the rejects file keeps of a row's personal fields (email, name,
        notes): ``"pseudonymise"`` (default) a keyed token of each, ``"drop"`` nothing, ``"keep"``
        the values; under the first two, only the body's documented columns are kept. Templated.
    :param pseudonymisation_conn_id: with ``"pseudonymise"``, the connection whose password is
        the key and whose extra ``key_version`` names it (default ``intervals_pseudonymisation``);
        read only when rejects are written (``skip_invalid=True``), before any request. Templated.
    """

    kind = REGISTRATION
    template_fields: Sequence[str] = (
        *IntervalsBulkWriteOperator.template_fields,
        *("personal_data", "pseudonymisation_conn_id"),
    )

    def __init__(
        self,
        *,
        personal_data: str = personal.DEFAULT_POLICY,
        pseudonymisation_conn_id: str = personal.DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.personal_data = personal_data
        self.pseudonymisation_conn_id = pseudonymisation_conn_id

    def check_arguments(self) -> BulkSettings:
        """Check the rendered arguments, ``personal_data`` first; read the key if rejects need it."""
        policy = personal.check_policy(self.personal_data)
        settings = super().check_arguments()
        pseudonymiser = None
        if policy == personal.PSEUDONYMISE and settings.skip_invalid:
            from airflow_provider_intervals.hooks.pseudonymisation import IntervalsPseudonymisationHook

            conn_id = personal.check_conn_id(self.pseudonymisation_conn_id)
            pseudonymiser = IntervalsPseudonymisationHook(conn_id).pseudonymiser
        elif policy == personal.PSEUDONYMISE:
            return settings  # no rejects file: no row is recorded, no key is needed
        data = personal.PersonalData(policy, self.kind.personal, pseudonymiser)
        return dataclasses.replace(settings, personal=data)
