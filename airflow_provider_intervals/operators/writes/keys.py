"""Idempotency keys: the same row of the same task instance always sends the same key.

``Idempotency-Key`` = ``uuid5(NAMESPACE, namespace | dag_id | task_id | run_id | map_index |
line | canonical body)``. Consequences:

- a **retry** of the task (same run, same map index) sends the same keys, so a row whose
  response was lost, or that the failed try already created, is *replayed* by the API:
  same id, nothing new;
- a **cleared** task of the same run does the same, within the API's key lifetime
  (the sandbox keeps keys 24 hours);
- a **new run** sends new keys; the bulk operators still skip the rows its results file
  records as created (see :mod:`.results`), and the API refuses a second event with the
  same slug (409);
- a row whose content changed between tries gets a new key: it is a new row.

To create again **on purpose** (e.g. a test organisation was wiped), change
``idempotency_namespace``: the keys and the bulk rows' identities all change with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

# Fixed forever: changing it would change every key and break replays of running loads.
NAMESPACE = uuid.UUID("6f1c2c1e-3c0b-5f8e-9a51-8d4f3e2b7a10")


@dataclass(frozen=True)
class RunIdentity:
    """Who is writing: the task instance and the user's namespace.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id.
    :param map_index: the mapped task's index (-1 when not mapped).
    :param namespace: the user's ``idempotency_namespace`` (empty by default).
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    namespace: str = ""

    @classmethod
    def from_context(cls, context: Any, namespace: str | None) -> RunIdentity:
        """Read the task instance from an Airflow context.

        :param context: the task's context (``ti`` is used).
        :param namespace: the user's namespace; ``None`` is the empty namespace.
        """
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(ti.dag_id, ti.task_id, ti.run_id, -1 if map_index is None else map_index, namespace or "")

    def key(self, line: int | None, body: str) -> str:
        """Return the ``Idempotency-Key`` of one body.

        :param line: the row's line in a bulk file, ``None`` for a single-row operator.
        :param body: the body as canonical JSON (:func:`.rows.canonical`).
        """
        parts = (
            self.namespace,
            self.dag_id,
            self.task_id,
            self.run_id,
            str(self.map_index),
            "" if line is None else str(line),
            body,
        )
        return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))
