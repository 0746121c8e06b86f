"""Run ``airflow backfill create``'s write pattern against a second writer on one SQLite file; print JSON.

    python sqlite_race.py DB [--local-settings FILE]

A process of its own, so the local settings' listeners (on SQLAlchemy's ``Pool`` and ``Engine``
classes) reach no other engine. Two engines on one file in WAL mode, as Airflow keeps its
metadata DB, with a short busy timeout. First a transaction only reads while the *scheduler*
inserts. Then the *backfill* opens a ``SAVEPOINT`` and reads; the scheduler inserts and
commits; the backfill inserts and commits; last the scheduler tries once more. Each step's
outcome is ``"ok"`` or the error's first line.
"""

from __future__ import annotations

import importlib.util
import json
import sys

from sqlalchemy import create_engine, event, text

BUSY_SECONDS = 0.5


def _outcome(step) -> str:
    try:
        step()
    except Exception as error:  # the outcome is the finding
        return str(error).splitlines()[0]
    return "ok"


def main(argv: list[str]) -> None:
    """Race on the file ``argv[0]``, with the local settings ``argv[2]`` if given; print the outcomes."""
    if argv[1:2] == ["--local-settings"]:
        spec = importlib.util.spec_from_file_location("airflow_local_settings", argv[2])
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    url = f"sqlite:///{argv[0]}"
    backfill, scheduler = (create_engine(url, connect_args={"timeout": BUSY_SECONDS}) for _ in range(2))
    for engine in (backfill, scheduler):
        event.listen(engine, "connect", lambda dbapi, record: dbapi.execute("PRAGMA journal_mode=WAL"))
    with scheduler.begin() as setup:
        setup.execute(text("CREATE TABLE IF NOT EXISTS dag_run (id INTEGER PRIMARY KEY, run_by TEXT)"))

    def scheduler_writes() -> None:
        with scheduler.begin() as conn:
            conn.execute(text("INSERT INTO dag_run (run_by) VALUES ('scheduler')"))

    outcomes = {}
    with backfill.connect() as conn, conn.begin():  # a transaction that only reads holds no lock
        conn.execute(text("SELECT count(*) FROM dag_run")).scalar()
        outcomes["scheduler_writes_beside_a_reader"] = _outcome(scheduler_writes)
    with backfill.connect() as conn, conn.begin():
        nested = conn.begin_nested()  # what the backfill does for each run
        conn.execute(text("SELECT count(*) FROM dag_run")).scalar()
        outcomes["scheduler_writes_meanwhile"] = _outcome(scheduler_writes)
        outcomes["backfill_inserts"] = _outcome(
            lambda: conn.execute(text("INSERT INTO dag_run (run_by) VALUES ('backfill')"))
        )
        nested.commit()  # releases the savepoint that opened SQLite's transaction: it commits
        outcomes["scheduler_writes_after_the_release"] = _outcome(scheduler_writes)
    outcomes["scheduler_writes_after"] = _outcome(scheduler_writes)
    with scheduler.connect() as conn:
        outcomes["rows"] = [r for (r,) in conn.execute(text("SELECT run_by FROM dag_run ORDER BY id"))]
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main(sys.argv[1:])
