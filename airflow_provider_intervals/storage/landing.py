"""Land a listing's pages in object storage: part files, checkpoints, atomic publish.

A *window* is one prefix (the caller derives it from the date window and filters, see
:func:`window_prefix`), written as::

    {prefix}/w={write_id}/part-{stream}-{n:05d}.jsonl.gz   parts of one write series
    {prefix}/_manifest.json                                the published version
    {prefix}/_SUCCESS                                      written last

Write order (:mod:`.publish`): parts (the series directory is made when its first part
is opened, so a landing that fails before its first record leaves nothing), then the
manifest (written to a temporary name and moved into place, so a reader sees the old
manifest or the new one, never half of one), then ``_SUCCESS``, then clean-up of
everything under the prefix the manifest does not name (older versions, a crashed try's
stray parts). Readers follow the manifest (or wait for ``_SUCCESS``): every part it names
is complete and checksummed. A rerun of the window writes a new series beside the
published one and swaps the manifest, so the old output stays readable until the new one
is whole, and nothing outside the prefix is touched. Two runs writing the *same* window at
the same moment are not supported (the later publish deletes the other's series);
Airflow's ``max_active_runs`` or distinct windows avoid that.

Resume: a retry with the same settings keeps the parts an earlier try finished and asks
the API only for the items after them; :mod:`.series` holds the checkpoint and its rules.

Pause (``pause_on_rate_limit``): when a stream's hook gives up waiting for the allowance
(``IntervalsRateLimitError`` with a ``retry_after``: nothing was sent for it), the stream
finishes the part it was writing (a part may then hold fewer than ``records_per_part``
items), checkpoints it and stops; the other streams go on until their own hook gives up
(they share the key's allowance, so that is at most a request or two later), no stream
starts, and :func:`land` raises :class:`LandingPaused` instead of publishing. Every page
fetched is in a checkpointed part, so the landing resumed from that checkpoint asks the API
only for the items after each stream's cursor: nothing is fetched twice, nothing is lost.

Memory: each worker holds the page being written, the next page (prefetched by a helper
thread on the same session, see :func:`.pages.prefetch`), its writer's buffer (the gzip
stream, or one Parquet row group) and the file system's write buffer (5 MB blocks on S3).
Workers: the first starts at once; the next ones when ``more`` says so (the landing operators
size them to the round trip, see :mod:`airflow_provider_intervals.inflight`), each taking
streams from one queue, in order, until it is empty. Sockets: one per worker started, so
``len(clients)`` at most.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.progress import Progress
from airflow_provider_intervals.storage import destination, formats, pages, publish
from airflow_provider_intervals.storage.series import Series, fingerprint

DEFAULT_RECORDS_PER_PART = 100_000
DEFAULT_PROGRESS_INTERVAL = 5.0

_log = logging.getLogger(__name__)


class Page(Protocol):
    """One page of a listing, as a hook yields it (``api.Page`` is one): its items, in order."""

    items: list[dict[str, Any]]


class PageClient(Protocol):
    """One worker's client (an ``IntervalsHook``: one HTTP session); only a :class:`Stream` uses it."""

    def close(self) -> None:
        """Release the client's sockets."""


# (client, cursor) -> the listing's pages after the cursor (from the start when it is None).
Pages = Callable[[Any, "str | None"], Iterator[Page]]


@dataclass(frozen=True)
class Stream:
    """One listing to land, e.g. one sub-window of a long date window.

    :param key: stable name, used in part names and the checkpoint (e.g. ``"000"``).
    :param pages: ``pages(client, after)`` yields the listing's pages after the cursor
        ``after`` (``None``: from the start) through that worker's client, e.g.
        ``lambda hook, after: hook.event_pages(date_from=..., date_to=..., after=after)``.
    :param listing: what the stream lists (resource and filters), for the checkpoint: a
        retry resumes only a listing it recognises.
    :param label: what to call it in logs.
    """

    key: str
    pages: Pages
    listing: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class LandingResult:
    """What a landing published.

    :param manifest: the manifest's path.
    :param records: items in the window.
    :param parts: part files in the window.
    :param requests: API requests this call made.
    :param api_requests: API requests behind the published output, over every call.
    :param resumed_parts: parts kept from earlier calls (a failed try, or a pause).
    :param write_id: the published write series.
    :param bytes: bytes in the window's part files.
    """

    manifest: ObjectStoragePath
    records: int
    parts: int
    requests: int
    api_requests: int
    resumed_parts: int
    write_id: str
    bytes: int = 0


class LandingPaused(Exception):
    """The landing stopped to wait for the API's allowance; its parts are checkpointed, nothing published.

    :param retry_after: when the allowance returns (epoch seconds), the latest its streams were told.
    :param requests: API requests this call made (pages fetched).
    :param parts: finished parts kept in the checkpoint, over every call.
    :param records: items in those parts.
    :param resumed_parts: parts this call found in the checkpoint.
    """

    def __init__(
        self, retry_after: float, requests: int, parts: int, records: int, resumed_parts: int
    ) -> None:
        super().__init__(f"waiting for the API's allowance until {retry_after:.0f} (epoch seconds)")
        self.retry_after = retry_after
        self.requests = requests
        self.parts = parts
        self.records = records
        self.resumed_parts = resumed_parts


