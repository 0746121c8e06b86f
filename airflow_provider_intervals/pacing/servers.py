"""Stores on a server every host reaches, named by an Airflow connection (extra ``pacing_conn_id``).

- **Redis** (a connection of type ``redis``: host, port, login, password, extras ``db`` and
  ``ssl``), through redis-py: one string per key digest, changed in a ``WATCH``/``MULTI``
  transaction (retried on a conflicting write), expiring after a day unused.
- **A SQL database** through Airflow's own hook for the connection
  (``BaseHook.get_connection(...).get_hook()``, a ``DbApiHook``: PostgreSQL, MySQL, SQLite, ...):
  one row per key digest in the table ``intervals_pacing`` (created if missing), read with
  ``SELECT ... FOR UPDATE`` (SQLite: inside ``BEGIN IMMEDIATE``) and written in the same
  transaction, so concurrent writers take turns.

A connection that does not exist, or is neither, is a configuration error raised before any
request; a server that does not answer is the :class:`~airflow_provider_intervals.pacing.stores.Failover`'s
to handle (this process paces alone, one warning).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, TypeVar

from airflow_provider_intervals.pacing.stores import Change, Store, dumps, loads

#: What a change returns.
T = TypeVar("T")

#: A key's Redis string is this prefix and the key's digest.
REDIS_PREFIX = "airflow-provider-intervals:pacing:"
#: A key's Redis string expires after this many seconds unused.
REDIS_EXPIRE_SECONDS = 86400
#: Seconds a Redis command may take before the store counts as failed.
REDIS_TIMEOUT = 2.0
#: The SQL store's table: one row per key digest.
TABLE = "intervals_pacing"
#: The advisory lock key PostgreSQL creators of the table queue on (any constant of our own).
CREATE_LOCK = 0x1A7E_0001
#: Tries of a change in the SQL store (see :meth:`SqlStore.update`).
SQL_TRIES = 3


class RedisStore:
    """A key's entry as a Redis string, changed in a ``WATCH``/``MULTI`` transaction.

    :param name: says which store this is, in logs (never with the password).
    :param client: a ``redis.Redis`` client (it connects on first use).
    """

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client

    def update(self, digest: str, change: Change[T]) -> T:
        """Apply ``change`` to the entry of ``digest``; a concurrent write makes it start over."""
        import redis

        key = REDIS_PREFIX + digest
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    before = pipe.get(key)
                    entry = loads(before)
                    result = change(entry)
                    after = dumps(entry).encode()
                    if after == before:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.set(key, after, ex=REDIS_EXPIRE_SECONDS)
                    pipe.execute()
                    return result
                except redis.WatchError:  # another process wrote first: read its entry again
                    continue


class SqlStore:
    """A key's entry as a row of ``intervals_pacing``, read ``FOR UPDATE`` and written in one transaction.

    The process keeps one database connection (its threads take turns) and opens it again
    after a failure.

    :param name: says which store this is, in logs.
    :param hook: the connection's ``DbApiHook``.
    :param dialect: the connection type (``postgres``, ``mysql``, ``sqlite``, ...).
    """

    def __init__(self, name: str, hook: Any, dialect: str) -> None:
        self.name = name
        self.hook = hook
        self.dialect = dialect
        self._lock = threading.Lock()
        self._conn: Any = None

    def update(self, digest: str, change: Change[T]) -> T:
        """Apply ``change`` to the row of ``digest``, in up to :data:`SQL_TRIES` tries (fresh connections).

        A try fails, once each, when the server closed the connection, when another process
        created the table first (a database other than PostgreSQL, which queues its creators), and
        when another process inserted the key's new row first (the loser finds it the next time):
        a worker starting with others on a fresh database may meet two of these in a row.
        """
        with self._lock:
            for _ in range(SQL_TRIES - 1):
                try:
                    return self._update(self._connect(), digest, change)
                except Exception:
                    self._close()
            try:
                return self._update(self._connect(), digest, change)
            except Exception:
                self._close()
                raise

    def _connect(self) -> Any:
        if self._conn is None:
            conn = self.hook.get_conn()
            if self.dialect != "sqlite":  # SQLite's transaction is begun explicitly, below
                with contextlib.suppress(AttributeError):
                    conn.autocommit = False
            cursor = conn.cursor()
            try:
                if self.dialect == "postgres":
                    # CREATE TABLE IF NOT EXISTS is not safe against itself in PostgreSQL: of
                    # workers starting at once on a fresh database, all but one fail on the
                    # catalog's unique index. A transaction-scoped advisory lock queues them.
                    cursor.execute(f"SELECT pg_advisory_xact_lock({CREATE_LOCK})")
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(pacing_key VARCHAR(64) PRIMARY KEY, state TEXT NOT NULL)"
                )
                conn.commit()
            finally:
                cursor.close()
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _update(self, conn: Any, digest: str, change: Change[T]) -> T:
        mark = self.hook.placeholder
        cursor = conn.cursor()
        try:
            if self.dialect == "sqlite":  # no FOR UPDATE: take the database's write lock first
                cursor.execute("BEGIN IMMEDIATE")
            lock = "" if self.dialect == "sqlite" else " FOR UPDATE"
            cursor.execute(f"SELECT state FROM {TABLE} WHERE pacing_key = {mark}{lock}", (digest,))
            row = cursor.fetchone()
            before = None if row is None else row[0]
            entry = loads(before)
            result = change(entry)
            after = dumps(entry)
            if row is None:
                cursor.execute(
                    f"INSERT INTO {TABLE} (pacing_key, state) VALUES ({mark}, {mark})", (digest, after)
                )
            elif after != before:
                cursor.execute(
                    f"UPDATE {TABLE} SET state = {mark} WHERE pacing_key = {mark}", (after, digest)
                )
            conn.commit()
            return result
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        finally:
            cursor.close()


class Unavailable:
    """A store whose connection could not be read: every change fails (the failover takes over).

    :param name: says which store this is, in logs.
    :param error: why it could not be read.
    """

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.error = error

    def update(self, digest: str, change: Change[T]) -> T:
        """Raise the error the connection's lookup met."""
        raise self.error


