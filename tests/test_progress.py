"""Progress lines: counts from any thread, at most one line per interval, never an item."""

from __future__ import annotations

import logging
import threading

from airflow_provider_intervals.progress import Progress


def _line(counts, elapsed):
    return "%d pages, %d records", counts["pages"], counts["records"]


def test_counts_add_up_across_threads():
    progress = Progress(logging.getLogger("test"), 3600, _line, names=("pages", "records"))

    def work():
        for _ in range(1000):
            progress.add(pages=1, records=10)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert progress.counts == {"pages": 4000, "records": 40000}
    assert progress.rate("records") > 0


def test_a_line_at_most_once_per_interval_and_on_report(caplog):
    progress = Progress(logging.getLogger("test.progress"), 3600, _line, names=("pages", "records"))
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for _ in range(100):
            progress.add(pages=1, records=5)
        assert caplog.messages == []  # the interval has not passed
        progress.report()
    assert caplog.messages == ["100 pages, 500 records"]


def test_every_add_logs_when_the_interval_is_zero(caplog):
    progress = Progress(logging.getLogger("test.zero"), 0, _line, names=("pages", "records"))
    with caplog.at_level(logging.INFO, logger="test.zero"):
        progress.add(pages=1, records=3)
        progress.add(pages=1, records=4)
    assert caplog.messages == ["1 pages, 3 records", "2 pages, 7 records"]
