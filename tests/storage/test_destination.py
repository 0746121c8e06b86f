"""A destination that refuses mid-write is named like one refused before the first request."""

from __future__ import annotations

import errno

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.storage import Stream, land, window_prefix
from airflow_provider_intervals.storage.destination import storage_error

YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def test_a_file_put_in_the_way_after_the_check_is_named_when_the_first_part_is_opened(
    api, make_conn, tmp_path
):
    make_conn(api)
    lake = ObjectStoragePath(f"file://{tmp_path}/lake")
    prefix = window_prefix(lake, "events", {"type": "all", **YEAR})
    in_the_way = tmp_path / "lake"

    def pages(hook, after):
        in_the_way.write_bytes(b"written by someone else meanwhile")  # the check has passed
        return hook.event_pages(**YEAR, after=after)

    with pytest.raises(exc.IntervalsStorageError) as raised:
        land(prefix, [Stream("000", pages, YEAR)], [IntervalsHook()], resource="events", description={})
    assert (
        str(raised.value)
        == f"file://{in_the_way} is a file, not a directory: point output_path at a directory"
    )
    assert isinstance(raised.value.__cause__, NotADirectoryError)
    assert api.stats["requests"] >= 1  # met mid-write, after the first page


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only; point output_path at"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device; check output_path"),
        (
            PermissionError(errno.EACCES, "Permission denied"),
            "permission denied; check the path's permissions",
        ),
    ],
    ids=["read-only", "disk-full", "permission"],
)
def test_each_refusal_names_the_path_and_the_fix(tmp_path, error, words):
    path = ObjectStoragePath(f"file://{tmp_path}/lake")
    message = str(storage_error(path, error))
    assert message.startswith(f"cannot write to file://{tmp_path}/lake: ")
    assert words in message
