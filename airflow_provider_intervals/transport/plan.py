"""The key's plan and bucket, learned once for every process that shares the key's store.

See :mod:`airflow_provider_intervals.transport` for the protocol.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from airflow_provider_intervals import api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.connection import Settings
from airflow_provider_intervals.transport.effects import Call, Locked, Log, Steps
from airflow_provider_intervals.transport.exchange import Config, data, exchange


def learn_plan(lookup: pacing.PlanLookup, url: str, settings: Settings) -> Steps[dict[str, Any]]:
    """Send ``GET /organization`` unpaced and teach the key's store the plan, or why not.

    Run it holding ``lookup.lock``. A failure is remembered by ``lookup`` and raised.
    """
    try:
        organization = yield from exchange(api.organization_request(), data, settings, None, measured=False)
    except exc.IntervalsError as error:
        note = yield Call(lookup.failed, (url, error))
        if note:
            yield Log(logging.INFO, note)
        raise
    note = yield Call(lookup.learned, (organization,))
    if note:
        yield Log(logging.INFO, note)
    return organization


def _recall_or_learn(lookup: pacing.PlanLookup, url: str, settings: Settings) -> Steps[pacing.Rate | None]:
    known, rate = yield Call(lookup.recall, (url,))  # raises a lookup failure it remembers
    if known:
        return rate
    with contextlib.suppress(exc.IntervalsPermissionError):  # remembered as "not paced"
        yield from learn_plan(lookup, url, settings)
    return lookup.rate


def key_rate(config: Config, store: Any) -> Steps[pacing.Rate | None]:
    """Return the key's allowance: from the extras, else its plan, learned once for every process.

    The hooks sharing the key's store wait for one ``GET /organization``
    (:class:`~airflow_provider_intervals.pacing.lookup.PlanLookup`), and one that failed is raised
    again at once for a minute; a key that may not read it (403) is not paced.
    """
    if config.settings.pacing_known:
        return config.settings.configured_rate()
    lookup = yield Call(pacing.plan_lookup, (config.key, store))
    return (yield Locked(lookup.lock, _recall_or_learn(lookup, config.url, config.settings)))


def key_bucket(
    config: Config, store: Any, cap: pacing.Rate | None = None
) -> Steps[pacing.TokenBucket | None]:
    """Return the key's token bucket through ``store``, or ``None`` when the key is not paced.

    :param cap: this hook's own pace, below the key's (``max_requests_per_minute``); with an
        unpaced key the hook keeps to it alone.
    """
    rate = yield from key_rate(config, store)
    if rate is None:
        return None if cap is None else pacing.TokenBucket(cap)
    if cap is not None and cap.per_second >= rate.per_second:
        cap = None
    mine = "" if cap is None else f", this hook at most {cap.describe(burst=False)}"
    yield Log(
        logging.INFO,
        f"Pacing requests with this API key at {rate.describe()}, shared through {store.name}{mine}",
    )
    return (yield Call(pacing.bucket_for, (config.key, rate, store, cap)))


def organization(
    config: Config, store: Any, resolved: bool, bucket: Callable[[], Steps[pacing.TokenBucket | None]]
) -> Steps[dict[str, Any]]:
    """``GET /organization``, sent once even on a key whose plan is still to learn.

    When the key's plan is unknown and nobody has learned it yet, the lookup's own answer is
    the answer (one request, unpaced, it teaches the key's store the plan). Otherwise it is
    an ordinary paced request. It always asks, even when an earlier lookup of this process
    failed (e.g. the connection's *Test*).

    :param resolved: whether the hook has resolved its bucket already (the plan is then known).
    :param bucket: returns the steps resolving the hook's bucket (or handing back the resolved one).
    """
    if not resolved and not config.settings.pacing_known:
        lookup = yield Call(pacing.plan_lookup, (config.key, store))
        learned = yield Locked(lookup.lock, _learn_unless_known(lookup, config.url, config.settings))
        if learned is not None:
            return learned
    paced = yield from bucket()
    return (yield from exchange(api.organization_request(), data, config.settings, paced))


def _learn_unless_known(
    lookup: pacing.PlanLookup, url: str, settings: Settings
) -> Steps[dict[str, Any] | None]:
    if lookup.known:
        return None
    return (yield from learn_plan(lookup, url, settings))
