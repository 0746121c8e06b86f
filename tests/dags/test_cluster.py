"""``python3 dev.py cluster``, run as a user would: the example DAGs on a distributed Airflow.

The check itself compares every landed window with the API and the warehouse; this test reads
its summary and compares the backfilled windows with an independent copy of the sandbox's data
(the same seed gives the same events), then checks that nothing it started is left running.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_intervals.sandbox.store import Store

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "cluster_services.py"
EVENTS = 20_000


def cluster_services():
    spec = importlib.util.spec_from_file_location("cluster_services", SERVICES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def user_environment() -> dict[str, str]:
    """The environment of a user's shell: none of the test session's Airflow settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "INTERVALS_"))}


@pytest.mark.slow
def test_dev_py_cluster_lands_loads_and_senses_on_celery_workers_and_stops_everything(tmp_path):
    missing = cluster_services()._missing()
    if missing and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip(f"needs the Debian packages {', '.join(missing)} and cannot install them (not root)")
    python3 = shutil.which("python3") or sys.executable
    result = subprocess.run(
        [python3, "dev.py", "cluster", "--work", str(tmp_path), "--events", str(EVENTS)],
        cwd=ROOT, env=user_environment(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-6000:] + result.stderr[-3000:]

    lines = out.splitlines()
    # Three backfilled days, the scheduled run of yesterday, the sensor's window: all equal and loaded.
    (verdict,) = [line for line in lines if line.startswith("Result: ")]
    assert re.match(r"Result: OK: (\d+)/\1 windows equal to the API and loaded", verdict), out
    assert int(verdict.split("/")[0].rsplit(" ", 1)[1]) >= 5
    assert "Processes left after stopping: 0" in lines
    assert any(
        line.startswith("Sensor: wait_for_new_events deferred on triggerer (TriggererJob") for line in lines
    )
    for worker in ("worker1", "worker2"):
        ran = next(line for line in lines if line.startswith(f"Worker {worker}: "))
        assert int(ran.split(": ")[1].split()[0]) > 0, ran

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["problems"] == []
    assert summary["left"] == []
    truth = Store(EVENTS, 42, dt.date(2025, 1, 1), 730)  # the sandbox CLI's defaults, seed 42
    backfilled = [w for w in summary["windows"] if w["run_type"] == "backfill"]
    assert [w["date_from"] for w in backfilled] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    for w in backfilled:
        want = len(list(truth.iter_events(date_from=w["date_from"], date_to=w["date_to"])))
        assert (w["landed"], w["api"], w["warehouse"]) == (want, want, want) != (0, 0, 0)
        assert w["manifest"].startswith("s3://lake@lake/intervals/events/type=all/")
    assert {t["hostname"] for t in summary["tasks"]} == {"worker1", "worker2"}
    assert sum(load["consumed"] for load in summary["loads"]) <= summary["asset_events"]

    # The workers paced the key through the broker's Redis (pacing_conn_id), each as a host of its
    # own, and none of them had to pace it alone.
    task_logs = {
        worker: "".join(
            p.read_text(errors="replace") for p in (tmp_path / worker / "logs").rglob("*") if p.is_file()
        )
        for worker in ("worker1", "worker2")
    }
    for worker, text in task_logs.items():
        assert "shared through the shared pacing store of connection 'pacing' (redis://" in text, worker
        assert "paces the key alone" not in text, worker

    # Independently of the script's own check: no process runs from its folder (as ps would show).
    stray = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(tmp_path) in (proc / "cmdline").read_bytes().decode(
                errors="replace"
            ):
                stray.append(proc.name)
        except OSError:
            continue
    assert stray == []


def test_dev_py_cluster_says_what_is_missing_and_exits_2_when_it_cannot_install(monkeypatch, capsys):
    script = cluster_services()
    monkeypatch.setattr(script, "_pg_bin", lambda: None)
    monkeypatch.setattr(script.shutil, "which", lambda name: None)
    monkeypatch.setattr(script.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exit_info:
        script.prerequisites()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "needs the Debian packages postgresql, redis-server" in err
    assert "sudo apt-get install -y postgresql redis-server" in err
