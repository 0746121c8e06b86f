"""Land a snapshot of the organisation's groups (``GET /groups``).

The listing has no date filter: the run's window (see
:mod:`airflow_provider_intervals.windows`) only names the snapshot,
``{output_path}/groups/snapshot={date_to}/``. For one group's events see
:class:`~airflow_provider_intervals.operators.events.IntervalsGroupEventsOperator`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from airflow_provider_intervals import api
from airflow_provider_intervals.operators.landing import IntervalsLandingOperator
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals import api
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


class IntervalsGroupsOperator(IntervalsLandingOperator):
    """Land every group of the organisation, one snapshot per run.

    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`.
    """

    resource = "groups"

    def request(self, window: Window) -> api.Request:
        """Return ``GET /groups``."""
        return api.groups_request()

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return ``GET /groups``'s pages."""
        return hook.group_pages(after=after)
