"""The OpenLineage side of a landing operator: the listing it reads, the target it publishes.

OpenLineage (START, COMPLETE, FAIL) names the listing in and the landing's target out,
``{output_path}/{directory}/{filters}``, the same dataset on every run;
:mod:`airflow_provider_intervals.lineage` builds the datasets. The input's schema is the API's;
the output's is the schema as landed, after the personal-data policy (a dropped field absent, a
pseudonymised one described as a token of its key version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.storage import formats, partition_path
from airflow_provider_intervals.windows import Window


@dataclass
class LandingRun:
    """What the lineage names a run by: its window, and once published, what was.

    ``execute`` keeps one for the OpenLineage listener's COMPLETE or FAIL; START makes its own
    from the run's context.

    :param window: the run's window, once the arguments were checked.
    :param result: what was published, once it was.
    :param personal: the policy for the listing's personal fields, if it has any.
    """

    window: Window
    result: Any = None
    personal: Any = None


class LandingLineage:
    """The OpenLineage methods of the landing operators (a mixin of ``IntervalsLandingOperator``).

    The operator provides the arguments, ``check_arguments``, ``request`` (the listing's first
    request, built without sending it), ``hook`` and the partitions, and sets ``_run`` when it runs.
    """

    _run: LandingRun | None = None  # set by execute(), read by the OpenLineage methods
    resource: str
    directory: str
    date_filtered: bool
    output_path: str
    hook: Any
    check_arguments: Any
    request: Any
    target_partition: Any
    window_partition: Any
    resolve_personal_data: Any
    columns: Any

    def get_openlineage_facets_on_start(self) -> Any:
        """Return what the landing reads and publishes, as COMPLETE will name it, before it runs.

        The listener calls this with the task's templates rendered. The names come from the
        rendered arguments, the connection's base URL and the run's window (the current
        context's data interval): no request is sent, nothing is created in storage. Empty
        when an argument, or the pseudonymisation key, is bad: the task fails on it before any
        request.
        """
        from airflow.sdk import get_current_context

        try:
            settings = self.check_arguments(get_current_context())
            data = self.resolve_personal_data()
        except (exc.IntervalsArgumentError, exc.IntervalsConfigurationError):
            return self._lineage(None)
        return self._lineage(LandingRun(settings.window, personal=data))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return the run's lineage: the API listing in, the landing's target out, with statistics.

        See :mod:`airflow_provider_intervals.lineage` for the names and facets.
        """
        return self._lineage(self._run)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Return what a failed landing read and was to publish (no statistics: nothing was).

        Empty when the task failed on a bad argument.
        """
        return self._lineage(self._run)

    def _lineage(self, run: LandingRun | None) -> Any:
        from airflow_provider_intervals import lineage

        if run is None:
            return lineage.operator_lineage([], [])
        window = run.window
        try:
            segments = (self.directory or self.resource, partition_path(self.target_partition()))
            target = "/".join((self.output_path.strip().rstrip("/"), *filter(None, segments)))
            partition = partition_path(self.window_partition(window))
            request = self.request(window)  # what the listing is: pure, nothing sent
        except exc.IntervalsArgumentError:  # a bad filter: the task fails on it before any request
            return lineage.operator_lineage([], [])
        facet = lineage.window_facet(
            window.date_from, window.date_to, filtered=self.date_filtered, partition=partition
        )
        inputs, outputs = lineage.landing_datasets(
            *(self.hook.api_url, request, target, formats.SCHEMAS[self.resource], facet, run.result),
            output_columns=self.columns(run.personal),
        )
        return lineage.operator_lineage(inputs, outputs)
