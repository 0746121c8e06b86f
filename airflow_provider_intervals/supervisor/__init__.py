"""Child processes, supervised: start, wait until healthy, stop with all they started, check none is left.

One package for every place that starts a process and must not leave one behind: the scripts
(``demo``, ``standalone``, ``cluster``), ``dev.py``, the sandbox's :class:`.SandboxProcess` and
the tests' helpers.

- :class:`.Child` starts a command in a session of its own (``start_new_session``), its output
  to a log file, captured in memory, or left to the terminal; :meth:`.Child.wait_until` polls a
  probe (:func:`.url_answers`, :func:`.port_open`, any predicate) up to a deadline and fails with
  the child's output tail when the child exits or the deadline passes; :meth:`.Child.stop`
  sends SIGTERM (or another first signal) to the whole session, waits a bounded time, SIGKILLs
  what is left and returns ``pid command`` of any survivor (none, normally).
- A session, not a process group, is what is stopped and checked: whatever the child starts
  (Airflow's components, the executor's workers, their task runners, which put themselves in
  process groups of their own) stays in its session.
- A child started with ``session=False`` stays in its caller's process group (a leaf such as
  the sandbox: a Ctrl+C or a ``killpg`` aimed at the caller reaches it too) and is stopped alone.

The package: ``probes`` (free ports, open ports, answering URLs), ``sessions`` (what a
session holds, signalling it, stopping it), ``child`` (:class:`.Child`, :func:`.wait_for`, running
a command to its end). Standard library only: ``dev.py`` imports it with the system ``python3``,
before the venv exists.
"""

from airflow_provider_intervals.supervisor.child import (
    STOP_TIMEOUT,
    Child,
    ChildFailed,
    run_in_foreground,
    run_in_session,
    wait_for,
)
from airflow_provider_intervals.supervisor.probes import free_port, port_open, url_answers
from airflow_provider_intervals.supervisor.sessions import (
    describe,
    session_processes,
    signal_session,
    stop_session,
)

__all__ = [
    "STOP_TIMEOUT",
    "Child",
    "ChildFailed",
    "describe",
    "free_port",
    "port_open",
    "run_in_foreground",
    "run_in_session",
    "session_processes",
    "signal_session",
    "stop_session",
    "url_answers",
    "wait_for",
]
