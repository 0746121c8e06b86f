"""``scripts/airflow_batch.py``: ``airflow`` commands in one process, each as ``airflow`` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_commands_run_in_order_print_as_the_cli_does_and_stop_at_the_first_failure(tmp_path):
    """``version`` prints it; a missing connection fails with the CLI's exit code; nothing after runs."""
    commands = [["version"], ["connections", "get", "no_such_connection", "-o", "json"], ["version"]]
    results = tmp_path / "results.json"
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")}
    batch = [sys.executable, str(ROOT / "scripts" / "airflow_batch.py"), str(results), json.dumps(commands)]
    done = subprocess.run(batch, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    version, missing = json.loads(results.read_text())
    import airflow

    assert version == {"command": ["version"], "code": 0, "stdout": f"{airflow.__version__}\n"}
    assert missing["command"] == commands[1]
    assert missing["code"] == 1
    assert done.stderr.endswith("Connection not found.\n")  # said on stderr, as the CLI says it
    assert done.stdout == "airflow_batch: start 0\nairflow_batch: start 1\n"  # the third never began
    assert (tmp_path / "home" / "airflow.cfg").exists()  # written first, as the airflow command does
