"""``python -m airflow_provider_intervals preview`` as a user runs it: a process, the sandbox over HTTP."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys

import pytest

from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY
from airflow_provider_intervals.windows import Window

pytestmark = pytest.mark.slow  # each run starts a Python that imports Airflow (~5-10 s)
WINDOW = ["--date-from", "2025-04-01", "--date-to", "2025-04-20"]


def _run(args, env=None, **kwargs):
    cmd = [sys.executable, "-m", "airflow_provider_intervals", *args]
    return subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120, **kwargs)  # fmt: skip


def test_preview_prints_events_per_day_requests_and_time_at_the_plan(api, make_conn):
    make_conn(api, plan="premium")
    api.reset_stats()
    proc = _run(["preview", *WINDOW, "--type", "race"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "GET /events?type=race  2025-04-01 .. 2025-04-20 (20 days)"
    for line in lines[1:21]:
        day, count = line.split()
        assert int(count) == api.store.count_events("race", day, day)
    total = api.store.count_events("race", "2025-04-01", "2025-04-20")
    assert f"events: {total:,} " in proc.stdout
    subs = len(Window("2025-04-01", "2025-04-20").sub_windows(DEFAULT_CONCURRENCY))  # one request each
    assert f"fetches them in {subs} requests over {subs} sub-window(s)" in proc.stdout
    assert (
        "100 requests/min (burst 20), from the connection's plan extra (premium)) that takes 0 s"
        in proc.stdout
    )
    assert api.stats["requests"] == api.stats["pages_served"] == 1
    assert "Pacing requests" not in proc.stdout  # Airflow's logs go to stderr


def test_preview_json_is_the_hook_result_and_nothing_else_on_stdout(api, make_conn):
    make_conn(api, page_size=10)
    proc = _run(["preview", *WINDOW, "--split-days", "5", "--json"])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (
        data["events"]
        == sum(data["events_by_day"].values())
        == api.store.count_events(date_from="2025-04-01", date_to="2025-04-20")
    )
    assert len(data["events_by_day"]) == data["days"] == 20
    assert [s["date_from"] for s in data["landing"]["sub_windows"]] == [
        "2025-04-01", "2025-04-06", "2025-04-11", "2025-04-16"
    ]  # fmt: skip
    assert data["landing"]["requests"] == sum(
        -(-s["events"] // 10) or 1 for s in data["landing"]["sub_windows"]
    )
    assert data["rate"] is None  # the test sandbox has no rate limits
    assert data["landing"]["seconds_at_plan"] is None


def test_preview_shows_progress_on_a_terminal(api, make_conn):
    make_conn(api, page_size=5)
    parent, child = pty.openpty()
    cmd = [sys.executable, "-m", "airflow_provider_intervals", "preview", *WINDOW]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=child)
    os.close(child)
    seen = b""
    try:
        while True:  # read the terminal as it fills, until the process closes it
            try:
                chunk = os.read(parent, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(parent)
        out = proc.stdout.read()
        proc.stdout.close()
        code = proc.wait(timeout=60)
    assert code == 0
    pages = -(-api.store.count_events(date_from="2025-04-01", date_to="2025-04-20") // 5)
    assert f"preview: {pages:,} pages".encode() in seen
    assert b"preview:" not in out  # progress is the terminal's, the result stdout's
    assert out.startswith(b"GET /events  2025-04-01 .. 2025-04-20")


def test_preview_without_a_terminal_prints_no_progress(api, make_conn):
    make_conn(api, page_size=5)
    proc = _run(["preview", *WINDOW])
    assert proc.returncode == 0
    assert "preview:" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--date-from", "2025-04-31", "--date-to", "2025-05-01"], "--date-from='2025-04-31'"),
     (["--date-from", "2025-05-02", "--date-to", "2025-05-01"], "--date-to='2025-05-01': must be on"),
     ([*WINDOW, "--type", "marathon"], "--type='marathon': expected one of race, runClub, timeTrial, other"),
     ([*WINDOW, "--concurrency", "17"], "--concurrency=17"),
     ([*WINDOW, "--group", "a/b"], "--group='a/b'"),
     ([*WINDOW, "--sample-days", "0"], "--sample-days=0")],
    ids=["impossible-date", "backwards", "unknown-type", "too-concurrent", "bad-group", "no-days"],
)  # fmt: skip
def test_a_bad_argument_is_named_with_its_flag_and_sends_nothing(api, make_conn, args, message):
    """In this process (the command's ``main``, its streams given): Python and Airflow start once.

    The process door, exit status 2 and all, is the unknown connection's test below.
    """
    from airflow_provider_intervals import cli

    make_conn(api)
    api.reset_stats()
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["preview", *args], stdout=out, stderr=err) == 2
    assert message in err.getvalue()
    assert out.getvalue() == ""
    assert api.stats["requests"] == 0


def test_an_unknown_connection_says_how_to_define_it(api):
    proc = _run(["preview", *WINDOW, "--conn-id", "no_such_conn"])
    assert proc.returncode == 2
    assert "connection 'no_such_conn' is not defined" in proc.stderr
    assert "AIRFLOW_CONN_NO_SUCH_CONN" in proc.stderr


def test_a_connection_in_the_metadata_db_is_found_as_airflow_finds_it(api, tmp_path):
    # Added as a user adds it (airflow connections add), in a home of the test's own.

    home = {"AIRFLOW_HOME": str(tmp_path / "home")}
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **home},
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    conn = api.connection_json()
    add = subprocess.run([sys.executable, "-m", "airflow", "connections", "add", "intervals_in_db",
                          "--conn-json", conn], env={**os.environ, **home},
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert add.returncode == 0, add.stderr[-2000:]
    api.reset_stats()
    proc = _run(["preview", *WINDOW, "--conn-id", "intervals_in_db", "--json"], env=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["preview_requests"] == api.stats["requests"] == 1
    assert json.loads(conn)["password"] not in proc.stdout + proc.stderr


def test_the_api_failing_is_exit_status_1_and_named(api, make_conn):
    make_conn(api, key="itv_not_a_key_of_this_org")
    proc = _run(["preview", *WINDOW])
    assert proc.returncode == 1
    assert "error: the API failed:" in proc.stderr
    assert "itv_not_a_key_of_this_org" not in proc.stdout + proc.stderr
