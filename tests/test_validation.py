"""Argument checks, run before any request: pure, so no server is needed."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import validation


def test_check_date_accepts_dates_and_refuses_datetimes():
    assert validation.check_date("d", dt.date(2025, 6, 14)) == "2025-06-14"
    assert validation.check_date("d", "2025-06-14") == "2025-06-14"
    with pytest.raises(exc.IntervalsArgumentError, match="not a datetime"):
        validation.check_date("d", dt.datetime(2025, 6, 14, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), (900, 900.0), ("12.5", 12.5), (1_000_000, 1_000_000.0)],
    ids=["none", "empty-text", "int", "text", "top"],
)
def test_check_rate_accepts_a_positive_rate_or_none(value, expected):
    assert validation.check_rate("max_requests_per_minute", value) == expected


@pytest.mark.parametrize("value", [0, -1, "fast", "nan", 1_000_001, [900]], ids=str)
def test_check_rate_refuses_what_is_not_a_positive_rate(value):
    with pytest.raises(exc.IntervalsArgumentError, match="max_requests_per_minute"):
        validation.check_rate("max_requests_per_minute", value)
