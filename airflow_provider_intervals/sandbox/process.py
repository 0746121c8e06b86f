"""Run the sandbox as its own process: for benchmarks, the demo, the scripts and the chaos tests.

An in-process :class:`~airflow_provider_intervals.sandbox.app.Sandbox` shares the GIL with
the code it serves; a separate process measures the client alone. The process is a
:class:`~airflow_provider_intervals.supervisor.child.Child` that stays in its caller's process group
(a Ctrl+C or a ``killpg`` aimed at the caller reaches it too): it starts nothing of its own.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from types import TracebackType
from typing import Any

from airflow_provider_intervals.supervisor import Child

START_TIMEOUT = 120.0  # seconds for the process to announce its URL (seeding a million events takes a few)


class SandboxProcess:
    """``python -m airflow_provider_intervals.sandbox`` as a context manager.

    :param events: number of seeded events.
    :param args: further CLI arguments, e.g. ``["--no-rate-limit", "--seed", "7"]``.
    :param port: the port to listen on; 0 (the default) picks a free one.
    """

    def __init__(self, events: int = 1000, args: list[str] | None = None, port: int = 0) -> None:
        self.events = events
        self.args = args or []
        self.port = port
        self.url = ""
        self.api_key = ""
        self.connection_json = ""
        self.child: Child | None = None

    def start(self) -> SandboxProcess:
        """Start the process and wait until it announces its URL and key.

        :raises ~airflow_provider_intervals.supervisor.child.ChildFailed: if it exits first, or takes
            longer than ``START_TIMEOUT``, with the end of its output.
        """
        cmd = [sys.executable, "-u", "-m", "airflow_provider_intervals.sandbox", "--port", str(self.port)]
        cmd += ["--events", str(self.events), *self.args]
        self.child = Child(cmd, name="the sandbox", capture=True, session=False).start()
        self.child.wait_until("its URL and key", self._announced, START_TIMEOUT, every=0.02)
        return self

    def _announced(self) -> bool:
        assert self.child is not None
        for line in list(self.child.lines):
            if match := re.search(r"listening on (\S+)", line):
                self.url = match.group(1)
            elif match := re.search(r"API key \(all scopes\): (\S+)", line):
                self.api_key = match.group(1)
            elif match := re.search(r"AIRFLOW_CONN_INTERVALS_DEFAULT='(.*)'$", line.strip()):
                self.connection_json = match.group(1)
        return bool(self.connection_json)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a ``/_sandbox/`` control endpoint (``stats``, ``faults``, ``reset-stats``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); idempotent."""
        if self.child is not None:
            self.child.stop(timeout=10)

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
