"""How-to: land events in object storage (docs/howto/land-events.md).

One DAG, run by hand, with the events operator three ways: a week of races with every argument
spelled out, a deferrable landing of the run's day, and one mapped task per day in a pool sized
for the key. A last task reads back the window the first one published, following its
manifest (docs/landing-layout.md).

Needs the connection ``intervals_default`` (scope ``read:events``) and, for the mapped task,
the pool ``intervals_api`` (``airflow pools set intervals_api 1 "one Intervals API key"``).
Where it lands is a param: override it when you trigger the DAG.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param, task

from airflow_provider_intervals.operators.events import IntervalsEventsOperator

with DAG(
    dag_id="intervals_howto_land_events",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    params={"landing": Param("file:///tmp/intervals-lake", type="string", description="landing zone URL")},
    tags=["intervals", "howto"],
) as dag:
    # [START howto_land_events]
    races = IntervalsEventsOperator(
        task_id="land_races",
        output_path="{{ params.landing }}",  # any fsspec URL: s3://lake/intervals, file:///data/lake
        output_conn_id=None,  # the object store's connection, e.g. an aws one for s3://
        event_type="race",  # or runClub, timeTrial, other; None: every type
        date_from="{{ macros.ds_add(ds, -6) }}",  # default: the run's data interval
        date_to="{{ ds }}",
        format="jsonl",  # gzip JSON Lines; "parquet" with the [parquet] extra
    )
    # [END howto_land_events]

    # [START howto_land_deferrable]
    IntervalsEventsOperator(
        task_id="land_day_deferrable",
        output_path="{{ params.landing }}",
        deferrable=True,  # a wait for the allowance longer than defer_after frees the worker
        defer_after=300,
    )
    # [END howto_land_deferrable]

    # [START howto_land_mapped]
    IntervalsEventsOperator.partial(
        task_id="land_day", output_path="{{ params.landing }}", pool="intervals_api"
    ).expand_kwargs([{"date_from": d, "date_to": d} for d in ("2025-06-01", "2025-06-02", "2025-06-03")])
    # [END howto_land_mapped]

    # [START howto_read_window]
    @task
    def count_landed(landed: dict) -> int:
        """Read the published window back, as any reader should: through its manifest."""
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_intervals.storage import iter_records, read_manifest

        manifest = ObjectStoragePath(landed["manifest"])  # XCom: paths and counts, never items
        published = read_manifest(manifest)  # the window, its filters, its parts with their sha256
        records = sum(1 for _ in iter_records(manifest, verify=True))  # checks each part first
        assert records == published["records"]
        return records

    count_landed(races.output)
    # [END howto_read_window]
