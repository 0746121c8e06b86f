"""Load every landed day of events into a warehouse table, idempotently, when windows land.

Shows a DAG **scheduled on an asset** that does not trust its trigger alone:
``intervals_land_events`` (and ``intervals_new_events``) update the logical asset
``intervals_landed_events`` each time they publish a window, and each asset event's extra
carries that window (``date_from``, ``date_to``) and its manifest's path. This DAG wakes up on
those events, then **reconciles**: it lists every window published in the landing zone (a
``_SUCCESS`` marker beside its manifest), adds those the triggering events name, and loads
each one the warehouse's ledger (``intervals_events_windows``: window, write id, when) does
not hold at its current write, oldest first. A window is loaded in one transaction: delete the
rows dated inside it, insert its landed records, record it in the ledger. A rerun, or a window
landed again, replaces that window's rows: no duplicates, and a reader never sees half a window.

Why reconcile: with ``max_active_runs=1`` and landings finishing together, the scheduler
defers asset-triggered runs, then creates one that consumes only the events up to the first
deferred one and drops the queue entry of the rest (upstream Airflow issue #56050): a load
driven only by its triggering events skips those windows. An event whose queue entry was
dropped was recorded before the run that dropped it was created, so that run's scan, made
when it runs, finds its window: nothing is skipped, whichever events a run is handed. A run
with nothing new loads nothing. A manual run (``airflow dags test``, *Trigger* in the UI) does the
same; the param ``reload_all`` reloads every published window, loaded or not.

**Connections.** None for the embedded default; the landing zone's ``aws`` connection when
it is on S3 (``intervals_landing_conn``, as for the landing DAG).

**Where it reads**: the landing zone of ``intervals_land_events`` (the Variables
``intervals_landing_path`` / ``intervals_landing_conn``, read at run time).

**Where it loads**, first set wins:

- ``intervals_warehouse_conn`` (Airflow Variable, read at run time) or
  ``INTERVALS_WAREHOUSE_CONN`` (environment): an Airflow connection whose hook is a common
  SQL provider ``DbApiHook``. The same DAG then targets Postgres with
  ``apache-airflow-providers-postgres`` and a connection such as
  ``AIRFLOW_CONN_WAREHOUSE='postgresql://loader:***@db.internal:5432/analytics'`` plus
  ``INTERVALS_WAREHOUSE_CONN=warehouse``; the SQL is standard and uses the driver's
  placeholder. (To run further SQL after the load, chain a ``SQLExecuteQueryOperator(conn_id=
  "warehouse", sql=...)`` from ``airflow.providers.common.sql.operators.sql``.)
- else a **DuckDB file**: ``intervals_warehouse_path`` (Variable), ``INTERVALS_WAREHOUSE_PATH``
  (environment), or ``.local/warehouse/intervals.duckdb`` under the project. An embedded
  database on the worker's disk is local state: the right default for one machine (the demo,
  a laptop, a single-node Airflow), the wrong one for workers that do not share a disk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, Param, task
from include.locations import events_asset, setting

EVENTS = events_asset()

with DAG(
    dag_id="intervals_warehouse_load",
    schedule=[EVENTS],
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # one writer at a time: DuckDB allows a single writing process
    params={"reload_all": Param(False, type="boolean", description="reload windows already loaded")},
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:

    @task(inlets=[EVENTS])
    def load_windows(
        landing_path: str,
        landing_conn_id: str,
        duckdb_path: str,
        warehouse_conn_id: str,
        triggering_asset_events: Any = None,
        params: Any = None,
    ) -> dict[str, Any]:
        """Load every published window the warehouse does not hold yet; return where and what."""
        from airflow.sdk import ObjectStoragePath
        from include import warehouse

        landing = ObjectStoragePath(landing_path.strip(), conn_id=landing_conn_id.strip() or None)
        events = list(triggering_asset_events[EVENTS]) if triggering_asset_events else []
        named = [e.extra["manifest"] for e in events if e.extra.get("manifest")]
        with warehouse.connect(duckdb_path.strip(), warehouse_conn_id.strip() or None) as wh:
            todo, published = warehouse.pending(wh, landing, named, reload=bool(params["reload_all"]))
            if not published:
                raise ValueError(f"No landed window in {landing}: run intervals_land_events first")
            print(f"{len(events)} triggering asset event(s); {published} window(s) published, "
                  f"{len(todo)} to load into {wh.description}")  # fmt: skip
            loaded = []
            for window in todo:
                rows = warehouse.load_window(wh, window)
                counts = warehouse.window_counts(wh, window.date_from, window.date_to)
                print(f"Loaded {window.date_from} .. {window.date_to}: {rows} rows from {window.manifest}")
                loaded.append({"date_from": window.date_from, "date_to": window.date_to, **counts})
            return {"warehouse": wh.description, "table": warehouse.TABLE, "windows": loaded,
                    "asset_events": len(events), "published": published}  # fmt: skip

    load_windows(
        landing_path=setting("landing_path"),
        landing_conn_id=setting("landing_conn"),
        duckdb_path=setting("warehouse_path"),
        warehouse_conn_id=setting("warehouse_conn"),
    )
