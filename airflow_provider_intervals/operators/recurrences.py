"""Land a snapshot of the recurrences (``GET /recurrences``).

The listing has no date filter: the run's window (see :mod:`airflow_provider_intervals.windows`)
only names the snapshot, ``{output_path}/recurrences/status={status or all}/snapshot={date_to}/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intervals import api
from airflow_provider_intervals.operators.landing import IntervalsLandingOperator
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals import api
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


class IntervalsRecurrencesOperator(IntervalsLandingOperator):
    """Land a snapshot of the recurrences (``GET /recurrences``), named by the run's last day.

    :param status: only recurrences with this status (``active``, ``paused``, ``archived``). Templated.
    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`.
    """

    resource = "recurrences"
    template_fields: Sequence[str] = (*IntervalsLandingOperator.template_fields, "status")

    def __init__(self, *, status: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = status

    def request(self, window: Window) -> api.Request:
        """Return ``GET /recurrences`` (the window only names the snapshot)."""
        return api.recurrences_request(status=self.status or None)

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return ``GET /recurrences``'s pages (the window only names the snapshot)."""
        return hook.recurrence_pages(status=self.status or None, after=after)

    def target_partition(self) -> dict[str, str]:
        """Return the ``status`` segment (the window adds ``snapshot``)."""
        return {"status": self.status or "all"}

    def filters(self) -> dict[str, Any]:
        """Return the status filter."""
        return {"status": self.status or None}
