"""``python3 dev.py standalone``: the full Airflow (UI, scheduler, DAG processor, triggerer) on the sandbox.

Prepares a working directory (default ``.local/standalone``: an Airflow home, a sample season
plan) whose ``airflow.cfg`` holds every setting this Airflow needs (DAGs folder, no examples,
the API server's port, the Test action enabled), so a user's own ``airflow`` command with
``AIRFLOW_HOME`` pointing there sees the same Airflow. It starts the Intervals sandbox on a
stable port (default 8787), migrates the metadata DB, parses the example DAGs, saves the
sandbox as the connection ``intervals_default`` and the example DAGs' locations as Variables
in the metadata DB (the UI lists, tests and edits both; an existing one is kept while it still
works), and tests the connection. Then it runs ``airflow standalone`` in a session of its own
and, once the API server answers, unpauses the chain ``intervals_land_events`` ->
``intervals_warehouse_load`` (so the first landing does not race the API server's start),
prints the UI's URL, its login and the ``export AIRFLOW_HOME=...`` line for the CLI, and waits.

Ctrl+C (SIGINT) or SIGTERM stops everything it started, in order: SIGTERM to Airflow's whole
session, a bounded wait, then SIGKILL for whatever is left, then the sandbox; it exits 0 (1 if
a process of Airflow's session survived even SIGKILL). Starting, stopping and the check are
``airflow_provider_intervals.supervisor``'s.

    python3 dev.py standalone [--events 20000] [--sandbox-port 8787] [--api-port 8080] [--work DIR]
    python3 dev.py standalone --dry-run     # prepare and check everything, start no Airflow
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from local_airflow import (
    AIRFLOW,
    ROOT,
    SANDBOX_ARGS,
    airflow_batch,
    exit_failed,
    printed_json,
    venv_first_path,
)

from airflow_provider_intervals.supervisor import Child

# The chain a user triggers from the UI: the landing updates the asset the load is scheduled on.
CHAIN = ("intervals_land_events", "intervals_warehouse_load")
HEALTH_HINT_AFTER = 240.0  # seconds without a healthy API server before saying so
SQLITE_BUSY_SECONDS = 30  # how long a write waits for the metadata DB's lock (SQLite's own: 5)
# Every process of the home imports it: a SQLite write transaction takes the lock before it reads.
LOCAL_SETTINGS = Path(__file__).with_name("sqlite_local_settings.py")


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
        code = standalone(
            args.work.resolve(), args.events, args.sandbox_port, args.api_port, dry_run=args.dry_run
        )
    except KeyboardInterrupt:  # Ctrl+C while preparing: the sandbox is already stopped
        print("\nInterrupted; nothing is left running.", flush=True)
        code = 130
    sys.exit(code)


def home_settings(api_port: int, home: Path) -> dict[str, dict[str, str]]:
    """Return the options this Airflow home's ``airflow.cfg`` holds, by section.

    In the file rather than in this process's environment, so ``airflow`` run by a user with
    ``AIRFLOW_HOME`` set to the home reads the same DAGs folder, API server and settings.
    The Test action is disabled by default in Airflow; this home enables it. The API server
    listens on loopback: this Airflow stores its admin password in plain text and can test
    connections.

    The metadata DB is Airflow's SQLite file, with a 30 s busy timeout instead of SQLite's 5 s: the
    scheduler, the DAG processor and the API server write to it all the time, and a write waits
    for the lock that long. (A write that read first in its transaction could not wait at all;
    the home's ``airflow_local_settings.py``, :data:`LOCAL_SETTINGS`, makes it take the lock first.)

    :param api_port: the API server's (and UI's) port.
    :param home: the Airflow home (the metadata DB's folder).
    """
    return {
        "database": {"sql_alchemy_conn": f"sqlite:///{home / 'airflow.db'}?timeout={SQLITE_BUSY_SECONDS}"},
        "core": {
            "dags_folder": str(ROOT / "dags"),
            "load_examples": "False",
            "test_connection": "Enabled",
        },
        # Task runners reach the Execution API through the base URL: it must name the same port.
        "api": {"host": "127.0.0.1", "port": str(api_port), "base_url": f"http://localhost:{api_port}"},
    }


def home_variables(work: Path) -> dict[str, str]:
    """Return the Variables that point the example DAGs at ``work`` (see ``dags/include/locations.py``)."""
    return {
        "intervals_landing_path": (work / "lake").as_uri(),
        "intervals_warehouse_path": str(work / "warehouse" / "intervals.duckdb"),
        "intervals_reports_path": (work / "reports").as_uri(),
        "intervals_season_plan": (work / "season" / "plan.jsonl").as_uri(),
    }


def set_options(config: Path, settings: dict[str, dict[str, str]]) -> None:
    """Set each ``[section] option = value`` in the ``airflow.cfg`` at ``config``, keeping the rest.

    A line-wise edit, not ``configparser``, so the comments Airflow writes stay in place.
    """
    lines = config.read_text().splitlines() if config.exists() else []
    for section, options in settings.items():
        for option, value in options.items():
            line = f"{option} = {value}"
            try:
                start = lines.index(f"[{section}]")
            except ValueError:
                lines += ["", f"[{section}]", line]
                continue
            end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
            found = [i for i in range(start + 1, end) if re.match(rf"{re.escape(option)}\s*=", lines[i])]
            if found:
                lines[found[0]] = line
            else:
                lines.insert(start + 1, line)
    config.write_text("\n".join(lines) + "\n")


def standalone_environment(work: Path) -> dict[str, str]:
    """Return the environment of every Airflow command here: the caller's, the home, the venv first.

    Every setting is in the home's ``airflow.cfg`` (:func:`home_settings`).

    :param work: the working directory.
    """
    return {
        **os.environ,
        "PATH": venv_first_path(),
        "AIRFLOW_HOME": str(work / "airflow"),
    }


def prepare_home(work: Path, api_port: int) -> Path:
    """Create the Airflow home with a full ``airflow.cfg`` holding :func:`home_settings`; return its path.

    Airflow's default ``airflow.cfg`` (its secrets included) is written first, as the ``airflow``
    command does in a home that has none; the settings are then set in it, again on every start.
    The home's ``config/airflow_local_settings.py`` is :data:`LOCAL_SETTINGS`, copied again on
    every start: with it, a write to the SQLite metadata DB cannot fail on a lock it had to upgrade.
    """
    (work / "airflow" / "config").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LOCAL_SETTINGS, work / "airflow" / "config" / "airflow_local_settings.py")
    os.environ.update(standalone_environment(work))  # before this process imports Airflow
    from airflow import configuration

    configuration.write_default_airflow_configuration_if_needed()  # what the airflow command does first
    config = Path(configuration.AIRFLOW_CONFIG)
    set_options(config, home_settings(api_port, config.parent))
    return config


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
    config = prepare_home(work, api_port)
    env = standalone_environment(work)
    sys.path.append(str(ROOT / "dags"))
    from include.season import sample_plan, write_plan

    variables = home_variables(work)
    plan = variables["intervals_season_plan"]
    if not Path(plan.removeprefix("file://")).exists():
        write_plan(plan, sample_plan(2026))
    command = [str(AIRFLOW), "standalone"]
    print(f"Starting the Intervals sandbox with {events:,} seeded events ...", flush=True)
    with SandboxProcess(events, SANDBOX_ARGS, port=sandbox_port) as sandbox:
        _prepare_metadata(env, work, sandbox.connection_json, variables)
        print(f"  sandbox at {sandbox.url}, saved as the connection intervals_default (Admin > Connections)")
        print(f"  Airflow home {env['AIRFLOW_HOME']} (settings in {config}); DAGs from {ROOT / 'dags'}")
        print(f"  sample season plan for intervals_publish_season: {plan}")
        if dry_run:
            print(f"  would unpause {', '.join(CHAIN)} once the API server answers")
            print("Dry run: would now run " + " ".join(command))
            return 0
        url = f"http://localhost:{api_port}"
        print(
            f"Starting airflow standalone: the UI at {url} (login printed when it is up); "
            "Ctrl+C stops Airflow and the sandbox.",
            flush=True,
        )
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


def _prepare_metadata(
    env: dict[str, str], work: Path, connection_json: str, variables: dict[str, str]
) -> None:
    """Migrate the metadata DB, parse the example DAGs, save the connection and the Variables.

    As a user would, with Airflow's CLI, its commands run in one process (:func:`airflow_batch`:
    Airflow imported once, not seven times): ``db migrate``; ``dags reserialize``, which parses
    the DAGs folder as the DAG processor does (the folder on ``sys.path``) and stores the DAGs,
    so the UI lists them from the start; the DAGs and import errors listed (any fails the start);
    the Variables and ``intervals_default`` imported; the connection tested. What is already
    saved is kept (a user's edits survive a restart), but for a connection that no longer passes
    ``airflow connections test``: the sandbox's replaces it.
    """
    files = work / "airflow" / "import"
    files.mkdir(exist_ok=True)
    (files / "connections.json").write_text(json.dumps({"intervals_default": json.loads(connection_json)}))
    (files / "variables.json").write_text(json.dumps(variables))
    import_errors = ["dags", "list-import-errors", "-o", "json"]  # exits 1 when it lists any
    connection_test = ["connections", "test", "intervals_default"]  # exits 1 when the test fails
    ran = airflow_batch(
        env,
        ["db", "migrate"],
        ["dags", "reserialize"],
        ["dags", "list", "-o", "json"],
        import_errors,
        ["variables", "import", "--action-on-existing-key", "skip", str(files / "variables.json")],
        ["connections", "import", str(files / "connections.json")],
        connection_test,
    )
    failed = ran[-1]  # the batch stops at the first failure
    if failed["code"] and failed["command"] not in (import_errors, connection_test):
        exit_failed(failed)
    listed, errors = ran[2], ran[3]
    if errors["code"] or printed_json(errors["stdout"]):
        sys.exit(f"The example DAGs have import errors:\n{errors['stdout'][-4000:]}")
    print(f"  example DAGs: {', '.join(sorted(d['dag_id'] for d in printed_json(listed['stdout'])))}")
    if _tested_ok(ran[-1]):
        return
    print("  the saved connection intervals_default does not reach the sandbox: replacing it", flush=True)
    replace = ["connections", "import", "--overwrite", str(files / "connections.json")]
    replaced = airflow_batch(env, replace, connection_test)[-1]
    if not _tested_ok(replaced):
        exit_failed(
            replaced, "The sandbox connection does not work: see airflow connections test intervals_default"
        )


def _tested_ok(result: dict) -> bool:
    """Whether an ``airflow connections test`` (the UI's Test action, from the CLI) passed."""
    return result["code"] == 0 and "Connection success" in result["stdout"]


def _unpause_chain(env: dict[str, str]) -> None:
    """Unpause the chain: its first landing starts at once, so only once the API server answers.

    Airflow standalone keeps its metadata in SQLite, whose single writer may be busy with the
    scheduler: a failed try is tried again.
    """
    command = [str(AIRFLOW), "dags", "unpause", "--treat-dag-id-as-regex", "--yes", f"^({'|'.join(CHAIN)})$"]
    for attempt in range(3):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode == 0:
            print(f"  unpaused: {', '.join(CHAIN)} (the others start paused)", flush=True)
            return
        time.sleep(2 * (attempt + 1))
    print(f"Could not unpause {', '.join(CHAIN)}: {result.stderr[-2000:]}", flush=True)


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
    airflow = Child(command, name="airflow standalone", env=env).start()  # its output: the terminal
    try:
        started, announced, hinted = time.monotonic(), False, False
        while not requested and airflow.returncode is None:
            if not announced and _healthy(url):
                _unpause_chain(env)
                _print_login(env, url)
                announced = True
            elif not announced and not hinted and time.monotonic() - started > HEALTH_HINT_AFTER:
                print(f"The API server at {url} is not answering yet; see the output above.", flush=True)
                hinted = True
            time.sleep(0.5)
    finally:
        if requested or airflow.returncode is None:
            print("\nStopping Airflow (SIGTERM to its session) ...", flush=True)
        left = airflow.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if left:
        print("Still running after SIGKILL:" + "".join(f"\n    {p}" for p in left), flush=True)
        return 1
    if requested:
        return 0
    print(f"airflow standalone exited with code {airflow.returncode}", flush=True)
    return airflow.returncode or 1


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
    print("The Airflow CLI on this home, from another terminal:", flush=True)
    print(f"  export AIRFLOW_HOME={env['AIRFLOW_HOME']}", flush=True)
    print(f"  {AIRFLOW} dags list", flush=True)


if __name__ == "__main__":
    main()
