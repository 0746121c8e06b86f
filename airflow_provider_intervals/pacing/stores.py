"""Where a key's allowance lives: this process, this host, or a server every host reaches.

A store keeps one JSON object per key digest (never the key) and changes it atomically:
:meth:`Store.update` reads the entry under a lock that every process sharing the store respects,
lets ``change`` edit it, and writes it back before anyone else reads it. ``change`` may run
more than once (a store that retries a conflicting write), so it only edits the entry.

- :class:`MemoryStore`: this process (the fallback, and buckets made without a store);
- :class:`FileStore`: this host, with no configuration: one file per key under a per-user cache
  directory (:func:`default_directory`), changed under an exclusive ``flock``, so every process
  of the user on the host (LocalExecutor tasks, Celery workers of one machine, ``dev.py
  standalone``) shares one allowance;
- the servers named by a connection (:mod:`airflow_provider_intervals.pacing.servers`): Redis,
  or a SQL database through Airflow's own hooks, for workers on several hosts.

:class:`Failover` wraps a shared store: if it fails (unreachable, or failing mid-run) the key is
paced by this process alone, from the last state it saw, with one warning per process and key;
the shared store is tried again every :data:`RETRY_SECONDS`. No task fails for it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

#: What a change returns.
T = TypeVar("T")
#: A change to a key's entry: it edits the entry in place and returns what the caller wants back.
Change = Callable[[dict[str, Any]], T]

log = logging.getLogger("airflow_provider_intervals.pacing")

#: The environment variable that moves the per-host directory (default: the user's cache).
DIRECTORY_ENV = "INTERVALS_PACING_DIR"
#: A failed shared store is tried again after this long; this process paces alone meanwhile.
RETRY_SECONDS = 60.0
#: The longest a process waits for another's lock on a key's file before falling back.
LOCK_SECONDS = 5.0


class Store(Protocol):
    """A place every sharing process changes a key's entry in, one at a time."""

    name: str

    def update(self, digest: str, change: Change[T]) -> T:
        """Apply ``change`` to the entry of ``digest`` atomically; return what it returns."""
        ...


def dumps(entry: dict[str, Any]) -> str:
    """Write an entry as compact JSON (keys sorted, so an unchanged entry compares equal)."""
    return json.dumps(entry, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes | None) -> dict[str, Any]:
    """Read an entry; an empty or damaged one (a write cut short) is a fresh entry."""
    try:
        entry = json.loads(text) if text else {}
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}


class MemoryStore:
    """Entries held by this process (threads share them; other processes do not)."""

    name = "this process"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}

    def update(self, digest: str, change: Change[T]) -> T:
        """Apply ``change`` to the entry of ``digest`` under the process's lock."""
        with self._lock:
            return change(self._entries.setdefault(digest, {}))

    def seed(self, digest: str, entry: dict[str, Any]) -> None:
        """Start the entry of ``digest`` again from ``entry`` (a copy), if it holds anything."""
        if entry:
            with self._lock:
                self._entries[digest] = dict(entry)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


def default_directory() -> Path:
    """Return the per-host directory: ``$INTERVALS_PACING_DIR``, else the user's cache directory.

    ``$XDG_CACHE_HOME/airflow-provider-intervals/pacing``, or ``~/.cache/...`` without it: a
    per-user cache, the one thing a worker keeps on its local disk, and only for that host.
    """
    if configured := os.environ.get(DIRECTORY_ENV, "").strip():
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(cache) / "airflow-provider-intervals" / "pacing"


class FileStore:
    """One file per key under ``directory``, changed under an exclusive ``flock``.

    Each change opens the file afresh, so a forked process never shares a lock with its parent.

    :param directory: where the files live (created, private to the user, on first use).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"the directory {directory}"
        self._lock = threading.Lock()  # flock serialises processes; threads share a process's lock

    def update(self, digest: str, change: Change[T]) -> T:
        """Apply ``change`` to ``{directory}/{digest}.json`` under its lock."""
        with self._lock:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.directory / f"{digest}.json", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _lock_file(fd)
                before = os.pread(fd, 1 << 20, 0)
                entry = loads(before)
                result = change(entry)
                after = dumps(entry).encode()
                if after != before:
                    os.pwrite(fd, after, 0)
                    os.ftruncate(fd, len(after))
                return result
            finally:
                os.close(fd)  # releases the lock

    def clear(self) -> None:
        """Remove every key's file (tests and benchmarks start clean)."""
        for path in self.directory.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _lock_file(fd: int) -> None:
    deadline = time.monotonic() + LOCK_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                raise
            time.sleep(0.001)


#: This process's entries: buckets made without a store, and every key whose shared store fails.
MEMORY = MemoryStore()
_WARNED: set[tuple[str, str]] = set()
_WARNED_LOCK = threading.Lock()


class Failover:
    """A shared store for one key, or this process's memory while the store fails.

    The first failure logs one warning (per process and key) and the key is paced by this
    process alone, starting from the last entry the store gave; the store is asked again after
    :data:`RETRY_SECONDS`, and used again once it answers.

    :param store: the shared store.
    :param digest: the key's digest.
    """

    def __init__(self, store: Store, digest: str) -> None:
        self.store = store
        self.digest = digest
        self.failed_at: float | None = None
        self._last: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._alone = False  # whether memory holds the key's state since the store last answered

    @property
    def shared(self) -> bool:
        """Whether the last change went to the shared store."""
        return self.failed_at is None

    def update(self, change: Change[T]) -> T:
        """Apply ``change`` to the key's entry in the shared store, or in memory while it fails."""
        if self.failed_at is None or time.monotonic() - self.failed_at >= RETRY_SECONDS:
            try:
                result = self.store.update(self.digest, self._keeping(change))
            except Exception as error:
                self._fail(error)
            else:
                with self._lock:
                    if self.failed_at is not None:
                        log.info("Pacing API key %s through %s again", self.digest, self.store.name)
                    self.failed_at, self._alone = None, False
                return result
        return MEMORY.update(self.digest, change)

    def _keeping(self, change: Change[T]) -> Change[T]:
        def keep(entry: dict[str, Any]) -> T:
            result = change(entry)
            self._last = dict(entry)
            return result

        return keep

    def _fail(self, error: Exception) -> None:
        with self._lock:
            self.failed_at = time.monotonic()
            if not self._alone:  # the first failure since the store answered (not another thread's)
                MEMORY.seed(self.digest, self._last)
                self._alone = True
        with _WARNED_LOCK:
            first = (self.store.name, self.digest) not in _WARNED
            _WARNED.add((self.store.name, self.digest))
        line = (
            "Pacing API key %s: %s failed (%s: %s); this process paces the key alone, from the last "
            "state it saw, and asks the store again every %gs"
        )
        args = (self.digest, self.store.name, type(error).__name__, error, RETRY_SECONDS)
        log.log(logging.WARNING if first else logging.DEBUG, line, *args)


def forget_failures() -> None:
    """Drop this process's entries and which stores it warned about (tests start clean)."""
    MEMORY.clear()
    with _WARNED_LOCK:
        _WARNED.clear()


def _after_fork() -> None:
    # A forked child (a task runner) starts with locks no thread of its own holds.
    global _WARNED_LOCK
    _WARNED_LOCK = threading.Lock()
    MEMORY.__init__()  # type: ignore[misc]


os.register_at_fork(after_in_child=_after_fork)