def partition_path(partition: Mapping[str, str]) -> str:
    """Return ``{key}={value}/...`` of ordered pairs whose values are plain path segments.

    :param partition: ordered ``key -> value`` pairs (filters, window); values must be plain
        path segments (dates, enum values, ids), else ``IntervalsArgumentError``.
    """
    segments = []
    for key, value in partition.items():
        if not value or "/" in value or value in (".", ".."):
            raise exc.IntervalsArgumentError(f"partition {key}", value, "expected a plain path segment")
        segments.append(f"{key}={value}")
    return "/".join(segments)


def window_prefix(
    output: ObjectStoragePath, resource: str, partition: Mapping[str, str]
) -> ObjectStoragePath:
    """Return ``{output}/{resource}/{key}={value}/...``: one deterministic prefix per window.

    :param output: the root of the landing zone.
    :param resource: the listing's name, e.g. ``events``.
    :param partition: ordered ``key -> value`` pairs (filters, then window), see
        :func:`partition_path`.
    """
    path = output / resource
    for segment in partition_path(partition).split("/") if partition else ():
        path = path / segment
    return path


@dataclass
class _Landing:
    prefix: ObjectStoragePath
    streams: Sequence[Stream]
    resource: str
    fmt: str
    records_per_part: int
    compresslevel: int
    series: Series
    progress: Progress
    pausable: bool = False
    columns: formats.Columns | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    paused_until: float | None = None
    _pause_lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- writing

    def worker(self, client: PageClient, todo: queue.SimpleQueue) -> None:
        while not self.stop.is_set() and self.paused_until is None:
            try:
                stream = todo.get_nowait()
            except queue.Empty:
                return
            try:
                self.land_stream(client, stream)
            except BaseException:
                self.stop.set()
                raise

    def land_stream(self, client: PageClient, stream: Stream) -> None:
        start = self.series.start_stream(stream.key)
        if start is None:
            return
        number, cursor = start
        writer, path, records, requests, last_id = None, "", 0, 0, ""
        done = True
        try:
            try:
                for page in pages.prefetch(stream.pages(client, cursor)):
                    requests += 1
                    self.progress.add(pages=1, records=len(page.items))
                    if self.stop.is_set():
                        raise exc.IntervalsStorageError("stopped: another stream failed")
                    items = page.items
                    while items:
                        if writer is None:
                            path = self.series.part_name(stream.key, number, formats.EXTENSIONS[self.fmt])
                            writer = self._open(path)
                        take = items[: self.records_per_part - records]
                        with destination.writing(self.prefix / path):
                            writer.write(take)
                        records += len(take)
                        last_id = take[-1]["_id"]
                        items = items[len(take) :]
                        if records == self.records_per_part:
                            part = self._finish(writer, path, records, last_id)
                            writer, records, number = None, 0, number + 1
                            self.series.record(stream.key, part, requests, done=False)
                            requests = 0
            except exc.IntervalsRateLimitError as error:
                if not self.pausable or error.retry_after is None:
                    raise
                # The hook gave up waiting and sent nothing for it: every page fetched so far is
                # written, so the part finished below ends at the cursor the resume asks after.
                done = False
                with self._pause_lock:
                    self.paused_until = max(self.paused_until or 0.0, error.retry_after)
            part = self._finish(writer, path, records, last_id) if writer is not None else None
            writer = None
            self.series.record(stream.key, part, requests, done=done)
        finally:
            if writer is not None:
                _discard(writer)

    def _open(self, rel: str) -> formats.JsonLinesWriter | formats.ParquetWriter:
        self.series.make_directory()
        path = self.prefix / rel
        with destination.writing(path):
            raw = path.open("wb")
            return formats.open_writer(raw, self.fmt, self.resource, self.compresslevel, self.columns)

    def _finish(self, writer: Any, rel: str, records: int, cursor: str) -> formats.PartInfo:
        with destination.writing(self.prefix / rel):  # S3 uploads the last block on close
            size, digest = writer.close()
        return formats.PartInfo(rel, records, size, digest, cursor)

    # ---------------------------------------------------------------- publishing

    def parts(self) -> list[dict[str, Any]]:
        return self.series.parts([s.key for s in self.streams])

    def publish(self, description: Mapping[str, Any]) -> ObjectStoragePath:
        body = {
            **description,
            "resource": self.resource,
            "format": self.fmt,
            "api_requests": self.series.requests(),
        }
        with destination.writing(self.prefix):
            return publish.publish(self.prefix, self.series.write_id, self.parts(), body)


def _discard(writer: Any) -> None:
    """Close an unfinished part after a failure; the next publish removes it."""
    try:
        writer.close()
    except Exception:  # the failure being raised matters more than a close error
        _log.debug("closing an unfinished part failed", exc_info=True)


