"""The session's running sandboxes, one per distinct setting, and connections that point at them.

Standard library only at import: the pytest plugin imports this module, and the plugin is
loaded into every pytest session wherever the provider is installed. The sandbox itself is
imported when the first one starts.
"""

from __future__ import annotations

import inspect
import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_intervals.sandbox import Sandbox

# Connection extras that make the client retry at once: for tests that inject faults.
FAST_RETRIES = {"retry_backoff": 0.001, "retry_backoff_max": 0.01, "max_retries": 8, "timeout": 5}

# What a pooled sandbox may be configured with: the Sandbox's own arguments, less where it
# listens (always loopback, on a free port).
SETTINGS = ("events", "seed", "plan", "has_more", "rate_limits", "start_date", "days", "api_key")


class SandboxPool:
    """Running sandboxes, one per distinct setting, each started on first use and kept until :meth:`close`.

    Tests that ask for the same settings share one sandbox (starting one costs little, but the
    data a test writes stays for the others); :meth:`reset` puts a shared sandbox back the way
    it started, except for its data.
    """

    def __init__(self) -> None:
        self._running: dict[str, Sandbox] = {}
        self._baseline: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, **settings: Any) -> Sandbox:
        """Return the running sandbox with these settings, starting it on first use.

        :param settings: :class:`~airflow_provider_intervals.sandbox.app.Sandbox` arguments
            (``events``, ``seed``, ``plan``, ``has_more``, ``rate_limits``, ``start_date``,
            ``days``, ``api_key``); the ones left out take the Sandbox's defaults.
        :raises TypeError: for any other argument.
        """
        settings = _complete(settings)
        key = json.dumps(settings, sort_keys=True, default=str)
        with self._lock:
            if key not in self._running:
                self._running[key] = self.new(**settings)
            return self._running[key]

    def new(self, **settings: Any) -> Sandbox:
        """Start a sandbox of its own with these settings (see :meth:`get`); the caller stops it."""
        from airflow_provider_intervals.sandbox import Sandbox

        settings = _complete(settings)
        sandbox = Sandbox(**settings).start()
        self._baseline[id(sandbox)] = (settings, dict(sandbox.keys))
        return sandbox

    def reset(self, sandbox: Sandbox) -> None:
        """Undo what a test may have changed in a sandbox of this pool, except the data it wrote.

        Faults cleared, ``has_more`` and the rate limits back to the sandbox's settings (every
        bucket full again), only the keys it started with, counters zeroed.
        """
        settings, keys = self._baseline[id(sandbox)]
        sandbox.set_faults()
        sandbox.has_more = settings["has_more"]
        sandbox.rate_limits = settings["rate_limits"]
        sandbox.keys.clear()
        sandbox.keys.update(keys)
        sandbox.reset_stats()

    def close(self) -> None:
        """Stop every sandbox :meth:`get` started (idempotent)."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for sandbox in running:
            sandbox.stop()
            self._baseline.pop(id(sandbox), None)

    def __len__(self) -> int:
        return len(self._running)


def _complete(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill in the Sandbox's defaults, so that equal settings share one key."""
    if unknown := set(settings) - set(SETTINGS):
        raise TypeError(f"unknown sandbox settings {sorted(unknown)}: expected some of {list(SETTINGS)}")
    from airflow_provider_intervals.sandbox import Sandbox

    defaults = inspect.signature(Sandbox).parameters
    return {name: settings.get(name, defaults[name].default) for name in SETTINGS}


def connection_json(sandbox: Any, key: str | None = None, **extra: Any) -> str:
    """Return an ``intervals`` connection, as JSON for ``AIRFLOW_CONN_*``, pointing at ``sandbox``.

    :param sandbox: a running sandbox (anything with its ``connection_json(key)``).
    :param key: the API key to send (the sandbox's full-scope key if ``None``; ``""`` gives a
        connection without a key).
    :param extra: connection extras added to the sandbox's pacing extras, e.g. ``**FAST_RETRIES``.
    """
    conn = json.loads(sandbox.connection_json(key or None))
    if key is not None:
        conn["password"] = key
    if extra:
        conn["extra"] = {**conn.get("extra", {}), **extra}
    return json.dumps(conn)
