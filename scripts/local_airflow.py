"""What the demo, the standalone Airflow and the cluster check share: the venv's ``airflow``, the sandbox.

Both ``scripts/demo.py`` and ``scripts/standalone.py`` import this module; neither imports the
other for it (the demo's ``--standalone`` hands over to ``standalone.py``, one way).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from airflow_batch import STARTED

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = Path(sys.executable).parent / "airflow"
SANDBOX_ARGS = ["--seed", "42", "--plan", "enterprise"]  # the sandbox they (and the cluster) start


def venv_first_path() -> str:
    """Return ``PATH`` with the venv's ``bin`` first.

    ``airflow standalone`` starts its components as ``airflow`` from ``PATH``, and the venv is
    not activated when ``dev.py`` runs these scripts.
    """
    path = os.environ.get("PATH", "")
    return os.pathsep.join([str(AIRFLOW.parent), *(p for p in path.split(os.pathsep) if p)])


def printed_json(stdout: str) -> Any:
    """Return the JSON list an ``airflow ... -o json`` command printed (after any warnings)."""
    return json.loads(next(x for x in stdout.splitlines() if x.startswith("[")))


def airflow_batch(
    env: dict[str, str], *commands: list[str], on_start: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """Run ``airflow`` commands in order in one process (``airflow_batch.py``), up to the first that fails.

    :param env: the commands' environment.
    :param commands: each an ``airflow`` sub-command and its arguments.
    :param on_start: called with a command's index as it begins (to show progress).
    :return: ``{"command", "code", "stdout"}`` of each command run, the last with ``"log"``: the
        end of the batch's stderr (the commands' logs, a traceback). Exits (printing the end of
        the output) if the batch itself failed.
    """
    with tempfile.TemporaryDirectory(prefix="airflow-batch-") as folder:
        results, log = Path(folder) / "results.json", Path(folder) / "stderr.log"
        script = Path(__file__).with_name("airflow_batch.py")
        with log.open("w") as stderr, subprocess.Popen(
            [sys.executable, str(script), str(results), json.dumps(commands)],
            env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        ) as batch:  # fmt: skip
            other = []  # anything else on its stdout (printed around Airflow's redirection)
            for line in batch.stdout:
                if not line.startswith(STARTED):
                    other.append(line)
                elif on_start is not None:
                    on_start(int(line.split()[-1]))
        errors = log.read_text(errors="replace")[-4000:]
        if batch.returncode or not results.exists():
            print("".join(other)[-4000:], errors, sep="\n")
            sys.exit(f"{script.name} failed with exit code {batch.returncode}")
        ran = json.loads(results.read_text())
    ran[-1]["log"] = errors
    return ran


def exit_failed(result: dict[str, Any], message: str | None = None) -> NoReturn:
    """Print the end of a batch command's output and log, then exit saying it failed.

    :param result: the command's entry from :func:`airflow_batch` (the last one: it has ``"log"``).
    :param message: what to exit with; by default, the command and its exit code.
    """
    print(result["stdout"][-4000:], result["log"], sep="\n", flush=True)
    sys.exit(message or f"airflow {' '.join(result['command'])} failed with exit code {result['code']}")
