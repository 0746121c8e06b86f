"""What the cluster check reads and writes in the running cluster.

Airflow's REST API, the sandbox's API, the metadata DB and the warehouse (PostgreSQL). See
``scripts/cluster.py`` for the check.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from typing import Any

from cluster_services import ROOT

LAND, LOAD, NEW = "intervals_land_events", "intervals_warehouse_load", "intervals_new_events"


class Api:
    """Airflow's REST API (``/api/v2``), with the token of the all-admins simple auth manager."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request; return the decoded JSON."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def login(self) -> bool:
        """Take a token (``GET /auth/token`` needs no credentials when every user is admin)."""
        self.call("GET", "/api/v2/monitor/health")
        self.token = self.call("GET", "/auth/token")["access_token"]
        return True

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Return every run of ``dag_id``, oldest first."""
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Return the run's task instances."""
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


def post_events(url: str, key: str, count: int, day: str) -> list[str]:
    """Publish ``count`` races dated ``day`` through the sandbox's API, as an organiser would."""
    ids = []
    for i in range(count):
        body = {
            "name": f"Cluster check race {i}",
            "slug": f"cluster-check-{secrets.token_hex(6)}",
            "type": "race",
            "date": day,
        }
        request = urllib.request.Request(
            f"{url}/events",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            ids.append(json.loads(response.read())["data"]["eventId"])
    return ids


def dags_ready(api: Api) -> bool:
    """Every example DAG is parsed and stored, with no import error."""
    errors = api.call("GET", "/api/v2/importErrors")["import_errors"]
    if errors:
        raise SystemExit(f"The example DAGs have import errors: {json.dumps(errors, indent=1)[:3000]}")
    dag_ids = {d["dag_id"] for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
    return len(dag_ids) >= len(list((ROOT / "dags").glob("*.py"))) and {LAND, LOAD, NEW} <= dag_ids


def finished(runs: list[dict[str, Any]]) -> bool:
    """Whether every run has ended (success or failed)."""
    return all(r["state"] in ("success", "failed") for r in runs)


def triggerer_of(pg: int, dag_id: str, task_id: str) -> str | None:
    """Return the triggerer job running the deferred task's trigger: hostname, type (None until assigned)."""
    import psycopg2

    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="airflow") as con,
        con.cursor() as cur,
    ):
        cur.execute(
            "SELECT j.hostname, j.job_type, t.classpath FROM task_instance ti"
            " JOIN trigger t ON ti.trigger_id = t.id JOIN job j ON t.triggerer_id = j.id"
            " WHERE ti.dag_id = %s AND ti.task_id = %s AND ti.state = 'deferred'",
            (dag_id, task_id),
        )
        row = cur.fetchone()
    return None if row is None else f"{row[0]} ({row[1]}, {row[2].rsplit('.', 1)[-1]})"


def ledger(pg: int) -> dict[str, str]:
    """Return the warehouse's ledger: window prefix -> write id (empty before the first load)."""
    import psycopg2

    with (
        psycopg2.connect(host="127.0.0.1", port=pg, user="airflow", dbname="warehouse") as con,
        con.cursor() as cur,
    ):
        cur.execute("SELECT to_regclass('intervals_events_windows') IS NOT NULL")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("SELECT prefix, write_id FROM intervals_events_windows")
        return dict(cur.fetchall())
