"""The base of every landing operator: run window, argument checks, hooks, asset, XCom, lineage.

A subclass names its resource and says which hook page iterator lists it;
everything else (streaming, part files, checkpoints, atomic publish) is
:func:`airflow_provider_intervals.storage.landing.land`. Its OpenLineage methods are in
:mod:`.landing_lineage`; deferring while the API's allowance is spent, and resuming, in
:mod:`.deferral`.

The run window's rules (data interval, empty intervals, templated ends) live in
:mod:`airflow_provider_intervals.windows`.

"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator, ObjectStoragePath

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.2: it lives in core, not yet in the SDK
    from airflow.configuration import conf

from airflow_provider_intervals import api, inflight, links, personal, validation
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import DEFAULT_CONN_ID, MAX_RATE_LIMIT_WAIT
from airflow_provider_intervals.operators.deferral import DEFAULT_DEFER_AFTER, DeferrableLanding
from airflow_provider_intervals.operators.landing_lineage import LandingLineage, LandingRun
from airflow_provider_intervals.storage import LandingPaused, Stream, formats, land, landing, window_prefix
from airflow_provider_intervals.windows import Window, resolve_window

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals import api
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

MAX_CONCURRENCY = inflight.MAX_CONCURRENCY


def _is_storage_url(value: Any) -> bool:
    """Whether ``value`` is ``scheme://`` plus a non-empty location (``file:///data``, ``s3://b/k``)."""
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value.strip()):
        return False
    return bool(value.strip().split("://", 1)[1].strip("/"))


@dataclass(frozen=True)
class LandingSettings:
    """A landing's rendered, checked arguments: what :meth:`IntervalsLandingOperator.execute` uses.

    :param window: the run's window.
    :param allow_empty: publish an empty window, or fail.
    :param records_per_part: items per part file.
    :param concurrency: the most sub-windows fetched at once (workers started as needed).
    :param compresslevel: gzip level for ``jsonl``.
    :param split_days: days per sub-window, or ``None`` for the cut of
        :meth:`~airflow_provider_intervals.windows.Window.sub_windows`.
    :param deferrable: defer to the triggerer when the wait for the allowance is long.
    :param defer_after: the longest wait for the allowance on the worker, in seconds.
    """

    window: Window
    allow_empty: bool
    records_per_part: int
    concurrency: int
    compresslevel: int
    split_days: int | None
    deferrable: bool = False
    defer_after: float = DEFAULT_DEFER_AFTER


