"""The standalone home's ``airflow_local_settings.py``: a SQLite write transaction takes the lock first.

``python3 dev.py standalone`` copies this file, unchanged, to ``$AIRFLOW_HOME/config/``. Airflow
imports ``airflow_local_settings`` from there in every process of that home before it creates
its metadata engine: the scheduler, the DAG processor, the triggerer, the API server, and a
user's own ``airflow`` command with ``AIRFLOW_HOME`` set to the home.

**Why.** Airflow keeps its SQLite metadata DB in WAL mode. There, a transaction that has read
and then writes fails *at once* with "database is locked" when another process wrote in
between: SQLite cannot move its snapshot forward, and no busy timeout applies. ``airflow
backfill create`` does exactly that for every run it creates (a ``SAVEPOINT``, a read of the
latest run, an insert) while the scheduler, which sees the committed backfill, writes too.
The run half-created is left behind, and the backfill with it.

**What.** Every transaction that sqlite3 opens for a write (before an ``INSERT``, ``UPDATE``
or ``DELETE``) is ``BEGIN IMMEDIATE``, and a ``SAVEPOINT`` outside a transaction is preceded by
``BEGIN IMMEDIATE`` (and its ``RELEASE`` still commits, as it does without us). Such a
transaction takes the write lock before its first read, waiting up to the busy timeout (the
home's ``?timeout=30``) if another holds it, and so cannot lose the lock to a later writer.
Nothing else changes: reads outside a transaction, DDL and ``PRAGMA``
run as before, and only connections of Python's ``sqlite3`` are touched (not ``aiosqlite``'s,
nor another database's).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool


@event.listens_for(Pool, "connect")
def _writes_begin_immediate(dbapi_connection: Any, connection_record: Any) -> None:
    """Make sqlite3 open the transaction of a write as ``BEGIN IMMEDIATE`` (its default: deferred)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = "IMMEDIATE"


@event.listens_for(Engine, "before_cursor_execute")
def _savepoints_begin_immediate(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """Open a transaction with ``BEGIN IMMEDIATE`` before a ``SAVEPOINT`` that would open one deferred."""
    if not statement.startswith("SAVEPOINT"):
        return
    dbapi_connection = conn.connection.dbapi_connection
    if isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")
        conn.info[_OPENED_BY] = statement.split()[1]


@event.listens_for(Engine, "after_cursor_execute")
def _release_commits_as_before(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """Commit when the savepoint that opened the transaction is released, as SQLite does without us.

    A ``SAVEPOINT`` outside a transaction opens one, and its ``RELEASE`` commits it; after our
    ``BEGIN IMMEDIATE`` it would not, and the write lock would stay held until the session's
    own commit, however much later (Airflow's code was written for the commit at ``RELEASE``).
    """
    if statement.startswith("RELEASE SAVEPOINT") and conn.info.get(_OPENED_BY) == statement.split()[2]:
        del conn.info[_OPENED_BY]
        conn.connection.dbapi_connection.commit()


_OPENED_BY = "intervals_savepoint_began_immediate"  # conn.info: the savepoint we opened a transaction for
