"""A supervised child (:class:`Child`), waiting on a probe (:func:`wait_for`), running a command through."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airflow_provider_intervals.supervisor.sessions import (
    STOP_TIMEOUT,
    session_processes,
    signal_session,
    stop_session,
)

TAIL_LINES = 40  # lines of a child's output quoted when it fails


class ChildFailed(RuntimeError):
    """A child exited, or was not healthy in time; the message ends with the tail of its output."""


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float,
    every: float = 0.5,
    check: Callable[[], None] | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> Any:
    """Call ``probe`` until it returns a truthy value and return that value.

    :param what: what is awaited, for the error message.
    :param probe: returns a truthy value once ready.
    :param timeout: seconds before giving up.
    :param every: seconds between calls.
    :param check: called between probes; raises to give up early (e.g. a child has exited).
    :param retry_on: the exceptions from ``probe`` that mean "not yet" (connection refused, a
        server starting up); any other propagates at once (a test's failed assertion).
    :raises ChildFailed: after ``timeout`` seconds, naming ``what`` and the probe's last error.
    """
    deadline, last = time.monotonic() + timeout, None
    while True:
        try:
            value = probe()
        except retry_on as error:  # not up yet
            value, last = None, error
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise ChildFailed(
                f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last})" if last else "")
            )
        time.sleep(every)


class Child:
    """A command run as a supervised child; a context manager that stops it on exit.

    :param cmd: the command; each part is passed through ``str``.
    :param name: what to call it in messages (default: the command's first part's name).
    :param env: its environment (default: this process's).
    :param cwd: its working directory, created if missing (default: this process's).
    :param log: a file its stdout and stderr are appended to; :meth:`tail` reads it back.
    :param capture: read its stdout and stderr into ``lines`` as they come (a thread).
    :param session: start it in a session of its own (the default); False keeps it in the
        caller's process group, and :meth:`stop` then signals it alone.
    :param popen: further ``subprocess.Popen`` arguments (``user``, ``group``, ...).
    """

    def __init__(
        self,
        cmd: Sequence[Any],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log: Path | None = None,
        capture: bool = False,
        session: bool = True,
        **popen: Any,
    ) -> None:
        self.cmd = [str(c) for c in cmd]
        self.name = name or Path(self.cmd[0]).name
        self.env = env
        self.cwd = cwd
        self.log = log
        self.capture = capture
        self.session = session
        self.popen = popen
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The child's process id (its session's id too, when it has a session of its own)."""
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while it runs."""
        return None if self.proc is None else self.proc.poll()

    def start(self) -> Child:
        """Start the command; return ``self``."""
        if self.cwd is not None:
            self.cwd.mkdir(parents=True, exist_ok=True)
        log_file = self.log.open("ab") if self.log is not None and not self.capture else None
        out: IO[Any] | int | None = subprocess.PIPE if self.capture else log_file
        try:
            self.proc = subprocess.Popen(
                self.cmd, env=None if self.env is None else dict(self.env), cwd=self.cwd,
                stdout=out, stderr=None if out is None else subprocess.STDOUT, stdin=subprocess.DEVNULL,
                text=self.capture, start_new_session=self.session, **self.popen,
            )  # fmt: skip
        finally:
            if log_file is not None:
                log_file.close()  # the child holds its own copy
        if self.capture:
            self._reader = threading.Thread(target=self._read, name=f"{self.name}-output", daemon=True)
            self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line)

    def wait(self, timeout: float) -> int:
        """Wait for it to exit, and for its captured output to be read to the end; return its code.

        :param timeout: seconds to wait.
        :raises subprocess.TimeoutExpired: if it still runs after ``timeout`` seconds.
        """
        assert self.proc is not None, f"{self.name} was not started"
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        return code

    def output(self) -> str:
        """Everything it has printed so far (captured, or read from its log file)."""
        if self.capture:
            return "".join(self.lines)
        if self.log is not None and self.log.exists():
            return self.log.read_text(errors="replace")
        return ""

    def tail(self, lines: int = TAIL_LINES) -> str:
        """Return the last ``lines`` lines of its output, and where the rest is.

        :param lines: how many lines.
        """
        text = "\n".join(self.output().splitlines()[-lines:])
        where = f" (all of it in {self.log})" if self.log is not None else ""
        return f"--- the last lines of {self.name}'s output{where} ---\n{text}"

    def check(self) -> None:
        """Raise :class:`ChildFailed` (with its output's tail) if the child has exited."""
        if self.returncode is not None:
            raise ChildFailed(f"{self.name} exited with {self.returncode}\n{self.tail()}")

    def wait_until(
        self,
        what: str,
        probe: Callable[[], Any],
        timeout: float,
        every: float = 0.5,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
    ) -> Any:
        """Return ``probe()``'s first truthy value; fail if the child exits or ``timeout`` passes.

        :param what: what is awaited, for the error message.
        :param probe: e.g. ``lambda: url_answers(url)``, ``lambda: port_open(port)``.
        :param timeout: seconds before giving up.
        :param every: seconds between probes.
        :param retry_on: the exceptions from ``probe`` that mean "not yet" (see :func:`wait_for`).
        :raises ChildFailed: naming ``what``, ending with the child's output tail.
        """
        try:
            return wait_for(what, probe, timeout, every, check=self.check, retry_on=retry_on)
        except ChildFailed as failed:
            if self.returncode is not None:
                raise ChildFailed(
                    f"{self.name} exited with {self.returncode} waiting for {what}\n{self.tail()}"
                ) from None
            raise ChildFailed(f"{failed} from {self.name}\n{self.tail()}") from None

    def stop(self, first: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Stop it and all it started: ``first``, a bounded wait, SIGKILL; idempotent.

        :param first: the first signal.
        :param timeout: seconds between ``first`` and SIGKILL.
        :return: ``pid command`` of any process of its session still alive (none, normally).
        """
        if self.proc is None:
            return []
        if self.session:
            return stop_session(self.proc, timeout, first)
        if self.proc.poll() is None:
            self.proc.send_signal(first)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return []

    def __enter__(self) -> Child:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_in_session(
    cmd: Sequence[Any], timeout: float, *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
    merge_stderr: bool = False,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a command to its end in a session of its own; kill whatever it leaves, even on a timeout.

    Its end is its output's end: a process it leaves behind still holding its stdout or stderr
    keeps the wait going until ``timeout``.

    :param cmd: the command.
    :param timeout: seconds before it is killed.
    :param cwd: its working directory.
    :param env: its environment.
    :param merge_stderr: stderr into stdout (``stderr`` of the result is then empty).
    :raises ChildFailed: after ``timeout`` seconds, with the end of its output.
    """
    command = [str(c) for c in cmd]
    proc = subprocess.Popen(
        command, cwd=cwd, env=None if env is None else dict(env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_session(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise ChildFailed(
            f"{' '.join(command)} took over {timeout:.0f} s:\n{out[-4000:]}\n{(err or '')[-3000:]}"
        ) from None
    finally:
        signal_session(proc.pid, signal.SIGKILL)  # nothing it started may outlive it
        _await_empty(proc.pid)
    return subprocess.CompletedProcess(command, proc.returncode, out, err or "")


def _await_empty(sid: int, timeout: float = 10.0) -> None:
    """Wait until session ``sid`` has no live process (a SIGKILL lands asynchronously), or ``timeout``."""
    deadline = time.monotonic() + timeout
    while session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.02)


def run_in_foreground(cmd: Sequence[Any], **popen: Any) -> int:
    """Run a command in this terminal's foreground to its end; return its exit code.

    While it runs, Ctrl+C is the command's to handle (the terminal sends SIGINT to both of us)
    and a SIGTERM sent to us is passed on to it: ``subprocess.call`` would instead SIGKILL it
    a quarter of a second after Ctrl+C, before it could stop what it started.

    :param cmd: the command.
    :param popen: further ``subprocess.Popen`` arguments (``cwd``, ``env``).
    """
    # Handlers, unlike SIG_IGN, are not inherited through exec: the command gets the defaults.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc = subprocess.Popen([str(c) for c in cmd], **popen)
        signal.signal(signal.SIGTERM, lambda sig, _: proc.send_signal(sig))
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
