"""Write operators: create events and register participants, exactly once across retries and reruns.

- :class:`~airflow_provider_intervals.operators.writes.single.IntervalsCreateEventOperator`,
  :class:`~airflow_provider_intervals.operators.writes.single.IntervalsRegisterParticipantOperator`: one
  templated body, returning the new id (:mod:`.single`).
- :class:`~airflow_provider_intervals.operators.writes.bulk.IntervalsBulkCreateEventsOperator`,
  :class:`~airflow_provider_intervals.operators.writes.bulk.IntervalsBulkRegisterParticipantsOperator`:
  every row of a JSON Lines or CSV file in object storage (:mod:`.bulk`; its check and send
  passes in :mod:`.passes`), with results and rejects files beside it (:mod:`.results`), CSV
  rules in :mod:`.rows`, keys in :mod:`.keys`, the kinds of rows and their errors in :mod:`.kinds`.
"""

from airflow_provider_intervals.exceptions import IntervalsInvalidRowsError, IntervalsRowsFailedError
from airflow_provider_intervals.operators.writes.bulk import (
    IntervalsBulkCreateEventsOperator,
    IntervalsBulkRegisterParticipantsOperator,
    IntervalsBulkWriteOperator,
)
from airflow_provider_intervals.operators.writes.single import (
    IntervalsCreateEventOperator,
    IntervalsRegisterParticipantOperator,
    IntervalsWriteOneOperator,
)

__all__ = [
    "IntervalsBulkCreateEventsOperator",
    "IntervalsBulkRegisterParticipantsOperator",
    "IntervalsBulkWriteOperator",
    "IntervalsCreateEventOperator",
    "IntervalsInvalidRowsError",
    "IntervalsRegisterParticipantOperator",
    "IntervalsRowsFailedError",
    "IntervalsWriteOneOperator",
]
