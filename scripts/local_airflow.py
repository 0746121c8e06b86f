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
from pathlib import Path
from typing import Any

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


def run_airflow(env: dict[str, str], *command: str) -> None:
    """Run ``airflow *command``; on failure print the end of its output and exit.

    :param env: the command's environment.
    :param command: the ``airflow`` sub-command and its arguments.
    """
    result = subprocess.run([str(AIRFLOW), *command], env=env, capture_output=True, text=True)
    if result.returncode:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        sys.exit(f"airflow {' '.join(command)} failed with exit code {result.returncode}")


def printed_json(stdout: str) -> Any:
    """Return the JSON list an ``airflow ... -o json`` command printed (after any warnings)."""
    return json.loads(next(x for x in stdout.splitlines() if x.startswith("[")))


def airflow_batch(env: dict[str, str], *commands: list[str]) -> list[dict[str, Any]]:
    """Run ``airflow`` commands in order in one process (``airflow_batch.py``), up to the first that fails.

    :param env: the commands' environment.
    :param commands: each an ``airflow`` sub-command and its arguments.
    :return: ``{"command", "code", "stdout"}`` of each command run, the last with ``"log"``: the
        end of the batch's stderr (the commands' logs, a traceback). Exits (printing the end of
        the output) if the batch itself failed.
    """
    with tempfile.TemporaryDirectory(prefix="airflow-batch-") as folder:
        results = Path(folder) / "results.json"
        script = Path(__file__).with_name("airflow_batch.py")
        done = subprocess.run([sys.executable, str(script), str(results), json.dumps(commands)], env=env,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode or not results.exists():
            print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
            sys.exit(f"{script.name} failed with exit code {done.returncode}")
        ran = json.loads(results.read_text())
    ran[-1]["log"] = done.stderr[-4000:]
    return ran
