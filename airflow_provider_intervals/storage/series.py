"""A landing's write series: its parts, its directory and its checkpoint.

A *series* is the set of part files one landing writes under ``{prefix}/w={write_id}/``
(see :mod:`airflow_provider_intervals.storage.landing` for the window's layout). Its progress
per stream (the parts finished, the cursor after each part's last item, the requests made) is
its checkpoint.

Resume: after each finished part the checkpoint is saved under :data:`CHECKPOINT_KEY` in the
task's ``task_state_store``, which every try of one task instance shares and which lives in
Airflow's metadata DB, not on the worker's disk. A retry with the same settings checks that
the recorded parts still exist with their sizes, keeps them, and asks the API for the items
after each stream's cursor. The part being written when the try died is rewritten under the
same name. Without a ``task_state_store`` (Airflow before 3.3, or a bare ``execute`` call)
every try starts the window over, in a fresh series; the publish then removes what the
failed try left. A landing deferred for the allowance resumes within its try either way:
without a ``task_state_store`` its checkpoint travels through the deferral in a
:class:`CarriedCheckpoint`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals.storage import formats
from airflow_provider_intervals.storage.destination import make_directory, writing

#: The ``task_state_store`` key a landing's checkpoint is saved under.
CHECKPOINT_KEY = "intervals_landing"


class CarriedCheckpoint:
    """The ``task_state_store`` interface over one checkpoint held in memory, to carry through a deferral.

    For a deferrable landing where the context has no ``task_state_store`` (Airflow < 3.3): the
    operator hands ``checkpoint`` (the attribute) to the trigger and gives the resumed landing a new one
    made from it. A retry (a new try) gets none, and starts the window over.

    :param checkpoint: the checkpoint carried back from the deferral, or ``None``.
    """

    def __init__(self, checkpoint: dict[str, Any] | None = None) -> None:
        self.checkpoint = checkpoint

    def get(self, key: str, default: Any = None) -> Any:
        """Return the checkpoint for :data:`CHECKPOINT_KEY`, else ``default``."""
        return self.checkpoint if key == CHECKPOINT_KEY and self.checkpoint is not None else default

    def set(self, key: str, value: Any) -> None:
        """Keep ``value`` as the checkpoint (copied through JSON, as a real store would)."""
        if key == CHECKPOINT_KEY:
            self.checkpoint = json.loads(json.dumps(value))

    def delete(self, key: str) -> None:
        """Drop the checkpoint."""
        if key == CHECKPOINT_KEY:
            self.checkpoint = None


def fingerprint(prefix: ObjectStoragePath, streams: Sequence[Any], settings: Mapping[str, Any]) -> str:
    """Return what a landing's prefix, streams (``key`` and ``listing``) and settings hash to.

    A checkpoint is resumed only by a landing with the same fingerprint.
    """
    body = {
        "prefix": str(prefix),
        "streams": [[s.key, dict(s.listing)] for s in streams],
        **settings,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class Series:
    """One landing's write series and its checkpoint; safe to use from every worker thread.

    :param prefix: the window's prefix.
    :param fingerprint: the landing's :func:`fingerprint`; a checkpoint with another is ignored.
    :param state_store: the task context's ``task_state_store``, or ``None`` (no resume).
    :param log: where the resume decisions are logged.
    """

    prefix: ObjectStoragePath
    fingerprint: str
    state_store: Any
    log: Any
    state: dict[str, Any] = field(default_factory=dict)
    resumed_parts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _directory_made: bool = field(default=False, init=False)

    @property
    def write_id(self) -> str:
        """The series' id: its parts live under ``w={write_id}/``."""
        return self.state["write_id"]

    @property
    def directory(self) -> ObjectStoragePath:
        """The series' directory under the prefix."""
        return self.prefix / f"w={self.write_id}"

    # ---------------------------------------------------------------- checkpoint

    def restore(self, streams: int) -> None:
        """Load the checkpoint of an earlier try, if it matches and its parts are intact.

        :param streams: how many streams the landing has (for the log line).
        """
        saved = self.state_store.get(CHECKPOINT_KEY) if self.state_store is not None else None
        if isinstance(saved, dict) and saved.get("fingerprint") == self.fingerprint:
            parts = [p for s in saved["streams"].values() for p in s["parts"]]
            missing = [p["path"] for p in parts if not self._intact(p)]
            if not missing:
                self.state = saved
                self.resumed_parts = len(parts)
                done = sum(s["done"] for s in saved["streams"].values())
                self.log.info(
                    "Resuming write %s from its checkpoint: %d parts and %d of %d streams already done",
                    *(saved["write_id"], len(parts), done, streams),
                )
                return
            self.log.warning(
                "Checkpoint parts are gone or changed (%s); starting the window over", missing[:3]
            )
        elif saved:
            self.log.info("Checkpoint from a try with other settings; starting the window over")
        elif self.state_store is None:
            self.log.info("No task_state_store in this context: a retry will start the window over")
        self.state = {"fingerprint": self.fingerprint, "write_id": uuid.uuid4().hex[:16], "streams": {}}

    def _intact(self, part: Mapping[str, Any]) -> bool:
        path = self.prefix / part["path"]
        try:
            return path.fs.size(path.path) == part["bytes"]
        except FileNotFoundError:
            return False

    def start_stream(self, key: str) -> tuple[int, str | None] | None:
        """Return where stream ``key`` goes on (its next part's number, its cursor); ``None`` once done."""
        with self.lock:
            stream = self.state["streams"].setdefault(
                key, {"parts": [], "cursor": None, "requests": 0, "done": False}
            )
            return None if stream["done"] else (len(stream["parts"]), stream["cursor"])

    def part_name(self, key: str, number: int, extension: str) -> str:
        """Return the path, relative to the prefix, of part ``number`` of stream ``key``."""
        return f"w={self.write_id}/part-{key}-{number:05d}{extension}"

    def record(self, key: str, part: formats.PartInfo | None, requests: int, done: bool) -> None:
        """Add a finished part (if any) and the requests behind it to the checkpoint, and save it.

        :param done: whether the stream has no more items.
        """
        with self.lock:
            stream = self.state["streams"][key]
            if part is not None:
                stream["parts"].append(part.to_json())
                stream["cursor"] = part.cursor
            stream["requests"] += requests
            stream["done"] = done
            if self.state_store is not None:
                self.state_store.set(CHECKPOINT_KEY, self.state)

    def clear(self) -> None:
        """Delete the checkpoint (the window is published, or will never be)."""
        if self.state_store is not None:
            self.state_store.delete(CHECKPOINT_KEY)

    # ---------------------------------------------------------------- reading

    def parts(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Return the finished parts of the streams ``keys``, in that order."""
        return [p for key in keys for p in self.state["streams"][key]["parts"]]

    def requests(self) -> int:
        """Return the API requests behind the series, over every try."""
        return sum(s["requests"] for s in self.state["streams"].values())

    # ---------------------------------------------------------------- directory

    def make_directory(self) -> None:
        """Create the series directory (and a missing bucket, on S3) before its first part is opened.

        Made when the first part is about to be written and not sooner, so a landing that fails
        before its first record (a wrong key, a missing group, an unreachable API) creates
        nothing under the window's prefix. The first caller makes it; the others find it made.
        """
        with self.lock:
            if not self._directory_made:
                with writing(self.directory):
                    make_directory(self.directory)
                self._directory_made = True

    def remove_directory(self) -> None:
        """Remove the series directory of a window that is not published."""
        series = self.directory
        if series.exists():
            series.fs.rm(series.path, recursive=True)
