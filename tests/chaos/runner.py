"""Run one landing DAG run in this process, as a worker would; used by the chaos tests as a subprocess.

    python tests/chaos/runner.py SPEC_JSON

``SPEC_JSON``: ``{"dag_id", "output_path", "logical_date", "operator": {...}, "map": [...]}``,
or ``{"execute": true, "output_path", "operator": {...}}`` to call ``execute`` with no DAG run.
With ``"retry": true`` the run of that DAG and logical date is not replaced (``dag.test``
would delete it, and its task state with it): its unfinished task instance is failed and
retried in the same run, as the scheduler does when a worker dies (heartbeat timeout ->
up for retry -> the next try), so the try sees the checkpoint its killed try saved.
The Airflow home, metadata DB and connections come from the environment (the test session's).
With ``map`` the operator is mapped over those kwargs (``partial().expand_kwargs()``).
Prints one JSON line: the run's state and each task instance's state, try number and XCom.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def _status() -> dict[str, int]:
    """Peak virtual size, peak resident size (kB) and open descriptors of this process."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmPeak", "VmHWM"):
                out[name] = int(value.split()[0])
    import resource

    limits = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "as": resource.getrlimit(resource.RLIMIT_AS)[0],
    }
    return {**out, "fds": len(os.listdir("/proc/self/fd")), **limits}


def execute(spec: dict) -> dict:
    """Run the operator's ``execute`` alone (no metadata DB), as in a bare worker process."""
    from airflow_provider_intervals.operators.events import IntervalsEventsOperator

    op = IntervalsEventsOperator(task_id="land", output_path=spec["output_path"], **spec.get("operator", {}))
    return {"state": "success", "tasks": [{"map_index": -1, "xcom": op.execute({})}], "process": _status()}


def main(spec: dict) -> dict:
    """Build the DAG, write it to the metadata DB as the DAG processor would, run it with ``dag.test``."""
    if spec.get("execute"):
        return execute(spec)
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from airflow_provider_intervals.operators.events import IntervalsEventsOperator

    dag = DAG(spec["dag_id"], schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    with dag:
        kwargs = {"output_path": spec["output_path"], **spec.get("operator", {})}
        if spec.get("map"):
            IntervalsEventsOperator.partial(task_id="land", **kwargs).expand_kwargs(spec["map"])
        else:
            IntervalsEventsOperator(task_id="land", **kwargs)
    bag = DagBag(dag_folder=os.devnull, collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    logical_date = dt.datetime.fromisoformat(spec["logical_date"])
    run = retry(dag, logical_date) if spec.get("retry") else dag.test(logical_date=logical_date)
    with create_session() as session:
        tis = run.get_task_instances(session=session)
        out = {"state": str(run.state), "tasks": []}
        for ti in sorted(tis, key=lambda t: t.map_index):
            row = session.scalars(
                XComModel.get_many(
                    run_id=run.run_id,
                    dag_ids=run.dag_id,
                    task_ids=ti.task_id,
                    map_indexes=ti.map_index,
                    key="return_value",
                )
            ).first()
            out["tasks"].append({
                "map_index": ti.map_index, "state": str(ti.state), "try_number": ti.try_number,
                "xcom": None if row is None else XComModel.deserialize_value(row),
            })  # fmt: skip
    return out


def retry(dag, logical_date: dt.datetime):
    """Retry the unfinished task instances of ``dag``'s run at ``logical_date`` in that same run."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    def find(session):
        query = select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date)
        return session.scalars(query).one()

    with create_session() as session:
        for ti in find(session).get_task_instances(session=session):
            if ti.state in (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED):
                continue
            assert ti.try_number <= ti.max_tries, "no retries left for the killed task"
            ti.prepare_db_for_next_try(session)  # what the scheduler does before the next try
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    with create_session() as session:
        run = find(session)
        states = {str(ti.state) for ti in run.get_task_instances(session=session)}
        run.set_state(DagRunState.SUCCESS if states == {"success"} else DagRunState.FAILED)
        session.commit()
        session.refresh(run)
        session.expunge(run)
    return run


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    print("RESULT " + json.dumps(result, default=str), flush=True)
