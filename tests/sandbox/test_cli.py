from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys

import requests


def test_cli_prints_connection_and_exits_cleanly_on_sigterm() -> None:
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_intervals.sandbox",
        "--port",
        "0",
        "--events",
        "30",
        "--no-has-more",
        "--no-rate-limit",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        key = proc.stdout.readline().split()[-1]
        export = proc.stdout.readline().strip()
        assert export.startswith("export AIRFLOW_CONN_INTERVALS_DEFAULT=")
        conn = json.loads(shlex.split(export.partition("=")[2])[0])
        assert conn["conn_type"] == "intervals"
        assert conn["password"] == key
        assert url == f"http://{conn['host']}:{conn['port']}"
        body = requests.get(
            url + "/events", params={"limit": 10}, timeout=5, headers={"Authorization": f"Bearer {key}"}
        ).json()
        assert len(body["data"]) == 10
        assert "hasMore" not in body
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_sandbox_process_serves_and_is_controlled_over_http() -> None:
    """SandboxProcess (used by the benchmarks and the demo) starts, answers, takes faults, and stops."""
    import requests

    from airflow_provider_intervals.sandbox.process import SandboxProcess

    with SandboxProcess(300, ["--no-rate-limit", "--seed", "5"]) as proc:
        headers = {"Authorization": f"Bearer {proc.api_key}"}
        assert requests.get(f"{proc.url}/events", headers=headers, timeout=5).status_code == 200
        proc.control("faults", {"error_rate": 1.0, "error_statuses": [503]})
        assert requests.get(f"{proc.url}/events", headers=headers, timeout=5).status_code == 503
        assert proc.control("stats")["requests"] == 2
    assert proc._proc.poll() is not None