class IntervalsLandingOperator(DeferrableLanding, LandingLineage, BaseOperator):
    """Land one Intervals listing per run window in object storage, exactly once per window.

    Pages stream from the API into part files under a prefix derived from the window and
    filters (``{output_path}/{resource}/{filters}/date_from=.../date_to=.../``), published
    atomically with a manifest and a ``_SUCCESS`` marker; a retry resumes from the last
    finished part. Returns (XCom) the manifest's path, the window and the counts, never the
    items. Subclasses set :attr:`resource` and implement :meth:`pages` and, when the listing
    has filters, :meth:`target_partition` and :meth:`filters`.

    Deferrable, a landing whose wait for the API's allowance would be longer than
    ``defer_after`` checkpoints what it fetched, waits in the triggerer with its worker slot
    free, and resumes where it stopped (:mod:`~airflow_provider_intervals.operators.deferral`).

    :param output_path: root of the landing zone, any ``ObjectStoragePath`` URL
        (``file:///data/intervals``, ``s3://bucket/intervals``). Templated. (Not ``output``:
        that name is taken by ``BaseOperator.output``, the task's XComArg.)
    :param intervals_conn_id: the Intervals connection. Templated.
    :param output_conn_id: connection for the object store (e.g. an ``aws`` connection). Templated.
    :param date_from: first day (``YYYY-MM-DD``); default from the data interval. Templated.
    :param date_to: last day, inclusive; default from the data interval. Templated.
    :param format: ``jsonl`` (gzip JSON Lines, default) or ``parquet``. Templated.
    :param records_per_part: items per part file (default 100,000). Templated.
    :param concurrency: the most sub-windows fetched at once (default 8, at most 16), one
        worker and one HTTP session each. Workers start one by one as the measured round trip
        needs them to spend the key's paced rate (``rate x round trip`` requests in flight,
        with headroom; see :mod:`airflow_provider_intervals.inflight`), so a slow network gets
        more and a near one fewer; an unpaced key (unknown plan) gets up to ``concurrency``.
        The hook waits out 429s, so the rate limit holds. Templated.
    :param split_days: days per sub-window; default: the window cut into ``2 x concurrency``
        sub-windows, longest first (one when ``concurrency`` is 1), at least a day each. Only
        for date-filtered listings. Templated.
    :param allow_empty: publish an empty window (default) or fail the task. Templated.
    :param compresslevel: gzip level 0-9 for ``jsonl`` (default 5). Templated.
    :param progress_interval: seconds between progress log lines (default 5).
    :param deferrable: defer to the triggerer instead of waiting long for the allowance on the
        worker (default from ``[operators] default_deferrable``, else ``False``: wait, up to the
        connection's ``max_rate_limit_wait``, then fail).
    :param defer_after: with ``deferrable``, the longest wait for the allowance on the worker,
        in seconds (default 300, at most 86400); a longer one defers. Templated.
    """

    #: The listing's schema name, a key of :data:`~airflow_provider_intervals.storage.formats.SCHEMAS`.
    resource: str = ""
    #: The first path segment under ``output_path``; empty: the resource.
    directory: str = ""
    #: Whether the window filters the listing (else the window's last day names a snapshot).
    date_filtered = False
    template_fields: Sequence[str] = (
        *("output_path", "intervals_conn_id", "output_conn_id", "date_from", "date_to", "format"),
        *("records_per_part", "concurrency", "split_days", "allow_empty", "compresslevel", "defer_after"),
    )
    ui_color = "#e8f4ea"
    operator_extra_links = (links.LandedWindowLink(),)

    def __init__(
        self,
        *,
        output_path: str,
        intervals_conn_id: str = DEFAULT_CONN_ID,
        output_conn_id: str | None = None,
        date_from: Any = None,
        date_to: Any = None,
        format: str = "jsonl",
        records_per_part: int = landing.DEFAULT_RECORDS_PER_PART,
        concurrency: int = inflight.DEFAULT_CONCURRENCY,
        split_days: int | None = None,
        allow_empty: bool = True,
        compresslevel: int = formats.DEFAULT_COMPRESSLEVEL,
        progress_interval: float = landing.DEFAULT_PROGRESS_INTERVAL,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        defer_after: float = DEFAULT_DEFER_AFTER,
        **kwargs: Any,
    ) -> None:
        if (
            "outlets" not in kwargs
            and isinstance(output_path, str)
            and "{{" not in output_path
            and "://" in output_path
        ):
            # The asset is the resource's root, fixed at parse time; each run's window rides in
            # the asset event's extra (manifest, window).
            kwargs["outlets"] = [Asset(uri=f"{output_path.rstrip('/')}/{self.directory or self.resource}")]
        super().__init__(**kwargs)
        self.output_path = output_path
        self.intervals_conn_id = intervals_conn_id
        self.output_conn_id = output_conn_id
        self.date_from = date_from
        self.date_to = date_to
        self.format = format
        self.records_per_part = records_per_part
        self.concurrency = concurrency
        self.split_days = split_days
        self.allow_empty = allow_empty
        self.compresslevel = compresslevel
        self.progress_interval = progress_interval
        self.deferrable = deferrable
        self.defer_after = defer_after

    @cached_property
    def hook(self) -> IntervalsHook:
        """The Intervals hook (the first worker's; others get their own, see :meth:`get_hook`)."""
        return self.get_hook()

    def get_hook(self) -> IntervalsHook:
        """Return a new hook: one per concurrent worker, so each has its own session.

        A deferrable landing's hooks wait at most ``defer_after`` for the allowance, then raise
        (and the landing defers).
        """
        from airflow_provider_intervals.hooks.intervals import IntervalsHook

        wait = self.defer_after if self.deferrable is True else None
        return IntervalsHook(intervals_conn_id=self.intervals_conn_id, max_rate_limit_wait=wait)

    # ------------------------------------------------------------------ subclass interface

    def request(self, window: Window) -> api.Request:
        """Return the listing's first request for ``window``: what it lists, with which filters.

        Built by the API's pure request builders, it checks the filters (a bad value fails
        here, before any request is sent) and names the listing for lineage. Nothing is sent,
        and nothing is built to be thrown away.
        """
        raise NotImplementedError

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return the listing's pages for ``window`` (a sub-window when date-filtered) after ``after``.

        The landing calls it once per stream (and once more per resumption) and consumes what
        it returns; the hook fetches pages only as they are asked for.
        """
        raise NotImplementedError

    def target_partition(self) -> dict[str, str]:
        """Return the ordered ``key -> value`` path segments naming what is landed (the filters).

        They are the same for every window: ``{output_path}/{directory}/`` and these segments
        are the landing's target, one dataset across runs (see :meth:`partition`).
        """
        return {}

    def window_partition(self, window: Window) -> dict[str, str]:
        """Return the window's path segments: ``date_from`` and ``date_to``, or a snapshot's day."""
        if self.date_filtered:
            return {"date_from": window.date_from, "date_to": window.date_to}
        return {"snapshot": window.date_to}

    def partition(self, window: Window) -> dict[str, str]:
        """Return the ordered path segments of the window's prefix: the target's, then the window's."""
        return {**self.target_partition(), **self.window_partition(window)}

    def filters(self) -> dict[str, Any]:
        """Return the listing's filters, as recorded in the manifest."""
        return {}

    def resolve_personal_data(self) -> personal.PersonalData | None:
        """Return the policy for the listing's personal fields, key read; ``None``: it has none.

        Called once the arguments are checked, before any request (a missing key fails here).
        """
        return None

    # ------------------------------------------------------------------ execution

    def check_arguments(self, context: Any) -> LandingSettings:
        """Check every rendered argument; return them as settings. Raise before any request."""
        if self.format not in formats.FORMATS:
            raise exc.IntervalsArgumentError(
                "format", self.format, f"expected one of {', '.join(formats.FORMATS)}"
            )
        if not _is_storage_url(self.output_path):
            # A bare path would land relative to the worker's working directory: refuse it.
            raise exc.IntervalsArgumentError(
                "output_path",
                self.output_path,
                "expected a storage URL such as 's3://bucket/intervals' or 'file:///data'",
            )
        split_days = self.split_days
        if split_days is not None:
            split_days = validation.check_whole("split_days", split_days, 1, 100_000)
        per_part = validation.check_whole("records_per_part", self.records_per_part, 1, 100_000_000)
        if not isinstance(self.deferrable, bool):
            raise exc.IntervalsArgumentError("deferrable", self.deferrable, "expected True or False")
        return LandingSettings(
            deferrable=self.deferrable,
            defer_after=validation.check_seconds("defer_after", self.defer_after, MAX_RATE_LIMIT_WAIT),
            allow_empty=validation.check_flag("allow_empty", self.allow_empty),
            records_per_part=per_part,
            concurrency=validation.check_whole("concurrency", self.concurrency, 1, MAX_CONCURRENCY),
            compresslevel=validation.check_whole("compresslevel", self.compresslevel, 0, 9),
            split_days=split_days,
            window=resolve_window(context, self.date_from, self.date_to),
        )

    def streams(self, settings: LandingSettings, data: personal.PersonalData | None = None) -> list[Stream]:
        """Return the listings to land: one per sub-window, named by position.

        Each stream's filters are checked here (:meth:`request`), before any request or output;
        its pages are asked for only when the landing consumes them, with ``data``'s policy
        applied to their personal fields before anything is written.
        """
        streams = []
        for i, sub in enumerate(self.sub_windows(settings)):
            self.request(sub)  # checks the filters: pure, nothing sent, nothing to close

            def pages(client: IntervalsHook, after: str | None, sub: Window = sub) -> Iterator[api.Page]:
                listed = self.pages(client, sub, after)
                return listed if data is None else data.pages(listed)

            # The policy and key are part of what a checkpoint resumes: parts never mix them.
            listing = {"resource": self.directory or self.resource, **self.filters()}
            listing.update(data.fingerprint() if data is not None else {})
            if self.date_filtered:
                listing.update(date_from=sub.date_from, date_to=sub.date_to)
            streams.append(Stream(f"{i:03d}", pages, listing, f"{sub.date_from}..{sub.date_to}"))
        return streams

    def columns(self, data: personal.PersonalData | None) -> formats.Columns:
        """Return the Parquet columns as landed: the resource's schema, after ``data``'s policy."""
        columns = formats.SCHEMAS[self.resource]
        if data is None:
            return formats.Columns(columns)
        return formats.Columns(data.columns(columns), data.notes())

    def sub_windows(self, settings: LandingSettings) -> list[Window]:
        """Return the sub-windows to fetch, in order (just the window when not date-filtered)."""
        if not self.date_filtered:
            return [settings.window]
        return settings.window.sub_windows(settings.concurrency, settings.split_days)

    def execute(self, context: Any) -> dict[str, Any]:
        """Land the run's window and return its manifest's location, window and counts.

        Deferrable, it may defer for the allowance instead;
        :meth:`~airflow_provider_intervals.operators.deferral.DeferrableLanding.execute_complete`
        goes on.
        """
        return self._land(context, {})

    def _land(self, context: Any, resume: dict[str, Any]) -> dict[str, Any]:
        settings = self.check_arguments(context)
        window = settings.window
        data = self.resolve_personal_data()  # reads the key, if any: still no request made
        self._run = LandingRun(window, personal=data)
        streams = self.streams(settings, data)  # checks the filters: still no request made
        try:
            root = ObjectStoragePath(self.output_path.strip(), conn_id=self.output_conn_id or None)
        except (ValueError, ImportError) as error:  # unknown scheme, bucket missing, ...
            raise exc.IntervalsArgumentError(
                "output_path", self.output_path, f"{error}; expected e.g. 's3://bucket/intervals'"
            ) from error
        self.hook.prepare()  # a connection without a key fails here, before any output
        prefix = window_prefix(root, self.directory or self.resource, self.partition(window))
        description = {
            "window": {"date_from": window.date_from, "date_to": window.date_to},
            "filters": self.filters(),
            **({"personal_data": data.manifest()} if data is not None else {}),
        }
        self.log.info(
            "Landing %s for %s .. %s in %d stream(s), up to %d at a time, into %s",
            *(self.resource, window.date_from, window.date_to),
            *(len(streams), settings.concurrency, prefix),
        )
        workers = min(settings.concurrency, len(streams))
        # Ready before the worker threads start: from them, only the checkpoint talks to Airflow.
        clients = [self.hook] + [self.get_hook().prepare() for _ in range(workers - 1)]
        store = self.checkpoint_store(context, settings.deferrable, resume)
        try:
            result = land(
                prefix,
                streams,
                clients,
                resource=self.resource,
                description=description,
                fmt=self.format,
                records_per_part=settings.records_per_part,
                compresslevel=settings.compresslevel,
                state_store=store,
                allow_empty=settings.allow_empty,
                log=self.log,
                progress_interval=self.progress_interval,
                pause_on_rate_limit=settings.deferrable,
                more=inflight.Sizer(settings.concurrency, clients, self.log).more,
                columns=self.columns(data),
            )
        except LandingPaused as pause:
            self.defer_for_allowance(pause, resume, store, settings.defer_after)
        finally:
            for client in clients:
                client.close()
        self._run.result = result
        links.LandedWindowLink.record(self, links.storage_url(result.manifest, context.get("ti")))
        if result.records == 0:
            self.log.info("The window %s .. %s has no %s", window.date_from, window.date_to, self.resource)
        summary = {
            "manifest": str(result.manifest),
            "prefix": str(prefix),
            "date_from": window.date_from,
            "date_to": window.date_to,
            "records": result.records,
            "parts": result.parts,
            **self.try_counts(resume, result),  # requests, resumed_parts, deferrals
        }
        outlet_events = context.get("outlet_events")
        for outlet in self.outlets if outlet_events is not None else ():
            if isinstance(outlet, Asset):
                outlet_events[outlet].extra = {
                    k: summary[k] for k in ("manifest", "date_from", "date_to", "records")
                }
        return summary
