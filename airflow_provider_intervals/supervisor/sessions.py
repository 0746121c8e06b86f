"""A session and everything in it: list its processes, signal them all, stop them, say who is left.

A session, not a process group, is what is stopped and checked: Airflow's task runners put
themselves in process groups of their own, inside the session of the command that started them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

STOP_TIMEOUT = 30.0  # seconds between the first signal and SIGKILL


def session_processes(sid: int) -> list[tuple[int, int]] | None:
    """Return ``(pid, process group)`` of each live (not zombie) process of session ``sid``.

    :param sid: the session id (its leader's pid).
    :return: the processes, or None where there is no ``/proc`` to read (not Linux).
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


def describe(pid: int) -> str:
    """Return ``pid command`` (the command line cut to 120 characters), as ``ps`` would show it.

    :param pid: the process id.
    """
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        command = "?"
    return f"{pid} {command.strip()[:120]}"


def signal_session(sid: int, sig: int) -> None:
    """Send ``sig`` to every process of session ``sid``, whatever process group each is in.

    :param sid: the session id.
    :param sig: the signal.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    # Task runners put themselves in process groups of their own, inside the same session.
    for pid, group in session_processes(sid) or []:
        if group != sid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _session_alive(proc: subprocess.Popen, sid: int) -> bool:
    proc.poll()  # reap our own child, so it does not count as a live zombie
    members = session_processes(sid)
    if members is not None:
        return bool(members)
    try:  # no /proc: the process group stands for the session
        os.killpg(sid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_session(
    proc: subprocess.Popen, timeout: float = STOP_TIMEOUT, first: int = signal.SIGTERM
) -> list[str]:
    """Stop every process of ``proc``'s session: ``first``, wait up to ``timeout``, then SIGKILL.

    :param proc: a process started with ``start_new_session=True`` (it leads the session).
    :param timeout: seconds between ``first`` and SIGKILL.
    :param first: the first signal (SIGINT is PostgreSQL's fast shutdown, for instance).
    :return: ``pid command`` of every process of the session still alive (none, normally).
    """
    sid = proc.pid  # a session leader's id is its session's and its process group's id
    if _session_alive(proc, sid):
        signal_session(sid, first)
        deadline = time.monotonic() + timeout
        while _session_alive(proc, sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _session_alive(proc, sid):
            with contextlib.suppress(OSError):  # stdout may be a pipe whose reader is gone
                print(f"Some processes ignored signal {first} for {timeout:.0f} s: killing them", flush=True)
            signal_session(sid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _session_alive(proc, sid) and time.monotonic() < deadline:
                time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return [describe(pid) for pid, _ in session_processes(sid) or []]
