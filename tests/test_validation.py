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
