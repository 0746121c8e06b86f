"""The read surface both hooks share: explicit keyword signatures, the same methods, no private overrides."""

from __future__ import annotations

import inspect

import pytest
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_intervals import api
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.hooks.intervals_async import IntervalsAsyncHook
from airflow_provider_intervals.hooks.resources import IntervalsReads, IntervalsWrites

PAGING = ("limit", "after")
SIGNATURES = {
    "event_pages": (*api.EVENT_FILTERS, *PAGING),
    "iter_events": (*api.EVENT_FILTERS, *PAGING),
    "list_events": (*api.EVENT_FILTERS, *PAGING, "before"),
    "group_event_pages": (*api.EVENT_FILTERS, *PAGING),
    "iter_group_events": (*api.EVENT_FILTERS, *PAGING),
    "recurrence_pages": (*api.RECURRENCE_FILTERS, *PAGING),
    "iter_recurrences": (*api.RECURRENCE_FILTERS, *PAGING),
    "registration_pages": PAGING,
    "iter_registrations": PAGING,
    "group_pages": PAGING,
    "iter_groups": PAGING,
}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}


@pytest.mark.parametrize("hook", [IntervalsHook, IntervalsAsyncHook], ids=["sync", "async"])
@pytest.mark.parametrize("method", sorted(SIGNATURES))
def test_listing_methods_name_their_filters_as_keywords(hook, method):
    parameters = inspect.signature(getattr(hook, method)).parameters.values()
    keywords = tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)
    assert keywords == SIGNATURES[method]
    assert not [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]


@pytest.mark.parametrize("builder", [api.events_request, api.group_events_request])
def test_the_event_filters_are_the_request_builders_own(builder):
    parameters = inspect.signature(builder).parameters
    assert [name for name in api.EVENT_FILTERS if name in parameters] == list(api.EVENT_FILTERS)
    assert "status" in inspect.signature(api.recurrences_request).parameters


def test_both_hooks_have_the_same_read_surface_and_only_the_sync_one_writes():
    reads = _public(IntervalsReads)
    assert reads <= _public(IntervalsHook)
    assert reads <= _public(IntervalsAsyncHook)
    writes = _public(IntervalsWrites)
    assert writes == {"create_event", "register_participant"}
    assert writes <= _public(IntervalsHook)
    assert not writes & _public(IntervalsAsyncHook)


def test_help_shows_the_filter_names():
    assert "event_type" in inspect.getdoc(IntervalsHook.event_pages)
    assert "date_from: 'Any' = None" in str(inspect.signature(IntervalsHook.iter_events))


def test_the_sync_hook_overrides_no_private_method_of_httphook():
    # A minor release of providers-http may change its private methods: we use its public surface only.
    ours = [cls for cls in IntervalsHook.__mro__ if cls.__module__.startswith("airflow_provider_intervals")]
    overridden = {
        name
        for cls in ours
        for name in vars(cls)
        if name.startswith("_") and not name.startswith("__") and hasattr(HttpHook, name)
    }
    assert overridden == set()
