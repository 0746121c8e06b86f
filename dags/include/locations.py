"""Where the example DAGs read and write: embedded defaults, environment, Airflow Variables.

Each location has three layers, the first one set wins:

1. an **Airflow Variable**, read at run time through a template
   (``{{ var.value.get('intervals_landing_path', ...) }}``), never at parse time;
2. an **environment variable**, read at parse time (a cheap ``os.environ`` look-up);
3. an **embedded default** under the project's ``.local/`` folder (``file://`` URLs): fine on one machine,
   wrong for a distributed Airflow, whose workers do not share a disk.

| what | Variable | environment | default |
|---|---|---|---|
| landing zone | ``intervals_landing_path`` | ``INTERVALS_LANDING_PATH`` | ``.local/lake`` |
| its connection (``aws`` for S3) | ``intervals_landing_conn`` | ``INTERVALS_LANDING_CONN`` | none |
| DuckDB file | ``intervals_warehouse_path`` | ``INTERVALS_WAREHOUSE_PATH`` | ``.local/warehouse/*.duckdb`` |
| warehouse by connection | ``intervals_warehouse_conn`` | ``INTERVALS_WAREHOUSE_CONN`` | none (DuckDB) |
| reports | ``intervals_reports_path`` | ``INTERVALS_REPORTS_PATH`` | ``.local/reports`` |
| its connection | ``intervals_reports_conn`` | ``INTERVALS_REPORTS_CONN`` | none |
| season plan | ``intervals_season_plan`` | ``INTERVALS_SEASON_PLAN`` | ``.local/season/plan.jsonl`` |
| its connection | ``intervals_season_conn`` | ``INTERVALS_SEASON_CONN`` | none |

The landed events are one logical asset, :func:`events_asset`, whatever the landing zone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow.sdk import Asset

PROJECT = Path(__file__).resolve().parents[2]
LOCAL = PROJECT / ".local"

_DEFAULTS = {
    "landing_path": f"file://{LOCAL / 'lake'}",
    "landing_conn": "",
    "warehouse_path": str(LOCAL / "warehouse" / "intervals.duckdb"),
    "warehouse_conn": "",
    "reports_path": f"file://{LOCAL / 'reports'}",
    "reports_conn": "",
    "season_plan": f"file://{LOCAL / 'season' / 'plan.jsonl'}",
    "season_conn": "",
}


def from_env(name: str) -> str:
    """Return the parse-time value of ``name``: ``INTERVALS_{NAME}`` or the embedded default.

    :param name: a key such as ``landing_path``.
    """
    return os.environ.get(f"INTERVALS_{name.upper()}") or _DEFAULTS[name]


def setting(name: str) -> str:
    """Return a template that reads the Variable ``intervals_{name}`` at run time.

    The parse-time value (:func:`from_env`) is its default, embedded as a JSON string
    literal (valid Jinja), so no Variable is looked up while the DAG file is parsed.

    :param name: a key such as ``landing_path``.
    """
    return "{{ var.value.get('intervals_%s', %s) }}" % (name, json.dumps(from_env(name)))  # noqa: UP031


EVENTS_ASSET = "intervals_landed_events"


def events_asset() -> Asset:
    """Return the asset the events-landing DAGs update and the warehouse DAG is scheduled on.

    A **logical name**, not a location: the landing zone is a Variable read at run time
    (``intervals_landing_path``), so no URI fixed at parse time could say where the data is;
    a ``file://`` URI would even claim a local folder for windows landed on S3. The name-only
    asset ``intervals_landed_events`` (its URI is its name) says *what* was published; each
    asset event's ``extra`` says *where*: the window's ``manifest`` URL (``s3://...`` or
    ``file://...``), ``date_from``, ``date_to`` and ``records``.
    """
    return Asset(name=EVENTS_ASSET)
