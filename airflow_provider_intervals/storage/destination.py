"""Where a landing writes: making its directories on any file system.

A local file system needs a file's parent directories before the file is written; an
object store (S3) has no directories, only keys, so a "directory" exists once a key is
under it, and ``mkdir`` there creates a missing bucket. A landing makes a directory only
when it is about to write a file into it, so a landing that fails before its first record
leaves nothing behind.
"""

from __future__ import annotations

import contextlib

from airflow.sdk import ObjectStoragePath


def make_directory(path: ObjectStoragePath) -> None:
    """Create ``path`` and its parents if missing (on S3: the bucket, if missing; nothing else).

    :param path: the directory a file is about to be written into.
    """
    # Object stores may answer FileExistsError: a "directory" exists once a key is under it.
    with contextlib.suppress(FileExistsError):
        path.mkdir(parents=True, exist_ok=True)
