"""Which day a run of the daily landing lands, however the run was started.

A scheduled or backfill run of ``intervals_land_events`` (``CronDataIntervalTimetable``)
lands its data interval: the run that starts at 2025-06-02 00:00 covers 2025-06-01, and its
logical date is 2025-06-01 (the interval's start). A **manual** run's data interval depends
on how it was started: the UI and the REST API infer it from the logical date given, but
``airflow dags trigger --logical-date`` and ``TriggerDagRunOperator`` infer it from the
moment of the trigger, so a run asked for a past date would land yesterday. A manual run
therefore lands **the day before its logical date**, as the scheduled run that starts at that
moment does, whichever path started it (no logical date: the day before it was triggered).
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def landing_day(dag_run: Any, logical_date: Any, data_interval_start: Any) -> str:
    """Return the day (``YYYY-MM-DD``, UTC) the run lands.

    :param dag_run: the run (its ``run_type`` and ``run_after``).
    :param logical_date: the run's logical date (``None`` for a manual run without one).
    :param data_interval_start: the start of the run's data interval.
    """
    if getattr(dag_run, "run_type", None) == "manual":  # a str enum in the Task SDK and the core
        moment = logical_date or dag_run.run_after
        return (moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    moment = data_interval_start or logical_date
    return moment.astimezone(dt.UTC).date().isoformat()