def land(
    prefix: ObjectStoragePath,
    streams: Sequence[Stream],
    clients: Sequence[PageClient],
    *,
    resource: str,
    description: Mapping[str, Any],
    fmt: str = "jsonl",
    records_per_part: int = DEFAULT_RECORDS_PER_PART,
    compresslevel: int = formats.DEFAULT_COMPRESSLEVEL,
    state_store: Any = None,
    allow_empty: bool = True,
    log: Any = _log,
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
    pause_on_rate_limit: bool = False,
    more: Callable[[int], bool] | None = None,
    columns: formats.Columns | None = None,
) -> LandingResult:
    """Land ``streams`` under ``prefix`` and publish them atomically; resume from a checkpoint.

    Before the first request it checks that it can write there
    (:func:`.destination.check_writable`); a destination that refuses, then or mid-write,
    raises ``IntervalsStorageError`` naming the path and the fix.

    :param prefix: the window's prefix (see :func:`window_prefix`).
    :param streams: listings to land, in manifest order; each is fetched by one worker, the
        workers taking them from a queue in this order.
    :param clients: one page client per worker (at most ``len(streams)`` are used); each
        holds its own HTTP session, so sockets never exceed the workers started.
    :param resource: the resource's name, a key of
        :data:`~airflow_provider_intervals.storage.formats.SCHEMAS`.
    :param description: what the manifest says about the window (window, filters).
    :param fmt: ``jsonl`` (gzip JSON Lines) or ``parquet``.
    :param records_per_part: items per part file before the next part starts.
    :param compresslevel: gzip level for ``jsonl``.
    :param state_store: the task context's ``task_state_store``, or ``None`` to disable resume.
    :param allow_empty: publish an empty window (otherwise raise
        ``IntervalsEmptyWindowError``).
    :param log: where progress goes; items are never logged.
    :param progress_interval: seconds between progress lines.
    :param pause_on_rate_limit: when a hook gives up waiting for the allowance
        (``IntervalsRateLimitError`` with a ``retry_after``), checkpoint every page fetched and
        raise :class:`LandingPaused` (see the module docstring); otherwise that error is raised
        as any other.
    :param more: ``more(running)`` says whether to start another worker now, asked while streams
        wait in the queue and clients are left (the landing operators pass
        :meth:`airflow_provider_intervals.inflight.Sizer.more`); ``None``: one worker per client
        at once.
    :param columns: the Parquet columns as landed (a personal-data policy's); default: the
        resource's schema.
    """
    if fmt not in formats.FORMATS:
        raise exc.IntervalsArgumentError("fmt", fmt, f"expected one of {', '.join(formats.FORMATS)}")
    if not clients:
        raise exc.IntervalsArgumentError("clients", clients, "at least one page client is needed")
    settings = {"fmt": fmt, "records_per_part": records_per_part, "resource": resource}

    def line(counts: Mapping[str, int], elapsed: float) -> tuple[Any, ...]:
        records = counts["records"]
        rate = records / max(elapsed, 1e-9)
        return "%s: %d pages, %d records so far (%.0f records/s)", resource, counts["pages"], records, rate

    destination.check_writable(prefix)  # before any request: a refusal spends no allowance
    progress = Progress(log, progress_interval, line, names=("pages", "records"))
    series = Series(prefix, fingerprint(prefix, streams, settings), state_store, log)
    series.restore(len(streams))
    landing = _Landing(
        *(prefix, streams, resource, fmt, records_per_part, compresslevel, series, progress),
        pausable=pause_on_rate_limit,
        columns=columns,
    )
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for stream in streams:
        todo.put(stream)
    workers = list(clients[: max(1, len(streams))])
    if len(workers) == 1:
        landing.worker(workers[0], todo)
    else:
        pages.run_in_threads(
            lambda client: landing.worker(client, todo),
            workers,
            landing.stop,
            more=more,
            pending=lambda: not todo.empty(),
        )
    requests = progress.counts["pages"]
    if landing.paused_until is not None:
        kept = [p for s in series.state["streams"].values() for p in s["parts"]]
        records = sum(p["records"] for p in kept)
        raise LandingPaused(landing.paused_until, requests, len(kept), records, series.resumed_parts)
    records = sum(p["records"] for p in landing.parts())
    if records == 0 and not allow_empty:
        series.clear()
        series.remove_directory()
        raise exc.IntervalsEmptyWindowError(
            f"No {resource} for {dict(description)} after {requests} requests; nothing published. "
            "Set allow_empty=True to publish an empty window."
        )
    manifest = landing.publish(description)
    series.clear()
    log.info(
        "Published %d %s in %d parts at %s (%d requests now, %d parts resumed, %.0f records/s)",
        *(records, resource, len(landing.parts()), manifest, requests, series.resumed_parts),
        progress.rate("records"),
    )
    parts = landing.parts()
    size = sum(p["bytes"] for p in parts)
    total, resumed = series.requests(), series.resumed_parts
    return LandingResult(manifest, records, len(parts), requests, total, resumed, series.write_id, size)
