"""The landing operators' destination: a place that refuses writes fails before any request.

Each case is a real refusal (a file where a directory must be, a place nobody may write,
a read-only directory, S3 credentials the server refuses), met through the operator as a
user runs it: the task fails with ``IntervalsStorageError`` naming the path and the fix,
raised from the file system's own error, and the sandbox counts no request.
"""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from helpers import S3_SERVER, snapshot, task_context

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.events import IntervalsEventsOperator

DAY = {"date_from": "2025-06-01", "date_to": "2025-06-01"}
PERMISSION_FIX = "permission denied; check the path's permissions or the output_conn_id's credentials"
NOT_A_DIRECTORY = "is a file, not a directory: point output_path at a directory"
ROOT = os.geteuid() == 0


def _land(output_path: str, conn_id: str | None = None) -> dict:
    task = IntervalsEventsOperator(task_id="land", output_path=output_path, output_conn_id=conn_id, **DAY)
    return task.execute(task_context())


def test_an_output_path_under_a_plain_file_names_the_file(api, make_conn, tmp_path):
    make_conn(api)
    (tmp_path / "lake").write_bytes(b"not a directory")
    with pytest.raises(exc.IntervalsStorageError) as raised:
        _land(f"file://{tmp_path}/lake/intervals")
    assert (
        str(raised.value)
        == f"file://{tmp_path}/lake is a file, not a directory: point output_path at a directory"
    )
    assert isinstance(raised.value.__cause__, NotADirectoryError)
    assert api.stats["requests"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["lake"]
    assert (tmp_path / "lake").read_bytes() == b"not a directory"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.isdir("/sys/kernel"),
    reason="needs Linux's /sys, where nobody may create a file, root included",
)
def test_a_place_where_nobody_may_write_is_refused_even_as_root(api, make_conn):
    make_conn(api)
    with pytest.raises(exc.IntervalsStorageError) as raised:
        _land("file:///sys/intervals-lake")
    assert str(raised.value) == f"cannot write to file:///sys: {PERMISSION_FIX}"
    assert isinstance(raised.value.__cause__, PermissionError)
    assert api.stats["requests"] == 0
    assert not os.path.exists("/sys/intervals-lake")


@pytest.mark.skipif(ROOT, reason="root writes through a directory's mode bits (the /sys case runs as root)")
def test_a_read_only_directory_is_refused(api, make_conn, tmp_path):
    make_conn(api)
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(exc.IntervalsStorageError) as raised:
            _land(f"file://{lake}")
    finally:
        lake.chmod(stat.S_IRWXU)
    assert str(raised.value) == f"cannot write to file://{lake}: {PERMISSION_FIX}"
    assert isinstance(raised.value.__cause__, PermissionError)
    assert api.stats["requests"] == 0
    assert list(lake.iterdir()) == []


@pytest.mark.s3
@S3_SERVER
def test_s3_credentials_the_store_refuses_fail_before_any_request(api, make_conn, s3_conn, monkeypatch):
    from airflow.sdk import ObjectStoragePath

    make_conn(api)
    published = _land("s3://lake/refused", s3_conn)  # a window the right credentials landed
    prefix = ObjectStoragePath(published["prefix"], conn_id=s3_conn)
    before = snapshot(prefix)
    wrong = json.loads(os.environ["AIRFLOW_CONN_LAKE"])
    wrong["password"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_WRONG", json.dumps(wrong))
    api.reset_stats()
    with pytest.raises(exc.IntervalsStorageError) as raised:
        _land("s3://lake/refused", "lake_wrong")
    assert str(raised.value).startswith("cannot write to s3://lake_wrong@lake/refused/events/type=all/")
    assert str(raised.value).endswith(PERMISSION_FIX)
    assert isinstance(raised.value.__cause__, PermissionError)
    assert api.stats["requests"] == 0
    assert snapshot(prefix) == before
