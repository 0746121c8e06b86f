"""What the demo, the standalone Airflow and the cluster check share: the venv's ``airflow``, the sandbox.

Both ``scripts/demo.py`` and ``scripts/standalone.py`` import this module; neither imports the
other for it (the demo's ``--standalone`` hands over to ``standalone.py``, one way).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def airflow_json(env: dict[str, str], *command: str) -> Any:
    """Run ``airflow *command -o json`` and return the JSON it printed (after any warnings).

    :param env: the command's environment.
    :param command: the ``airflow`` sub-command and its arguments, ``-o json`` included.
    """
    result = subprocess.run([str(AIRFLOW), *command], env=env, capture_output=True, text=True, check=True)
    line = next(x for x in result.stdout.splitlines() if x.startswith("["))  # after any warnings
    return json.loads(line)
