from __future__ import annotations

import http.client
import json
import shlex
import signal
import sys

import pytest
import requests

from airflow_provider_intervals.sandbox.__main__ import build_parser
from airflow_provider_intervals.sandbox.process import SandboxProcess
from airflow_provider_intervals.supervisor import Child


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
    child = Child(cmd, capture=True).start()
    try:
        lines = child.wait_until(
            "three lines", lambda: len(child.lines) >= 3 and child.lines[:3], 60, every=0.05
        )
        url = lines[0].split()[-1]
        key = lines[1].split()[-1]
        export = lines[2].strip()
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
        assert child.stop(signal.SIGTERM, timeout=10) == []
    assert child.returncode == 0
    assert child.output().splitlines()[-1] == "Intervals sandbox stopped"


def test_sandbox_process_serves_and_is_controlled_over_http() -> None:
    """SandboxProcess (used by the benchmarks and the demo) starts, answers, takes faults, and stops."""
    with SandboxProcess(300, ["--no-rate-limit", "--seed", "5"]) as proc:
        headers = {"Authorization": f"Bearer {proc.api_key}"}
        assert requests.get(f"{proc.url}/events", headers=headers, timeout=5).status_code == 200
        proc.control("faults", {"error_rate": 1.0, "error_statuses": [503]})
        assert requests.get(f"{proc.url}/events", headers=headers, timeout=5).status_code == 503
        assert proc.control("stats")["requests"] == 2
    assert proc.child is not None
    assert proc.child.returncode is not None


def test_truncate_mode_flag_sets_short_bodies() -> None:
    args = ["--no-rate-limit", "--truncate-rate", "1", "--truncate-mode", "short"]
    with SandboxProcess(30, args) as proc:
        assert proc.control("faults")["truncate_mode"] == "short"
        host, port = proc.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/groups", headers={"Authorization": f"Bearer {proc.api_key}"})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(body)
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
        assert proc.control("stats")["truncated_short"] == 1


@pytest.mark.parametrize(
    ("argv", "mode"), [([], "wire"), (["--truncate-mode", "short"], "short")], ids=["default", "short"]
)
def test_truncate_mode_flag_parses(argv: list[str], mode: str) -> None:
    assert build_parser().parse_args(argv).truncate_mode == mode


def test_unknown_truncate_mode_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["--truncate-mode", "half"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'half'" in err
    assert "wire" in err
    assert "short" in err
