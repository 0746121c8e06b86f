"""Load landed event windows into a warehouse table, idempotently: one transaction per window.

A window's load deletes the table's rows dated inside the window, then inserts the
window's landed records (read back through its manifest), records the window's write in
the ledger table, then commits: a rerun or a re-landed window replaces its rows, and a
reader never sees half a window. An event that moved to another day is deleted by id
before it is inserted, so no id appears twice.

**Reconcile, do not trust the trigger alone.** The ledger ``intervals_events_windows``
holds, per window prefix, the write (``write_id``) last loaded. :func:`pending` compares
it with every window *published* in the landing zone (a ``_SUCCESS`` marker beside its
manifest) plus those the triggering asset events name, and returns each one not loaded
at its current write, oldest publication first. So a load run catches up on every window
it has not seen, even when Airflow merged or dropped asset events (a DAG at
``max_active_runs`` defers asset-triggered runs, and the deferred events can be consumed
by none: upstream issue #56050); a run with nothing pending loads nothing.

Two targets, one SQL text (standard DDL/DML, placeholders from the driver):

- **DuckDB** (embedded default): a file on the worker's disk. That is local state: right
  for one machine (the demo, a laptop, a single-node Airflow), wrong for workers that do
  not share a disk.
- **Any DB-API warehouse by Airflow connection** (Postgres, SQLite, ...): the connection's
  hook from the common SQL provider (``DbApiHook``), e.g. a ``postgres`` connection with
  ``apache-airflow-providers-postgres`` installed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = "intervals_events"
LEDGER = "intervals_events_windows"
BATCH = 500
COLUMNS = (
    "event_id", "name", "slug", "type", "date", "start_time", "organization_id", "city", "region",
    "country", "lat", "lng", "website_url", "registration_url", "manifest", "loaded_at",
)  # fmt: skip
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id VARCHAR(64) NOT NULL, name VARCHAR(400), slug VARCHAR(400), type VARCHAR(32),
    date DATE NOT NULL, start_time VARCHAR(16), organization_id VARCHAR(64), city VARCHAR(200),
    region VARCHAR(64), country VARCHAR(8), lat DOUBLE PRECISION, lng DOUBLE PRECISION,
    website_url VARCHAR(1000), registration_url VARCHAR(1000), manifest VARCHAR(2000),
    loaded_at VARCHAR(40)
)"""
LEDGER_DDL = f"""CREATE TABLE IF NOT EXISTS {LEDGER} (
    prefix VARCHAR(2000) NOT NULL PRIMARY KEY, date_from VARCHAR(10) NOT NULL,
    date_to VARCHAR(10) NOT NULL, write_id VARCHAR(64) NOT NULL, published_at VARCHAR(40),
    records INTEGER, loaded_at VARCHAR(40)
)"""


@dataclass(frozen=True)
class Landed:
    """One published window of the landing zone, as its manifest describes it.

    :param prefix: the window's prefix URL: its identity in the ledger.
    :param manifest: its ``_manifest.json`` URL (with the storage connection, e.g. ``s3://conn@bucket/...``).
    :param date_from: first day, inclusive.
    :param date_to: last day, inclusive.
    :param write_id: the published write series; a re-landing publishes a new one.
    :param published_at: when the manifest was written (UTC, ISO 8601).
    :param records: records in the window.
    """

    prefix: str
    manifest: str
    date_from: str
    date_to: str
    write_id: str
    published_at: str
    records: int


@dataclass
class Warehouse:
    """An open DB-API connection and its driver's placeholder.

    :param connection: a DB-API 2 connection, not in autocommit mode.
    :param placeholder: the driver's parameter marker (``?`` or ``%s``).
    :param description: where it is, for logs and XCom (never a password).
    :param embedded: DuckDB: statements run on the connection itself (a DuckDB ``cursor()`` is
        a second connection with its own transactions) inside an explicit ``BEGIN``.
    """

    connection: Any
    placeholder: str
    description: str
    embedded: bool = False

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """Yield a cursor inside a transaction: committed on success, rolled back on error."""
        if self.embedded:
            self.connection.begin()  # DuckDB autocommits each statement outside a transaction
        cursor = self.connection if self.embedded else self.connection.cursor()
        try:
            yield cursor
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            if not self.embedded:
                cursor.close()


