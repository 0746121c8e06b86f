"""Create one event or register one participant, exactly once per task instance.

The body is a templated argument (``event=``, ``registration=``): a mapping whose values
may be templates, or a template rendering a whole JSON object. Rendered text in a number
field (``lat``, ``lng``) or an object field (``address``) is parsed the way a CSV cell is
(see :mod:`.rows`), so ``"lat": "{{ params.lat }}"`` works without native rendering.

The body is checked by the API's rules before any request. The ``Idempotency-Key`` is
derived from the task instance and the body (:mod:`.keys`): a retry replays the first
creation instead of making a second one. Only the new id is returned (XCom) and logged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import links
from airflow_provider_intervals.connection import DEFAULT_CONN_ID
from airflow_provider_intervals.operators.writes.keys import RunIdentity
from airflow_provider_intervals.operators.writes.kinds import EVENT, REGISTRATION, ROW_ERRORS, Kind, annotate
from airflow_provider_intervals.operators.writes.rows import canonical, coerce_text_fields

if TYPE_CHECKING:  # imported when a task runs, not at DAG parse (the http provider is heavy)
    from airflow_provider_intervals.hooks.intervals import IntervalsHook


class IntervalsWriteOneOperator(BaseOperator):
    """Base of the single-row write operators; a subclass names its :class:`.Kind` and body argument.

    :param intervals_conn_id: the Intervals connection. Templated.
    :param idempotency_namespace: salt of the derived key; change it to create again on
        purpose in the same run. Templated.
    :param idempotency_key: send this key instead of the derived one (e.g. an id from the
        source system, ``"{{ params.order_id }}"``), making the write once per key across runs
        (within the API's key lifetime). Templated.
    """

    kind: Kind = EVENT
    body_argument = ""
    template_fields: Sequence[str] = ("intervals_conn_id", "idempotency_namespace", "idempotency_key")
    ui_color = "#fdf0e0"
    _created: int | None = None  # set by execute(): objects created (1), read by the OpenLineage methods

    def __init__(
        self,
        *,
        intervals_conn_id: str = DEFAULT_CONN_ID,
        idempotency_namespace: str | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.intervals_conn_id = intervals_conn_id
        self.idempotency_namespace = idempotency_namespace
        self.idempotency_key = idempotency_key

    @cached_property
    def hook(self) -> IntervalsHook:
        """The Intervals hook."""
        from airflow_provider_intervals.hooks.intervals import IntervalsHook

        return IntervalsHook(intervals_conn_id=self.intervals_conn_id)

    def checked_body(self) -> dict[str, Any]:
        """Return the rendered body checked by the API's rules; raise naming ``argument.field``."""
        name, body = self.body_argument, getattr(self, self.body_argument)
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                raise exc.IntervalsArgumentError(
                    name, "<text>", "expected a mapping, or text that is a JSON object"
                ) from None
        if not isinstance(body, dict):
            raise exc.IntervalsArgumentError(
                name, type(body).__name__, "expected a mapping of field -> value"
            )
        try:
            return self.kind.check(coerce_text_fields(self.kind, body))
        except exc.IntervalsArgumentError as error:
            value = error.value if self.kind.may_quote(error.argument) else "<redacted>"
            raise exc.IntervalsArgumentError(f"{name}.{error.argument}", value, error.expected) from None

    def execute(self, context: Any) -> str:
        """Check the body, send it with its derived key and return the new id."""
        body = self.checked_body()
        key = self.idempotency_key
        if key is None or not str(key).strip():
            key = RunIdentity.from_context(context, self.idempotency_namespace).key(None, canonical(body))
        where = f"{self.body_argument} ({self.kind.key_field} {body.get(self.kind.key_field)!r})"
        try:
            new_id = getattr(self.hook, self.kind.hook_method)(body, idempotency_key=str(key).strip())
        except ROW_ERRORS as error:
            raise annotate(self.kind, where, error) from None
        finally:
            self.hook.close()
        self._created = 1
        self.record_links(new_id)
        self.log.info("Intervals %s %s", self.kind.name, new_id)
        return new_id

    def record_links(self, new_id: str) -> None:
        """Point the task's extra links at what it created (see :mod:`airflow_provider_intervals.links`)."""

    def get_openlineage_facets_on_start(self) -> Any:
        """Return the API resource the write is for, as COMPLETE names it (no request sent)."""
        return self._lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return the write's lineage for OpenLineage: the API resource written, one object created."""
        return self._lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Return the API resource the failed write was for (nothing created)."""
        return self._lineage()

    def _lineage(self) -> Any:
        from airflow_provider_intervals import api, lineage

        inputs, outputs = lineage.write_datasets(
            self.hook.api_url, api.Request("POST", self.kind.path), self.kind.fields, created=self._created
        )
        return lineage.operator_lineage(inputs, outputs)


class IntervalsCreateEventOperator(IntervalsWriteOneOperator):
    """Create one event (``POST /events``) and return its id.

    Example::

        IntervalsCreateEventOperator(
            task_id="publish",
            event={"name": "Lakefront 5K - {{ ds }}", "slug": "lakefront-5k-{{ ds }}",
                   "type": "race", "date": "{{ ds }}", "startTime": "08:00"},
        )

    :param event: the body: ``name``, ``slug``, ``type``, ``date`` and optional fields
        (``endDate``, ``startTime``, ``endTime``, ``address``, ``lat``, ``lng``,
        ``description``, ``websiteUrl``, ``registrationUrl``). Templated.
    :param kwargs: see :class:`IntervalsWriteOneOperator` (connection, idempotency).
    """

    kind = EVENT
    body_argument = "event"
    template_fields: Sequence[str] = (*IntervalsWriteOneOperator.template_fields, "event")
    operator_extra_links = (links.CreatedEventLink(),)

    def __init__(self, *, event: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event = event

    def record_links(self, new_id: str) -> None:
        """Link the created event's address in the API."""
        links.CreatedEventLink.record(self, links.event_url(self.hook.api_url, new_id))


# Registration fields that identify a person: masked once rendered.
PERSONAL_FIELDS = tuple(sorted(REGISTRATION.personal))


class IntervalsRegisterParticipantOperator(IntervalsWriteOneOperator):
    """Register one participant for an event run (``POST /registration``) and return the id.

    The body is personal data: it is never logged, only the participant id reaches XCom,
    and the rendered ``email``, ``name`` and ``notes`` are registered with Airflow's secrets
    masker right after rendering, so the rendered-fields table (the UI's *Rendered Template*
    view) and the task log show ``***`` instead.

    :param registration: the body: ``eventRunId``, ``email``, ``registrationType`` and
        optional ``name``, ``status``, ``paceGroup``, ``notes``. Templated.
    :param kwargs: see :class:`IntervalsWriteOneOperator` (connection, idempotency).
    """

    kind = REGISTRATION
    body_argument = "registration"
    template_fields: Sequence[str] = (*IntervalsWriteOneOperator.template_fields, "registration")
    operator_extra_links = (links.RegistrationReferenceLink(),)

    def __init__(self, *, registration: dict[str, Any] | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registration = registration

    def record_links(self, new_id: str) -> None:
        """Link the reference of ``POST /registration``: the API has no address for a participant."""
        links.RegistrationReferenceLink.record(self, links.registration_reference_url())

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render, then mask the participant's personal fields before Airflow stores the rendering."""
        super().render_template_fields(context, jinja_env)
        from airflow.sdk.log import mask_secret

        body = self.registration
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return  # not a JSON object: execute() rejects it without sending anything
        for field in PERSONAL_FIELDS:
            value = body.get(field) if isinstance(body, dict) else None
            if isinstance(value, str) and value.strip():
                mask_secret(value)
