"""The error tree: drawn in the module docstring, typed, and carried through trigger events."""

from __future__ import annotations

import inspect
import re

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_intervals import exceptions as exc

CLASSES = {
    name: cls
    for name, cls in vars(exc).items()
    if inspect.isclass(cls) and issubclass(cls, exc.IntervalsError) and cls.__module__ == exc.__name__
}


def test_the_docstring_draws_every_error_class():
    drawn = set(re.findall(r"\b(Intervals[A-Za-z]*Error)\b", exc.__doc__))
    assert drawn == set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_error_is_an_airflow_exception(name):
    assert issubclass(CLASSES[name], AirflowException)


def test_an_argument_error_is_a_value_error_naming_the_argument_and_fix():
    error = exc.IntervalsArgumentError("limit", 0, "expected an integer from 1 to 100")
    assert isinstance(error, ValueError)
    assert str(error) == "Invalid limit=0: expected an integer from 1 to 100"
    assert (error.argument, error.value) == ("limit", 0)


@pytest.mark.parametrize(
    "error",
    [
        exc.IntervalsNotFoundError(404, "NOT_FOUND", "Event not found", request_id="r1"),
        exc.IntervalsRateLimitError(429, "RATE_LIMITED", "slow down", retry_after=1.0),
        exc.IntervalsTimeoutError("GET /events timed out after 2s"),
        exc.IntervalsStorageError("part w=1/part-000-00000.jsonl.gz does not match its manifest entry"),
    ],
    ids=["api-error", "rate-limit", "transport", "storage"],
)
def test_a_trigger_event_rebuilds_the_same_type_and_message(error):
    rebuilt = exc.error_from_dict(exc.error_to_dict(error))
    assert type(rebuilt) is type(error)
    assert str(rebuilt) == str(error)
    assert getattr(rebuilt, "retry_after", None) == getattr(error, "retry_after", None)


def test_an_unknown_error_type_rebuilds_as_the_base_class():
    rebuilt = exc.error_from_dict({"error_type": "Nonsense", "message": "boom"})
    assert type(rebuilt) is exc.IntervalsError
    assert str(rebuilt) == "boom"
