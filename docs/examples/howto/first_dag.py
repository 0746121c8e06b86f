"""Getting started: a first DAG, the hook inside a TaskFlow task (docs/getting-started.md, README).

It counts the races of its run's day. ``IntervalsHook.iter_events`` is a lazy generator: it
asks for 100 events a request and holds one page at a time. The hook is imported inside the
task, so parsing the DAG file loads nothing heavy.

Needs the connection ``intervals_default`` (scope ``read:events``).
"""

from __future__ import annotations

# [START first_dag]
from airflow.sdk import dag, task


@dag(schedule="@daily", catchup=False, tags=["intervals", "howto"])
def intervals_races():
    """Count the races of each day."""

    @task
    def count_races(ds=None) -> int:
        from airflow_provider_intervals.hooks.intervals import IntervalsHook

        hook = IntervalsHook()  # the connection intervals_default
        # A lazy generator: 100 events a request, one page held at a time.
        return sum(1 for _ in hook.iter_events(event_type="race", date_from=ds, date_to=ds))

    count_races()


intervals_races()
# [END first_dag]
