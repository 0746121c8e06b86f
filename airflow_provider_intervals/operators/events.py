"""Land events: all of the organisation's (``GET /events``) or one group's, per run window.

Both operators filter by the run's window (see
:mod:`airflow_provider_intervals.windows` for the window rules) and land under
``{output_path}/events/type={event_type or all}/date_from=.../date_to=.../`` (group events:
``{output_path}/group_events/group={slug}/type=.../...``). Long windows are cut into
sub-windows fetched by up to ``concurrency`` workers, as many as the round trip needs (see
:mod:`airflow_provider_intervals.inflight`); their parts follow each other in the manifest,
sub-window by sub-window, each in the API's order.

Example (``CronDataIntervalTimetable("@daily")``, so each run covers the previous day)::

    IntervalsEventsOperator(
        task_id="land_events",
        output_path="s3://lake/intervals",
        output_conn_id="aws_lake",
        event_type="race",
    )
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intervals import api, validation
from airflow_provider_intervals.operators.landing import IntervalsLandingOperator
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals import api
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


class IntervalsEventsOperator(IntervalsLandingOperator):
    """Land the events dated inside the run's window (``GET /events``).

    :param event_type: only events of this type (``race``, ``runClub``, ``timeTrial``,
        ``other``); default all. Templated.
    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`
        (``output_path``, ``date_from``, ``date_to``, ``format``, ``concurrency``, ``deferrable``,
        ``defer_after``, ...).
    """

    resource = "events"
    date_filtered = True
    template_fields: Sequence[str] = (*IntervalsLandingOperator.template_fields, "event_type")

    def __init__(self, *, event_type: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_type = event_type

    def query(self, window: Window) -> dict[str, Any]:
        """Return the listing's filters for the sub-window, as the request builders take them."""
        return {
            "event_type": self.event_type or None,
            "date_from": window.date_from,
            "date_to": window.date_to,
        }

    def request(self, window: Window) -> api.Request:
        """Return ``GET /events`` for the sub-window."""
        return api.events_request(**self.query(window))

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return ``GET /events``'s pages for the sub-window."""
        return hook.event_pages(**self.query(window), after=after)

    def target_partition(self) -> dict[str, str]:
        """Return the ``type`` segment (the window adds ``date_from`` and ``date_to``)."""
        return {"type": self.event_type or "all"}

    def filters(self) -> dict[str, Any]:
        """Return the type filter."""
        return {"event_type": self.event_type or None}


class IntervalsGroupEventsOperator(IntervalsEventsOperator):
    """Land the events of one group dated inside the run's window (``GET /groups/{slug}/events``).

    :param group_slug: the group's slug. Templated.
    :param event_type: only events of this type; default all. Templated.
    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`.
    """

    directory = "group_events"
    template_fields: Sequence[str] = (*IntervalsEventsOperator.template_fields, "group_slug")

    def __init__(self, *, group_slug: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group_slug = group_slug

    def request(self, window: Window) -> api.Request:
        """Return ``GET /groups/{slug}/events`` for the sub-window."""
        slug = validation.check_id("group_slug", self.group_slug)  # named as the caller wrote it
        return api.group_events_request(slug, **self.query(window))

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return ``GET /groups/{slug}/events``'s pages for the sub-window."""
        slug = validation.check_id("group_slug", self.group_slug)
        return hook.group_event_pages(slug, **self.query(window), after=after)

    def target_partition(self) -> dict[str, str]:
        """Return ``group`` and ``type`` segments (the window adds ``date_from`` and ``date_to``)."""
        return {"group": validation.check_id("group_slug", self.group_slug), **super().target_partition()}

    def filters(self) -> dict[str, Any]:
        """Return the group and type filters."""
        return {"group_slug": self.group_slug, **super().filters()}
