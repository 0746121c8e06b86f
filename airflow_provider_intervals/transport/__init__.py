"""The transport core: one request's life from building to data, without I/O.

Both hooks run every request through the generators here. A generator yields *effects*,
what the shell must do for it, and is resumed with the outcome:

- :class:`.Send`: send this request, resume with its :class:`.Answer` (the whole body read), or
  throw the :class:`~airflow_provider_intervals.exceptions.IntervalsTransportError` of an
  answer that never came or was cut short;
- :class:`.Sleep`: wait this long;
- :class:`.Call`: run this call on the key's shared pacing store (booking a slot, counting an
  answer, pausing for a 429, recalling or teaching the plan), resume with its result or throw
  its error: the sync shell calls it, the async shell runs it in a worker thread;
- :class:`.Locked`: run these steps holding this (thread) lock, resume with their value;
- :class:`.Log`: log this line.

The decisions are all here, in one place: when to book a slot in the key's bucket
(:func:`.pace`), whether an answer is data, an error, a retry or a wait and how long
(:func:`.exchange`, with :class:`~airflow_provider_intervals.retries.Retries`), how the key's
plan is learned once (:func:`.key_rate`), and how the first ``GET /organization`` of a key
whose plan is unknown is both the lookup and the answer (:func:`.organization`). What a request
and a body mean is :mod:`airflow_provider_intervals.api`. The shells,
:class:`~airflow_provider_intervals.hooks.intervals.IntervalsHook` (requests) and
:class:`~airflow_provider_intervals.hooks.intervals_async.IntervalsAsyncHook` (aiohttp), only
move bytes, sleep, lock and log, each through a :class:`.Run`; the sync shell measures the
round trip of each :class:`.Send` (``measured``) for the landing's sizing.
"""

from airflow_provider_intervals.transport.client import Client, Listing
from airflow_provider_intervals.transport.effects import (
    Answer,
    Call,
    Effect,
    Locked,
    Log,
    Run,
    Send,
    Sleep,
    Steps,
)
from airflow_provider_intervals.transport.exchange import (
    Config,
    created,
    data,
    exchange,
    headers,
    missing_key,
    pace,
    page,
)
from airflow_provider_intervals.transport.plan import key_bucket, key_rate, learn_plan, organization

__all__ = [
    "Answer",
    "Call",
    "Client",
    "Config",
    "Effect",
    "Listing",
    "Locked",
    "Log",
    "Run",
    "Send",
    "Sleep",
    "Steps",
    "created",
    "data",
    "exchange",
    "headers",
    "key_bucket",
    "key_rate",
    "learn_plan",
    "missing_key",
    "organization",
    "pace",
    "page",
]
