"""CPU priority for the real-time tests: the suite's workers run niced, a ``realtime`` test does not.

``python3 dev.py test`` runs two workers per core, and a second suite may run beside it. The
``realtime`` tests time pacing against a rate limit on the wall clock (the sandbox counts 429s
and learns rates as requests arrive): a request that a starved process sends late lands in the
next one's slot. So each worker lowers its priority once (:data:`WORKER_NICENESS`), and a
``realtime`` test puts the worker back to the priority it started with while the test runs:
its threads (the in-process sandbox's too), the processes it starts and the children it forks
then get the CPU before the other workers' load. Taking a priority back is allowed to root or
under a raised ``RLIMIT_NICE`` only; elsewhere the test runs at the workers' priority, as every
test did before (nothing is assumed, nothing fails for it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: How much each parallel worker lowers its priority at start (a weight about 10x below).
WORKER_NICENESS = 10
_started: list[int] = []  # the priority the worker started with, once it has lowered its own


def _threads() -> list[int]:
    """The ids of this process's threads (Linux priorities are per thread)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _set(priority: int) -> None:
    for tid in _threads():
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            os.setpriority(os.PRIO_PROCESS, tid, priority)


def lower_worker() -> None:
    """Lower this worker's priority by :data:`WORKER_NICENESS` (once; lowering is always allowed)."""
    if _started or not hasattr(os, "setpriority"):
        return
    started = os.getpriority(os.PRIO_PROCESS, 0)
    _set(min(19, started + WORKER_NICENESS))
    _started.append(started)


@contextlib.contextmanager
def realtime() -> Iterator[bool]:
    """Run the block at the worker's starting priority if the OS allows; yield whether it does."""
    if not _started:
        yield False
        return
    niced = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        _set(_started[0])
    except PermissionError:
        yield False
        return
    try:
        yield True
    finally:
        _set(niced)


def current() -> int:
    """This thread's priority (what a process started or forked now inherits)."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def take(priority: int) -> None:
    """Set this process's priority to ``priority`` if the OS allows (a forked child's first step)."""
    with contextlib.suppress(PermissionError):
        _set(priority)
