"""Where a landing writes: its directories, a check that it can write there, and refusals named.

A local file system needs a file's parent directories before the file is written; an
object store (S3) has no directories, only keys, so a "directory" exists once a key is
under it, and ``mkdir`` there creates a missing bucket. A landing makes a directory only
when it is about to write a file into it, so a landing that fails before its first record
leaves nothing behind.

Before the first request, :func:`check_writable` writes and removes a probe file where the
landing will write, so a destination that refuses (a file where a directory must be, a
read-only location, credentials that may not write) fails at once and spends no API
allowance. A refusal met later, mid-write, is named the same way by :func:`writing`. Both
raise :class:`~airflow_provider_intervals.exceptions.IntervalsStorageError` naming the path
and the fix, ``from`` the file system's own error.
"""

from __future__ import annotations

import contextlib
import errno
import uuid
from collections.abc import Iterator

from airflow.sdk import ObjectStoragePath
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_intervals import exceptions as exc

PROBE = ".intervals-write-check-"


def make_directory(path: ObjectStoragePath) -> None:
    """Create ``path`` and its parents if missing (on S3: the bucket, if missing; nothing else).

    :param path: the directory a file is about to be written into.
    """
    # Object stores may answer FileExistsError: a "directory" exists once a key is under it.
    with contextlib.suppress(FileExistsError):
        path.mkdir(parents=True, exist_ok=True)


def check_writable(prefix: ObjectStoragePath) -> None:
    """Raise ``IntervalsStorageError`` if a landing could not write under ``prefix``; leave nothing.

    A probe file is written and removed where the landing's first write would go: on a local
    file system in the nearest path on the way to ``prefix`` that exists (a file there fails
    as "not a directory"; a location where nobody may write, such as ``/sys``, refuses even
    root), on an object store under ``prefix`` itself (refused credentials or policy fail). A
    bucket that does not exist yet passes: ``mkdir`` makes it with the first part.

    :param prefix: the window's prefix.
    """
    where = _nearest_existing(prefix) if isinstance(prefix.fs, LocalFileSystem) else prefix
    probe = where / f"{PROBE}{uuid.uuid4().hex[:12]}"
    with writing(where):
        try:
            probe.write_bytes(b"")
        except FileNotFoundError:  # no such bucket (nothing else is missing): made with the first part
            return
        probe.unlink()  # a landing deletes too (older series, the manifest's temporary)


@contextlib.contextmanager
def writing(path: ObjectStoragePath) -> Iterator[None]:
    """Turn a file system's refusal to write ``path`` into ``IntervalsStorageError`` naming the fix.

    :param path: what is being written (a part, a directory, the window's prefix).
    """
    try:
        yield
    except OSError as error:
        raise storage_error(path, error) from error


def storage_error(path: ObjectStoragePath, error: OSError) -> exc.IntervalsStorageError:
    """Return the provider's error for ``error``, met writing ``path``: what refused, and the fix.

    :param path: what was being written.
    :param error: the file system's error.
    """
    if isinstance(error, NotADirectoryError):
        return _not_a_directory(_in_the_way(path))
    if isinstance(error, PermissionError):
        return exc.IntervalsStorageError(
            f"cannot write to {path}: permission denied; "
            "check the path's permissions or the output_conn_id's credentials"
        )
    if error.errno == errno.EROFS:
        return exc.IntervalsStorageError(
            f"cannot write to {path}: the file system is read-only; point output_path at a writable place"
        )
    reason = error.strerror or str(error) or type(error).__name__
    return exc.IntervalsStorageError(
        f"cannot write to {path}: {reason}; check output_path and the output_conn_id"
    )


def _not_a_directory(path: ObjectStoragePath) -> exc.IntervalsStorageError:
    return exc.IntervalsStorageError(f"{path} is a file, not a directory: point output_path at a directory")


def _nearest_existing(path: ObjectStoragePath) -> ObjectStoragePath:
    """Return ``path``, or its nearest ancestor that exists (``/`` at worst)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _in_the_way(path: ObjectStoragePath) -> ObjectStoragePath:
    """Return the file standing where a directory on the way to ``path`` should be (else ``path``)."""
    if isinstance(path.fs, LocalFileSystem):
        found = _nearest_existing(path)
        if found.is_file():
            return found
    return path