@contextlib.contextmanager
def connect(duckdb_path: str, conn_id: str | None) -> Iterator[Warehouse]:
    """Open the warehouse: the connection ``conn_id`` if given, else the DuckDB file.

    :param duckdb_path: the DuckDB file (its folder is created).
    :param conn_id: an Airflow connection whose hook is a ``DbApiHook`` (Postgres, SQLite...).
    """
    if conn_id:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise TypeError(f"connection {conn_id!r} has no SQL hook (got {type(hook).__name__})")
        connection = hook.get_conn()
        if hook.supports_autocommit:  # else the driver opens a transaction at the first write
            hook.set_autocommit(connection, False)
        warehouse = Warehouse(connection, hook.placeholder, f"connection {conn_id}")
    else:
        import duckdb

        Path(duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(duckdb_path)
        warehouse = Warehouse(connection, "?", f"duckdb {duckdb_path}", embedded=True)
    try:
        yield warehouse
    finally:
        connection.close()


def _row(record: dict[str, Any], manifest: str, loaded_at: str) -> tuple[Any, ...]:
    address = record.get("address") or {}
    return (
        record["_id"], record.get("name"), record.get("slug"), record.get("type"), record["date"],
        record.get("startTime"), record.get("organizationId"), address.get("city"), address.get("region"),
        address.get("country"), record.get("lat"), record.get("lng"), record.get("websiteUrl"),
        record.get("registrationUrl"), manifest, loaded_at,
    )  # fmt: skip


def read_landed(manifest: Any) -> Landed:
    """Return the window whose manifest is at ``manifest`` (a URL or an ``ObjectStoragePath``)."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.storage import read_manifest

    path = manifest if isinstance(manifest, ObjectStoragePath) else ObjectStoragePath(manifest)
    body = read_manifest(path)
    return Landed(
        prefix=str(path.parent), manifest=str(path), date_from=body["window"]["date_from"],
        date_to=body["window"]["date_to"], write_id=body["write_id"],
        published_at=body.get("created_at", ""), records=int(body["records"]),
    )  # fmt: skip


def published_windows(landing: Any) -> list[Landed]:
    """Return every window published under ``{landing}/events/type=all/`` (its ``_SUCCESS`` written).

    :param landing: the landing zone's root, an ``ObjectStoragePath``.
    """
    from airflow_provider_intervals.storage import MANIFEST, SUCCESS

    root = landing / "events" / "type=all"
    if not root.exists():
        return []
    return [read_landed(marker.parent / MANIFEST) for marker in root.glob(f"date_from=*/date_to=*/{SUCCESS}")]


def ensure_tables(warehouse: Warehouse) -> None:
    """Create the events table and the ledger if they do not exist."""
    with warehouse.transaction() as cursor:
        cursor.execute(DDL)
        cursor.execute(LEDGER_DDL)


def loaded_writes(warehouse: Warehouse) -> dict[str, str]:
    """Return the ledger: window prefix -> the ``write_id`` loaded last."""
    ensure_tables(warehouse)
    with warehouse.transaction() as cursor:
        cursor.execute(f"SELECT prefix, write_id FROM {LEDGER}")
        return dict(cursor.fetchall())


def pending(
    warehouse: Warehouse, landing: Any, named: Sequence[str] = (), *, reload: bool = False
) -> tuple[list[Landed], int]:
    """Return the windows to load, oldest publication first, and how many are published in all.

    :param warehouse: from :func:`connect`.
    :param landing: the landing zone's root (``ObjectStoragePath``), scanned for published windows.
    :param named: manifest URLs the triggering asset events name (also loaded when they lie
        outside ``landing``); a manifest that is gone is skipped.
    :param reload: every published window, even those the ledger has at their current write.
    """
    from airflow.sdk import ObjectStoragePath

    windows = {w.prefix: w for w in published_windows(landing)}
    for manifest in named:
        path = ObjectStoragePath(manifest)
        if str(path.parent) not in windows and path.exists():
            windows[str(path.parent)] = read_landed(path)
    loaded = {} if reload else loaded_writes(warehouse)
    todo = [w for w in windows.values() if loaded.get(w.prefix) != w.write_id]
    # Publication order, so where windows overlap the one landed last wins.
    return sorted(todo, key=lambda w: (w.published_at, w.date_from, w.prefix)), len(windows)


def load_window(warehouse: Warehouse, window: Landed) -> int:
    """Replace the rows of the window's days with its landed records, record it in the ledger; commit.

    :param warehouse: from :func:`connect`.
    :param window: from :func:`pending` or :func:`read_landed`.
    :return: rows inserted.
    """
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_intervals.storage import iter_records

    mark = warehouse.placeholder
    loaded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    inserted = 0
    with warehouse.transaction() as cursor:
        cursor.execute(DDL)
        cursor.execute(LEDGER_DDL)
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE date BETWEEN {mark} AND {mark}", (window.date_from, window.date_to)
        )
        batch: list[tuple[Any, ...]] = []
        for record in iter_records(ObjectStoragePath(window.manifest)):
            batch.append(_row(record, window.manifest, loaded_at))
            if len(batch) == BATCH:
                inserted += _insert(cursor, mark, batch)
                batch = []
        inserted += _insert(cursor, mark, batch)
        cursor.execute(f"DELETE FROM {LEDGER} WHERE prefix = {mark}", (window.prefix,))
        cursor.execute(
            f"INSERT INTO {LEDGER} (prefix, date_from, date_to, write_id, published_at, records, loaded_at)"
            f" VALUES ({', '.join([mark] * 7)})",
            (window.prefix, window.date_from, window.date_to, window.write_id, window.published_at,
             window.records, loaded_at),
        )  # fmt: skip
    return inserted


def _insert(cursor: Any, mark: str, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    ids = ", ".join([mark] * len(rows))
    # An event re-dated into this window still has its old row under its old day: drop it by id.
    cursor.execute(f"DELETE FROM {TABLE} WHERE event_id IN ({ids})", [r[0] for r in rows])
    one = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
    values = ", ".join([one] * len(rows))
    cursor.execute(
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {values}", [v for r in rows for v in r]
    )
    return len(rows)


def window_counts(warehouse: Warehouse, date_from: str, date_to: str) -> dict[str, int]:
    """Return ``{"rows": n, "distinct_ids": m}`` for the window (equal when there are no duplicates).

    :param warehouse: from :func:`connect`.
    :param date_from: first day, inclusive.
    :param date_to: last day, inclusive.
    """
    mark = warehouse.placeholder
    with warehouse.transaction() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT event_id) FROM {TABLE} WHERE date BETWEEN {mark} AND {mark}",
            (date_from, date_to),
        )
        rows, distinct = cursor.fetchone()
    return {"rows": int(rows), "distinct_ids": int(distinct)}
