"""Run the sandbox as its own process: for benchmarks and the demo.

An in-process :class:`~airflow_provider_intervals.sandbox.app.Sandbox` shares the GIL with
the code it serves; a separate process measures the client alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from types import TracebackType
from typing import Any


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
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> SandboxProcess:
        """Start the process and wait until it announces its URL and key."""
        cmd = [sys.executable, "-u", "-m", "airflow_provider_intervals.sandbox", "--port", str(self.port)]
        cmd += ["--events", str(self.events), *self.args]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        while not self.connection_json:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the sandbox exited with {self._proc.wait()} before announcing its URL")
            if match := re.search(r"listening on (\S+)", line):
                self.url = match.group(1)
            elif match := re.search(r"API key \(all scopes\): (\S+)", line):
                self.api_key = match.group(1)
            elif match := re.search(r"AIRFLOW_CONN_INTERVALS_DEFAULT='(.*)'$", line.strip()):
                self.connection_json = match.group(1)
        return self

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a ``/_sandbox/`` control endpoint (``stats``, ``faults``, ``reset-stats``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
