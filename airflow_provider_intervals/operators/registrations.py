"""Land the registrations of one event (``GET /registration``): personal data.

Registrations carry emails and names. Nothing here logs an item, a page or a field of
one: the logs show counts, the manifest shows counts and checksums. Land them in a store
whose access you control, and keep them out of XCom (the operator returns only the
manifest's location and counts).
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


class IntervalsRegistrationsOperator(IntervalsLandingOperator):
    """Land a snapshot of one event's registrations at ``{output_path}/registrations/event_id=...``.

    :param event_id: the event's ``_id``. Templated (map it over a list of ids with
        ``.partial(...).expand(event_id=...)`` to land several events).
    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`.
    """

    resource = "registrations"
    template_fields: Sequence[str] = (*IntervalsLandingOperator.template_fields, "event_id")

    def __init__(self, *, event_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_id = event_id

    def request(self, window: Window) -> api.Request:
        """Return ``GET /registration?eventId=...``."""
        return api.registrations_request(self.event_id)

    def pages(self, hook: IntervalsHook, window: Window, after: str | None) -> Iterator[api.Page]:
        """Return ``GET /registration?eventId=...``'s pages."""
        return hook.registration_pages(self.event_id, after=after)

    def target_partition(self) -> dict[str, str]:
        """Return the ``event_id`` segment (the window adds ``snapshot``)."""
        return {"event_id": validation.check_id("event_id", self.event_id)}

    def filters(self) -> dict[str, Any]:
        """Return the event filter."""
        return {"event_id": self.event_id}
