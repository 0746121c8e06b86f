"""The supervisor with real processes: start, wait for health, stop the whole session, check none is left."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest

from airflow_provider_intervals.supervisor import (
    Child,
    ChildFailed,
    free_port,
    port_open,
    run_in_session,
    session_processes,
    url_answers,
)

PY = sys.executable

# A parent that starts a grandchild in a process group of its own (as Airflow's task runners
# do), prints both pids, and waits.
PARENT_AND_GRANDCHILD = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], process_group=0)
print(f"pids {grandchild.pid}", flush=True)
time.sleep(600)
"""

IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_ends_the_whole_session_even_a_grandchild_in_a_process_group_of_its_own():
    child = Child([PY, "-c", PARENT_AND_GRANDCHILD], capture=True).start()
    line = child.wait_until("the pids", lambda: [x for x in child.lines if x.startswith("pids ")], 60)
    grandchild = int(line[0].split()[1])
    assert os.getsid(grandchild) == child.pid  # its session ...
    assert os.getpgid(grandchild) != child.pid  # ... but not its process group
    assert child.stop(timeout=30) == []
    assert child.returncode == -signal.SIGTERM
    assert _gone(grandchild)
    assert session_processes(child.pid) == []


def test_what_ignores_sigterm_is_killed_after_the_bounded_wait():
    child = Child([PY, "-c", IGNORES_SIGTERM], capture=True).start()
    child.wait_until("ready", lambda: "ready\n" in child.lines, 60)
    assert child.stop(timeout=0.5) == []
    assert child.returncode == -signal.SIGKILL


def test_a_child_that_exits_while_awaited_fails_with_its_code_and_output_tail():
    child = Child(
        [PY, "-c", "print('the database is locked'); raise SystemExit(3)"], name="airflow", capture=True
    )
    child.start()
    with pytest.raises(ChildFailed, match="airflow exited with 3 waiting for the API server") as failed:
        child.wait_until("the API server", lambda: False, 60, every=0.05)
    assert "the database is locked" in str(failed.value)


def test_a_deadline_passed_names_what_was_awaited_and_the_probe_s_last_error(tmp_path):
    log = tmp_path / "sleeper.log"
    sleeper = [PY, "-c", "print('starting', flush=True); import time; time.sleep(600)"]
    with Child(sleeper, name="the sleeper", log=log) as child:
        port = free_port()
        with pytest.raises(ChildFailed) as failed:
            child.wait_until("its port", lambda: port_open(port) or 1 / 0, 0.3, every=0.05)
    message = str(failed.value)
    assert message.startswith("timed out after 0s waiting for its port (division by zero) from the sleeper")
    assert f"all of it in {log}" in message
    assert "starting" in message  # the tail, read from the log file
    assert child.returncode == -signal.SIGTERM


def test_an_exception_outside_retry_on_fails_at_once():
    with Child([PY, "-c", "import time; time.sleep(600)"]) as child:
        calls = []

        def probe():
            calls.append(1)
            raise AssertionError("the run failed")

        with pytest.raises(AssertionError, match="the run failed"):
            child.wait_until("the run", probe, 60, retry_on=(OSError,))
    assert calls == [1]


def test_a_child_without_a_session_stays_in_its_caller_s_process_group():
    with Child([PY, "-c", "import time; time.sleep(600)"], session=False) as child:
        assert os.getpgid(child.pid) == os.getpgid(0)
        assert os.getsid(child.pid) == os.getsid(0)
    assert child.returncode == -signal.SIGTERM


def test_run_in_session_leaves_nothing_behind_what_the_command_started():
    # A daemon that lets go of the output (else the command's end would wait for the pipe).
    quiet = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    daemon = f"[sys.executable, '-c', 'import time; time.sleep(600)'], {quiet}"
    started = f"import subprocess, sys; p = subprocess.Popen({daemon}); print(p.pid)"
    result = run_in_session([PY, "-c", started], 60)
    assert result.returncode == 0
    assert _gone(int(result.stdout.strip()))


def test_run_in_session_past_its_timeout_fails_with_the_output():
    with pytest.raises(ChildFailed, match="took over 0 s") as failed:
        run_in_session([PY, "-c", "print('half way', flush=True); import time; time.sleep(600)"], 0.5)
    assert "half way" in str(failed.value)


def test_the_probes_see_a_server_answer(api):
    host, port = api.host, api.port
    assert port_open(port, host)
    assert url_answers(f"{api.url}/_sandbox/stats")
    assert not url_answers(f"{api.url}/events")  # 401 without a key
    assert not port_open(free_port())
