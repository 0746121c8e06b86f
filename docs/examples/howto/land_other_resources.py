"""How-to: land group events, registrations, recurrences and groups (docs/howto/landing.md).

One DAG, run daily, with a task per resource. Each lands exactly once per run window into
``{landing}/{resource}/...`` with a manifest and a ``_SUCCESS`` marker, like the events landing.
Group events are date-filtered, like events; registrations, recurrences and groups are
snapshots, one per run day (``snapshot=YYYY-MM-DD`` in the path).

Needs the connection ``intervals_default`` (scopes ``read:events``, ``read:groups``,
``read:participants``, ``read:recurrences``), and for the registrations the pseudonymisation key:
the connection ``intervals_pseudonymisation`` (password: the key; extra ``{"key_version": "v1"}``).
Where it lands, and which group and event, are params: override them when you trigger it.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from airflow_provider_intervals.operators.events import IntervalsGroupEventsOperator
from airflow_provider_intervals.operators.groups import IntervalsGroupsOperator
from airflow_provider_intervals.operators.recurrences import IntervalsRecurrencesOperator
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator

with DAG(
    dag_id="intervals_howto_land_resources",
    schedule=None,
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    params={
        "landing": Param("file:///tmp/intervals-lake", type="string", description="landing zone URL"),
        "group_slug": Param("lakefront", type="string", description="the group whose events land"),
        "event_id": Param("e72tuv901wxy234", type="string", description="the event whose registrations land"),
    },
    tags=["intervals", "howto"],
) as dag:
    # [START howto_group_events]
    IntervalsGroupEventsOperator(
        task_id="land_group_events",
        output_path="{{ params.landing }}",
        group_slug="{{ params.group_slug }}",
        date_from="2025-01-01",  # templated; default: the run's data interval
        date_to="{{ ds }}",
    )
    # [END howto_group_events]

    # [START howto_registrations]
    # Personal data: each email, name and bib lands as a keyed token ("v1:3f9a..."), the same for
    # one person under one key, so repeat runners can still be counted and joined.
    IntervalsRegistrationsOperator(
        task_id="land_registrations",
        output_path="{{ params.landing }}",
        event_id="{{ params.event_id }}",
        personal_data="pseudonymise",  # the default; "drop": none of them, "keep": the values
        pseudonymisation_conn_id="intervals_pseudonymisation",  # the default: holds the key
    )
    # [END howto_registrations]

    # [START howto_recurrences_and_groups]
    IntervalsRecurrencesOperator(
        task_id="land_recurrences", output_path="{{ params.landing }}", status="active"
    )
    IntervalsGroupsOperator(task_id="land_groups", output_path="{{ params.landing }}")
    # [END howto_recurrences_and_groups]
