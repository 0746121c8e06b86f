"""Stop a command and everything it started: the session it leads, SIGTERM, a bounded wait, SIGKILL.

A command started with ``start_new_session=True`` leads a session; whatever it starts (Airflow's
components, the executor's workers, their task runners, which put themselves in process
groups of their own) stays in that session, so the session is what is stopped and checked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL


def session_processes(sid: int) -> list[tuple[int, int]] | None:
    """Return ``(pid, process group)`` of each live (not zombie) process of session ``sid``.

    None where there is no ``/proc`` to read (not Linux).
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    found = []
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The fields after the command (which may hold spaces): state, ppid, pgrp, session, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                found.append((int(stat.parent.name), int(fields[2])))
    return found


def alive(proc: subprocess.Popen, sid: int) -> bool:
    """Whether any process of session ``sid`` (led by ``proc``) still lives."""
    proc.poll()  # reap our own child, so it does not count as a live zombie
    members = session_processes(sid)
    if members is not None:
        return bool(members)
    try:  # no /proc: the process group stands for the session
        os.killpg(sid, 0)
    except ProcessLookupError:
        return False
    return True


def signal_session(sid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to every process of session ``sid``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    # Task runners put themselves in process groups of their own, inside the same session.
    for pid, group in session_processes(sid) or []:
        if group != sid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def stop_session(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop every process of ``proc``'s session: SIGTERM, wait up to ``timeout``, then SIGKILL."""
    sid = proc.pid  # a session leader's id is its session's and its process group's id
    if not alive(proc, sid):
        return
    signal_session(sid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(proc, sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(proc, sid):
        print(f"Some processes ignored SIGTERM for {timeout:.0f} s: killing them", flush=True)
        signal_session(sid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while alive(proc, sid) and time.monotonic() < deadline:
            time.sleep(0.1)
    proc.wait()
