"""Land the registrations of one event (``GET /registration``): personal data, handled at the edge.

Registrations carry emails, names and bib numbers
(:data:`~airflow_provider_intervals.storage.formats.PERSONAL_FIELDS`). ``personal_data`` says
what lands of them: pseudonymised tokens (the default), nothing, or the values
(:mod:`airflow_provider_intervals.personal`); the policy is applied to every page before it is
written, and the manifest, the Parquet schema and the lineage say which. Nothing here logs an
item, a page or a field of one: the logs show counts, the manifest counts and checksums, and an
error about a registrations response quotes no byte of its body. The operator returns only the
manifest's location and counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_intervals import api, personal, validation
from airflow_provider_intervals.operators.landing import IntervalsLandingOperator
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS
from airflow_provider_intervals.windows import Window

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals import api
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


class IntervalsRegistrationsOperator(IntervalsLandingOperator):
    """Land a snapshot of one event's registrations at ``{output_path}/registrations/event_id=...``.

    :param event_id: the event's ``_id``. Templated (map it over a list of ids with
        ``.partial(...).expand(event_id=...)`` to land several events).
    :param personal_data: what lands of the personal fields (email, name, notes, bib):
        ``"pseudonymise"`` (default) a keyed token of each, ``"drop"`` nothing, ``"keep"`` the
        values. Templated.
    :param pseudonymisation_conn_id: with ``"pseudonymise"``, the connection whose password is
        the key and whose extra ``key_version`` names it (default ``intervals_pseudonymisation``).
        Templated.
    :param kwargs: see :class:`~airflow_provider_intervals.operators.landing.IntervalsLandingOperator`.
    """

    resource = "registrations"
    template_fields: Sequence[str] = (
        *IntervalsLandingOperator.template_fields,
        *("event_id", "personal_data", "pseudonymisation_conn_id"),
    )

    def __init__(
        self,
        *,
        event_id: str,
        personal_data: str = personal.DEFAULT_POLICY,
        pseudonymisation_conn_id: str = personal.DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event_id = event_id
        self.personal_data = personal_data
        self.pseudonymisation_conn_id = pseudonymisation_conn_id

    def check_personal_data(self) -> str:
        """Return the checked ``personal_data`` policy (and, for ``pseudonymise``, the connection id)."""
        policy = personal.check_policy(self.personal_data)
        if policy == personal.PSEUDONYMISE:
            personal.check_conn_id(self.pseudonymisation_conn_id)
        return policy

    def check_arguments(self, context: Any) -> Any:
        """Check every rendered argument, ``event_id`` and ``personal_data`` too, before the key is read."""
        self.target_partition()  # checks event_id
        self.check_personal_data()
        return super().check_arguments(context)

    def resolve_personal_data(self) -> personal.PersonalData:
        """Return the checked policy, with the key read from its connection for ``pseudonymise``."""
        policy = self.check_personal_data()
        pseudonymiser = None
        if policy == personal.PSEUDONYMISE:
            from airflow_provider_intervals.hooks.pseudonymisation import IntervalsPseudonymisationHook

            hook = IntervalsPseudonymisationHook(personal.check_conn_id(self.pseudonymisation_conn_id))
            pseudonymiser = hook.pseudonymiser
        return personal.PersonalData(policy, PERSONAL_FIELDS[self.resource], pseudonymiser)

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