def connect(conn_id: str, owner: str) -> Store:
    """Return the store the Airflow connection ``conn_id`` names (no request to it yet).

    :param conn_id: the ``pacing_conn_id`` extra.
    :param owner: the Intervals connection that names it (for the error).
    :raises IntervalsConfigurationError: the connection does not exist, is neither Redis nor a SQL
        database, or its driver is not installed.
    """
    from airflow.sdk import BaseHook

    try:
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # Airflow < 3.2: not in the SDK's exceptions yet
        from airflow.exceptions import AirflowNotFoundException

    from airflow_provider_intervals import exceptions as exc

    def wrong(problem: str, fix: str) -> exc.IntervalsConfigurationError:
        return exc.IntervalsConfigurationError(
            f"Connection {owner!r} has extra pacing_conn_id={conn_id!r}: {problem}; {fix}, or clear the "
            "extra (the processes of each host then share the key's allowance)"
        )

    name = f"the shared pacing store of connection {conn_id!r}"
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise wrong("there is no such Airflow connection", "create it (Redis or a SQL database)") from None
    except Exception as error:  # a secrets backend that does not answer: pace alone, do not fail
        return Unavailable(name, error)
    if conn.conn_type == "redis":
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            fix = "install redis-py (pip install 'airflow-provider-intervals[redis]')"
            raise wrong("it is a Redis connection and redis-py is not installed", fix) from None
        extra = conn.extra_dejson
        client = redis.Redis(
            host=conn.host or "localhost",
            port=int(conn.port or 6379),
            username=conn.login or None,
            password=conn.password or None,
            db=int(extra.get("db") or 0),
            ssl=str(extra.get("ssl", "")).lower() in ("true", "1"),
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),  # a store that fails is the failover's: no retries here
        )
        return RedisStore(f"{name} (redis://{conn.host}:{conn.port or 6379})", client)
    fix = (
        "name a Redis connection or a SQL database connection (postgres, mysql, sqlite) every worker reaches"
    )
    try:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        hook = conn.get_hook()
    except Exception as error:
        raise wrong(f"its type {conn.conn_type!r} gives no SQL hook ({error})", fix) from None
    if not isinstance(hook, DbApiHook):
        raise wrong(f"its type {conn.conn_type!r} is neither Redis nor a SQL database", fix)
    return SqlStore(f"{name} ({conn.conn_type})", hook, conn.conn_type)
