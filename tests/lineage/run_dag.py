"""Run the lineage DAGs with ``dag.test()`` in a fresh metadata DB (the test starts this as a process).

``lineage_check`` once; ``lineage_windows`` once per logical date in ``LINEAGE_WINDOWS``
(comma-separated), so its landings run for two windows. A process of its own, because the
OpenLineage listener is set up once per process from the environment the test gives it
(transport, namespace). Says how many events the parse emitted and each run's state, one line
each, in the file ``LINEAGE_RESULTS`` (and on stdout): on stdout alone, a line could run into
one the OpenLineage listener's thread logs at the same moment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pendulum
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
from airflow.utils import db


def _say(line: str) -> None:
    print(line, flush=True)
    with open(os.environ["LINEAGE_RESULTS"], "a") as results:
        results.write(line + "\n")


def main() -> None:
    db.resetdb()
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(Path(__file__).parent / "dags"))
    events = Path(os.environ["LINEAGE_EVENTS"])
    _say(f"events after parse: {len(events.read_text().splitlines()) if events.exists() else 0}")
    sync_bag_to_db(bag, "dags-folder", None)
    dag_run = bag.get_dag("lineage_check").test(logical_date=None)
    _say(f"dag run state: {dag_run.state}")
    for day in filter(None, os.environ.get("LINEAGE_WINDOWS", "").split(",")):
        dag_run = bag.get_dag("lineage_windows").test(logical_date=pendulum.parse(day))
        _say(f"lineage_windows {day}: {dag_run.state}")


if __name__ == "__main__":
    sys.exit(main())
