"""IntervalsNewEventsSensor: wait until an organisation publishes events not seen before.

"Before" is a durable baseline per feed (connection + filters), kept in Airflow's own
state, never on a worker's disk: Airflow 3.3's ``asset_state_store`` on the sensor's
feed asset, or an Airflow Variable where that store is unavailable (Airflow < 3.3).
See :mod:`airflow_provider_intervals.watermark` for how the baseline is a watermark cursor,
so a poll with nothing new costs one request.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseSensorOperator, PokeReturnValue

try:
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException
except ImportError:  # Airflow < 3.2: these live in core, not yet in the SDK
    from airflow.configuration import conf
    from airflow.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import watermark
from airflow_provider_intervals.connection import DEFAULT_CONN_ID

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


#: The asset whose state store holds the baselines when ``feed`` is not given. It is fixed
#: (Airflow needs inlets at parse time, and the connection id is templated); each baseline's
#: key names the rendered connection and the filters, so feeds of several connections share it.
DEFAULT_FEED = Asset(name="intervals-new-events", uri="intervals://events")


def default_feed(intervals_conn_id: str) -> Asset:
    """Return an asset naming one connection's event feed, to pass as ``feed=`` (keeps its baselines apart).

    :param intervals_conn_id: the connection's id, as a literal (not a template).
    """
    return Asset(
        name=f"intervals-new-events-{intervals_conn_id}", uri=f"intervals://{intervals_conn_id}/events"
    )


class IntervalsNewEventsSensor(BaseSensorOperator):
    """Succeed when the API lists events (matching the filters) that were not there before.

    Returns (XCom) ``new_event_ids`` (at most 100), ``new_event_count`` (exact),
    ``ids_truncated``, ``date_from`` / ``date_to`` (the span of the new events' dates) and
    ``by_type`` counts: enough to pull the new events' window with
    :class:`~airflow_provider_intervals.operators.events.IntervalsEventsOperator`.

    :param intervals_conn_id: the Intervals connection. Templated.
    :param event_type: only events of this type. Templated.
    :param date_from: only events on or after this day (``YYYY-MM-DD``). Templated. It may
        move forward between runs (``"{{ ds }}"``) and keep the feed's baseline: the cheap way
        to watch upcoming events, since the first poll lists only what lies ahead.
    :param date_to: only events on or before this day. Templated.
    :param known_event_ids: ids that are not new; replaces the stored baseline. Templated.
    :param first_run: with no baseline yet, ``"baseline"`` (default) records what is listed
        now and waits for newer events; ``"all"`` reports everything listed as new.
    :param feed: the asset whose state store keeps the baselines; default :data:`DEFAULT_FEED`
        (``intervals-new-events``), keyed inside by connection and filters.
    :param deferrable: wait in the triggerer instead of a worker slot (default from
        ``[operators] default_deferrable``).
    :param poke_interval: seconds between polls (default 300: 12 requests an hour when
        nothing is new; on the free plan's 100 requests/day use at least 900).
    """

    template_fields: Sequence[str] = (
        "intervals_conn_id",
        "event_type",
        "date_from",
        "date_to",
        "known_event_ids",
    )
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        intervals_conn_id: str = DEFAULT_CONN_ID,
        event_type: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        known_event_ids: list[str] | None = None,
        first_run: str = "baseline",
        feed: Asset | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 300,
        **kwargs: Any,
    ) -> None:
        feed = feed or DEFAULT_FEED
        super().__init__(poke_interval=poke_interval, inlets=[*kwargs.pop("inlets", []), feed], **kwargs)
        self.intervals_conn_id = intervals_conn_id
        self.event_type = event_type
        self.date_from = date_from
        self.date_to = date_to
        self.known_event_ids = known_event_ids
        self.first_run = first_run
        self.feed = feed
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> IntervalsHook:
        """The sync hook, created on first use."""
        from airflow_provider_intervals.hooks.intervals import IntervalsHook

        return IntervalsHook(self.intervals_conn_id)

    # ------------------------------------------------------------------ arguments and state

    def _filters(self) -> dict[str, Any]:
        if self.first_run not in watermark.FIRST_RUN_MODES:
            raise exc.IntervalsArgumentError("first_run", self.first_run, "expected 'baseline' or 'all'")
        if self.known_event_ids is not None and (
            isinstance(self.known_event_ids, str) or not all(isinstance(i, str) for i in self.known_event_ids)
        ):
            raise exc.IntervalsArgumentError(
                "known_event_ids", self.known_event_ids, "expected a list of event ids (strings)"
            )
        return watermark.check_filters(self.event_type, self.date_from, self.date_to)

    def _store(self, context: Any) -> tuple[Any, str]:
        """Return the state accessor and the key of this feed's baseline."""
        key = watermark.feed_key(self.intervals_conn_id, self._filters())
        stores = context.get("asset_state_store")
        if stores is not None:
            return stores[self.feed], "baseline-" + key
        from airflow.sdk import Variable  # Airflow < 3.3: no asset state store

        return _VariableStore(Variable), key

    def load_baseline(self, context: Any) -> watermark.Baseline:
        """Read this feed's stored baseline (an empty one if none was stored)."""
        store, key = self._store(context)
        return watermark.Baseline.from_state(store.get(key, None))

    def save_baseline(self, context: Any, baseline: watermark.Baseline) -> None:
        """Store this feed's baseline (skipped when ``known_event_ids`` replaces it)."""
        if self.known_event_ids is None:
            store, key = self._store(context)
            store.set(key, baseline.to_state())

    # ------------------------------------------------------------------ poke (sync) mode

    def _poll(self, baseline: watermark.Baseline) -> watermark.Scan:
        filters = self._filters()
        known = None if self.known_event_ids is None else frozenset(self.known_event_ids)
        if baseline.established and not baseline.covers(filters["date_from"]):
            self.log.warning(
                "This feed's baseline was taken from date_from=%s; date_from=%s lies before it, so a new "
                "baseline is taken (events dated in between are not reported as new)",
                baseline.date_from,
                filters["date_from"],
            )
        scan, after = watermark.plan_poll(baseline, self.first_run, known, filters["date_from"])
        full = after is None
        if full:
            self._log_listing_cost(filters)
        started, pages = time.monotonic(), 0
        try:
            for page in self.hook.event_pages(**filters, after=after):
                scan.add_page(page)
                pages += 1
        except exc.IntervalsValidationError as error:
            if not watermark.is_stale_cursor(error):
                raise
            self.log.warning("The baseline's cursor is no longer valid for this feed; taking a new baseline")
            return self._poll(watermark.Baseline())
        if full:
            self.log.info(
                "Listed the whole feed once: %d requests in %.1fs; later polls cost one request while "
                "nothing is new",
                pages,
                time.monotonic() - started,
            )
        return scan

    def _log_listing_cost(self, filters: dict[str, Any]) -> None:
        """Say up front what listing the whole feed costs, at the key's pace."""
        bucket, page_size = self.hook.bucket, self.hook.page_size
        if bucket is None:
            pace = "not paced (the key's plan is unknown)"
        else:
            per_thousand = (1000 / page_size) / bucket.rate.per_second
            pace = (
                f"paced at {bucket.rate.describe()}: {per_thousand:,.0f}s per 1,000 events "
                f"after the first {bucket.rate.burst} requests"
            )
        bound = (
            f"from {filters['date_from']}"
            if filters["date_from"]
            else "with no date_from: to watch upcoming events cheaply, set date_from='{{ ds }}'"
        )
        self.log.info(
            "Taking this feed's baseline: listing every event matching it once (%s), one request per "
            "%d events, %s",
            bound,
            page_size,
            pace,
        )

    def poke(self, context: Any) -> PokeReturnValue:
        """Poll once; done when new events are listed. A 429 that outlasts the hook's wait is 'not yet'."""
        baseline = self.load_baseline(context)
        try:
            scan = self._poll(baseline)
        except exc.IntervalsRateLimitError as error:
            self.log.warning("Rate limited (%s); polling again in %ss", error, self.poke_interval)
            return PokeReturnValue(is_done=False)
        self.save_baseline(context, scan.baseline_after(baseline))
        if not scan.count:
            self.log.info("No new events (baseline %s)", "taken" if not baseline.established else "kept")
            return PokeReturnValue(is_done=False)
        self.log.info("%d new events, dated %s to %s", scan.count, scan.first_date, scan.last_date)
        return PokeReturnValue(is_done=True, xcom_value=scan.summary())

    # ------------------------------------------------------------------ deferrable mode

    def execute(self, context: Any) -> Any:
        """Poke mode: BaseSensorOperator's loop. Deferrable: poll once here, then defer the wait."""
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)  # takes the baseline on the worker, where the state store is
        if first.is_done:
            return first.xcom_value
        from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsTrigger

        deadline = time.time() + self.timeout
        self.defer(
            trigger=IntervalsNewEventsTrigger(
                intervals_conn_id=self.intervals_conn_id,
                filters=self._filters(),
                baseline=self.load_baseline(context).to_state(),
                first_run=self.first_run,
                known_event_ids=None if self.known_event_ids is None else list(self.known_event_ids),
                poll_interval=float(self.poke_interval),
                deadline=deadline,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout + 60),
        )
        return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: store the baseline and return the summary, or fail as poke would."""
        status = event.get("status")
        if event.get("baseline") is not None:
            self.save_baseline(context, watermark.Baseline.from_state(event["baseline"]))
        if status == "success":
            self.log.info(
                "%d new events, dated %s to %s",
                event["new_event_count"],
                event["date_from"],
                event["date_to"],
            )
            return {k: v for k, v in event.items() if k not in ("status", "baseline")}
        if status == "timeout":
            message = f"No new Intervals events within {self.timeout}s"
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        raise exc.error_from_dict(event)


class _VariableStore:
    """The asset state store's ``get``/``set`` over Airflow Variables (JSON values)."""

    def __init__(self, variable: Any) -> None:
        self._variable = variable

    def get(self, key: str, default: Any = None) -> Any:
        return self._variable.get(key, default=default, deserialize_json=True)

    def set(self, key: str, value: Any) -> None:
        self._variable.set(key, value, serialize_json=True)
