"""Run ``airflow`` CLI commands one after another in one process: Airflow is imported once, not per command.

    python airflow_batch.py RESULTS COMMANDS_JSON

``COMMANDS_JSON`` is a list of commands, each the ``airflow`` command's arguments (``["db",
"migrate"]``). Each runs as the ``airflow`` command runs it: Airflow's own parser and the
function it names, in the environment given (``AIRFLOW_HOME``). The run stops after the first
command that fails. ``RESULTS`` receives a JSON list, one ``{"command", "code", "stdout"}`` per
command run (``code`` 0: it succeeded). Log lines go to stderr, as ``airflow`` sends them when
``-o`` asks for structured output, so ``stdout`` holds only what the command printed. The batch's
own stdout says ``airflow_batch: start N`` as command ``N`` (from 0) begins, for a caller that
shows progress.

Airflow's CLI takes about 2 CPU-seconds to start, most of it importing Airflow: preparing the
standalone's home took seven such starts. ``airflow dags test`` takes about 8: it also builds the
in-process execution API and warms its models, once per process; a second run in the same
process adds about half a CPU-second.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from pathlib import Path

#: What the batch's stdout says as a command begins, before the command's index.
STARTED = "airflow_batch: start"


def run(commands: list[list[str]]) -> list[dict]:
    """Run ``commands`` in order, up to the first that fails; return what each did."""
    from airflow.cli import cli_parser
    from airflow.cli.utils import redirect_stdout_log_handlers_to_stderr
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()  # what the airflow command does first
    redirect_stdout_log_handlers_to_stderr()
    parser = cli_parser.get_parser()
    results = []
    progress = sys.stdout
    for index, command in enumerate(commands):
        print(STARTED, index, file=progress, flush=True)
        printed, code = io.StringIO(), 0
        with contextlib.redirect_stdout(printed):
            try:
                args = parser.parse_args(command)
                args.func(args)
            except SystemExit as stop:  # the commands' own way to fail (and argparse's)
                code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
                if isinstance(stop.code, str):  # printed to stderr, as the interpreter prints it
                    print(stop.code, file=sys.stderr)
            except Exception:  # what the airflow command would print before exiting 1
                traceback.print_exc()
                code = 1
        results.append({"command": command, "code": code, "stdout": printed.getvalue()})
        if code:
            break
    return results


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(run(json.loads(sys.argv[2]))))
