"""``python3 dev.py standalone``: the full Airflow (UI, scheduler, DAG processor, triggerer) on the sandbox.

Prepares a working directory (default ``.local/standalone``: an Airflow home, a sample season
plan), starts the Intervals sandbox on a stable port (default 8787, so a connection saved in
the UI still works after a restart), points ``intervals_default`` at it (an environment
variable every Airflow process inherits), migrates the metadata DB, parses the example DAGs,
tests the connection and unpauses the chain ``intervals_land_events`` ->
``intervals_warehouse_load``. Then it runs ``airflow standalone`` in a session of its own,
prints the UI's URL and login once the API server answers, and waits.

Ctrl+C (SIGINT) or SIGTERM stops everything it started, in order: SIGTERM to Airflow's whole
process group, a bounded wait, then SIGKILL for whatever is left, then the sandbox; it exits 0.

    python3 dev.py standalone [--events 20000] [--sandbox-port 8787] [--api-port 8080] [--work DIR]
    python3 dev.py standalone --dry-run     # prepare and check everything, start no Airflow
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from demo import AIRFLOW, ROOT, SANDBOX_ARGS, airflow_json, environment, run_airflow

# The chain a user triggers from the UI: the landing updates the asset the load is scheduled on.
CHAIN = ("intervals_land_events", "intervals_warehouse_load")
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL
HEALTH_HINT_AFTER = 240.0  # seconds without a healthy API server before saying so


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, prepare everything, run Airflow until Ctrl+C; exit quietly."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="events in the sandbox (over two years)")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / ".local" / "standalone",
        help="Airflow home, lake, warehouse and season plan (default .local/standalone)",
    )
    parser.add_argument("--sandbox-port", type=int, default=8787, help="the sandbox's port (default 8787)")
    parser.add_argument("--api-port", type=int, default=8080, help="Airflow's UI and API port (default 8080)")
    parser.add_argument("--dry-run", action="store_true", help="prepare and check only, start no Airflow")
    args = parser.parse_args(argv)
    try:
        code = standalone(args.work.resolve(), args.events, args.sandbox_port, args.api_port,
                          dry_run=args.dry_run)  # fmt: skip
    except KeyboardInterrupt:  # Ctrl+C while preparing: the sandbox is already stopped
        print("\nInterrupted; nothing is left running.", flush=True)
        code = 130
    sys.exit(code)


def standalone_environment(work: Path, api_port: int) -> dict[str, str]:
    """Return the environment of ``airflow standalone``: the demo's, plus its UI and settings.

    *Test connection* is disabled by default in Airflow; this home enables it (a value set in
    the caller's environment wins). The API server listens on loopback unless told otherwise:
    this Airflow stores its admin password in plain text and can test connections.

    :param work: the working directory.
    :param api_port: the API server's (and UI's) port.
    """
    env = environment(work)
    env["AIRFLOW__API__PORT"] = str(api_port)
    # Task runners reach the Execution API through the base URL: it must name the same port.
    env["AIRFLOW__API__BASE_URL"] = f"http://localhost:{api_port}"
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    env.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    return env


def standalone(work: Path, events: int, sandbox_port: int, api_port: int, *, dry_run: bool = False) -> int:
    """Prepare ``work``, start the sandbox, check everything, then run ``airflow standalone``.

    :param work: the working directory (Airflow home, lake, warehouse, season plan).
    :param events: events seeded in the sandbox.
    :param sandbox_port: the sandbox's port.
    :param api_port: the API server's port.
    :param dry_run: stop after the checks, print the command instead of running it.
    :return: the exit code: 0 when stopped by Ctrl+C or SIGTERM, else Airflow's own.
    """
    from airflow_provider_intervals.sandbox.process import SandboxProcess

    _require_free_port(sandbox_port, "--sandbox-port")
    if not dry_run:
        _require_free_port(api_port, "--api-port")
    (work / "airflow").mkdir(parents=True, exist_ok=True)
    env = standalone_environment(work, api_port)
    os.environ.update(env)  # before this process imports Airflow: the same home as the commands
    sys.path.append(str(ROOT / "dags"))
    from include.season import sample_plan, write_plan

    plan = env["INTERVALS_SEASON_PLAN"]
    if not Path(plan.removeprefix("file://")).exists():
        write_plan(plan, sample_plan(2026))
    command = [str(AIRFLOW), "standalone"]
    print(f"Starting the Intervals sandbox with {events:,} seeded events ...", flush=True)
    with SandboxProcess(events, SANDBOX_ARGS, port=sandbox_port) as sandbox:
        env["AIRFLOW_CONN_INTERVALS_DEFAULT"] = os.environ["AIRFLOW_CONN_INTERVALS_DEFAULT"] = (
            sandbox.connection_json
        )
        _check(env)
        print(f"  sandbox at {sandbox.url}; connection intervals_default points at it")
        print(f"  to save it in the UI: type Intervals, Base URL {sandbox.url}, API key {sandbox.api_key}")
        print(f"  Airflow home {env['AIRFLOW_HOME']}; example DAGs from {env['AIRFLOW__CORE__DAGS_FOLDER']}")
        print(f"  sample season plan for intervals_publish_season: {plan}")
        if dry_run:
            print("Dry run: would now run " + " ".join(command))
            return 0
        url = f"http://localhost:{api_port}"
        print(f"Starting airflow standalone: the UI at {url} (login printed when it is up); "
              "Ctrl+C stops Airflow and the sandbox.", flush=True)  # fmt: skip
        code = _run_until_stopped(command, env, url)
    if code == 0:
        print("Stopped Airflow and the sandbox; nothing is left running.", flush=True)
    return code


def _require_free_port(port: int, option: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"Port {port} is in use (another Airflow or sandbox?): pass {option} with a free port")


def _check(env: dict[str, str]) -> None:
    """Migrate the metadata DB, parse the example DAGs, test the connection: fail before starting.

    ``dags reserialize`` parses the DAGs folder as the DAG processor does (the folder on
    ``sys.path``) and stores them, so the UI lists them from the start and the chain can be
    unpaused before the scheduler starts.
    """
    run_airflow(env, "db", "migrate")
    run_airflow(env, "dags", "reserialize")
    dag_ids = sorted(d["dag_id"] for d in airflow_json(env, "dags", "list", "-o", "json"))
    errors = airflow_json(env, "dags", "list-import-errors", "-o", "json")
    if errors:
        sys.exit(f"The example DAGs have import errors:\n{json.dumps(errors, indent=2)}")
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

    ok, message = IntervalsHook().test_connection()
    if not ok:
        sys.exit(f"The sandbox connection does not work: {message}")
    # New DAGs are paused; unpaused, the landing runs for the last day at once, and each landing
    # triggers the warehouse load through the events asset.
    run_airflow(env, "dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({'|'.join(CHAIN)})$")
    print(f"  example DAGs: {', '.join(dag_ids)}")
    print(f"  unpaused: {', '.join(CHAIN)} (the others start paused)")


def _run_until_stopped(command: list[str], env: dict[str, str], url: str) -> int:
    """Run ``command`` in its own session until it exits, or SIGINT/SIGTERM stops it.

    The session keeps Airflow's processes (standalone, its components, the executor's workers,
    their task runners) apart from this one: a terminal's Ctrl+C reaches only us, and we stop
    them all, in order.
    """
    requested: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        requested.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        started, announced, hinted = time.monotonic(), False, False
        while not requested and proc.poll() is None:
            if not announced and _healthy(url):
                _print_login(env, url)
                announced = True
            elif not announced and not hinted and time.monotonic() - started > HEALTH_HINT_AFTER:
                print(f"The API server at {url} is not answering yet; see the output above.", flush=True)
                hinted = True
            time.sleep(0.5)
    finally:
        if requested or proc.poll() is None:
            print("\nStopping Airflow (SIGTERM to its process group) ...", flush=True)
        _stop_session(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if requested:
        return 0
    print(f"airflow standalone exited with code {proc.returncode}", flush=True)
    return proc.returncode or 1


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as response:
            return json.loads(response.read())["metadatabase"]["status"] == "healthy"
    except (OSError, ValueError, KeyError):
        return False


def _print_login(env: dict[str, str], url: str) -> None:
    """Print the UI's URL and every login in the simple auth manager's generated password file.

    ``airflow standalone`` prints the password only when it generates it, on the first start;
    the file keeps it, so we print it on every start.
    """
    path = Path(
        env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        or Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    )
    try:
        logins = json.loads(path.read_text())
    except (OSError, ValueError):
        logins = {}
    print(f"\nAirflow is up: open {url}", flush=True)
    for user, password in logins.items():
        print(f"  login: user {user}, password {password}  (kept in {path})", flush=True)
    if not logins:
        print(f"  no generated login in {path}: see [core] simple_auth_manager_users", flush=True)


def _session_processes(sid: int) -> list[tuple[int, int]] | None:
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


def _alive(proc: subprocess.Popen, sid: int) -> bool:
    proc.poll()  # reap our own child, so it does not count as a live zombie
    members = _session_processes(sid)
    if members is not None:
        return bool(members)
    try:  # no /proc: the process group stands for the session
        os.killpg(sid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_session(sid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    # Task runners put themselves in process groups of their own, inside the same session.
    for pid, group in _session_processes(sid) or []:
        if group != sid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _stop_session(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop every process of ``proc``'s session: SIGTERM, wait up to ``timeout``, then SIGKILL."""
    sid = proc.pid  # a session leader's id is its session's and its process group's id
    if not _alive(proc, sid):
        return
    _signal_session(sid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(proc, sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(proc, sid):
        print(f"Some Airflow processes ignored SIGTERM for {timeout:.0f} s: killing them", flush=True)
        _signal_session(sid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(proc, sid) and time.monotonic() < deadline:
            time.sleep(0.1)
    proc.wait()


if __name__ == "__main__":
    main()
