"""Load each landed day of events into a warehouse table, idempotently, when it lands.

Shows a DAG **scheduled on an asset**: ``intervals_land_events`` updates the asset
``{landing}/events`` each time it publishes a window, and every asset event carries that
window (``date_from``, ``date_to``) and its manifest's path. This DAG runs on those events
and loads each window into the table ``intervals_events``: in one transaction it deletes the
rows dated inside the window, then inserts the window's landed records (read back through
the manifest). A rerun, or a window landed again, replaces that window's rows: no
duplicates, and a reader never sees half a window.

A manual run (``airflow dags test``, *Trigger* in the UI) has no triggering asset events: it
loads the windows of the asset's latest ``reload_latest`` events (a param, default 1), read
from the metadata DB, so the chain can be replayed by hand.

**Connections.** None for the embedded default; the landing zone's ``aws`` connection when
it is on S3 (carried in the manifest's path).

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
    params={"reload_latest": Param(1, type="integer", minimum=1, description="manual runs only")},
    doc_md=__doc__,
    tags=["intervals", "example"],
) as dag:

    @task(inlets=[EVENTS])
    def load_windows(
        duckdb_path: str,
        warehouse_conn_id: str,
        triggering_asset_events: Any = None,
        inlet_events: Any = None,
        params: Any = None,
    ) -> dict[str, Any]:
        """Load every window named by the asset events; return where and how many rows."""
        from include import warehouse

        events = list(triggering_asset_events[EVENTS]) if triggering_asset_events else []
        if not events:  # a manual run: replay the asset's latest events, oldest first
            latest = inlet_events[EVENTS].ascending(False).limit(int(params["reload_latest"]))
            events = list(reversed(list(latest)))
        if not events:
            raise ValueError("No landed window to load: run intervals_land_events first")
        loaded = []
        with warehouse.connect(duckdb_path.strip(), warehouse_conn_id.strip() or None) as wh:
            for event in events:
                extra = event.extra
                rows = warehouse.load_window(wh, extra["manifest"], extra["date_from"], extra["date_to"])
                counts = warehouse.window_counts(wh, extra["date_from"], extra["date_to"])
                print(f"Loaded {extra['date_from']} .. {extra['date_to']}: {rows} rows into {wh.description}")
                loaded.append({"date_from": extra["date_from"], "date_to": extra["date_to"], **counts})
            return {"warehouse": wh.description, "table": warehouse.TABLE, "windows": loaded}

    load_windows(duckdb_path=setting("warehouse_path"), warehouse_conn_id=setting("warehouse_conn"))
