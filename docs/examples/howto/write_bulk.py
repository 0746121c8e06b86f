"""How-to: register every participant of an export file, exactly once (docs/howto/writes.md).

The export is a JSON Lines or CSV file in object storage, one registration per row
(``eventRunId``, ``email``, ``registrationType``, optional ``name``, ``paceGroup``...). Every
row is checked before the first request; each request carries an ``Idempotency-Key`` derived
from the task instance and the row, so a retry replays instead of registering twice, and a
rerun skips the rows the results file (``{export}.results.jsonl``) already records. Personal
fields are never logged or quoted in messages.

Needs the connection ``intervals_default`` with the scope ``write:participants``, and an
``aws`` connection when the export is on S3. Which export is a param.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from airflow_provider_intervals.operators.writes import IntervalsBulkRegisterParticipantsOperator

with DAG(
    dag_id="intervals_howto_bulk_register",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    params={"export": Param("file:///tmp/registrations.csv", type="string", description="the export's URL")},
    tags=["intervals", "howto"],
) as dag:
    # [START howto_bulk_register]
    IntervalsBulkRegisterParticipantsOperator(
        task_id="register_export",
        input_path="{{ params.export }}",  # JSON Lines or CSV, e.g. s3://lake/exports/registrations.csv
        input_conn_id=None,  # the object store's connection, e.g. an aws one for s3://
        skip_invalid=False,  # True: send the valid rows, write the others to {export}.rejects.jsonl
        max_requests_per_minute=None,  # pace lower than the key's plan, to leave room for others
    )
    # [END howto_bulk_register]
