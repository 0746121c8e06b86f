"""Write a file under a temporary name beside its target, then move it into place.

The one way this provider publishes a whole file (a window's manifest, a bulk load's
results and rejects): a reader sees the old file or the new one, never half of one. The
move is an atomic rename on a file system and a single-object copy on S3.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import ObjectStoragePath


class AtomicFile:
    """Bytes written to ``{target}.{tag}.tmp``, moved onto ``target`` by :meth:`publish`.

    :param target: the file to publish.
    :param tag: a name unique to the writer (a write id, a try), keeping temporaries apart.
    """

    def __init__(self, target: ObjectStoragePath, tag: str) -> None:
        self.target = target
        self.temporary = target.parent / f"{target.name}.{tag}.tmp"
        self._file: Any = None

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary (opened on first use)."""
        if self._file is None:
            self._file = self.temporary.open("wb")
        self._file.write(data)

    def publish(self) -> bool:
        """Close the temporary and move it onto the target; return whether anything was written."""
        if self._file is None:
            return False
        self._file.close()
        self._file = None
        self.temporary.fs.mv(self.temporary.path, self.target.path)
        return True

    def discard(self) -> None:
        """Drop the temporary (after a failure); never raises."""
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self.temporary.exists():
                self.temporary.unlink()
        except Exception:  # clean-up must not hide the failure being raised
            pass


def write_atomically(target: ObjectStoragePath, tag: str, data: bytes) -> None:
    """Publish ``data`` as ``target`` in one step (see :class:`AtomicFile`)."""
    file = AtomicFile(target, tag)
    file.write(data)
    file.publish()
