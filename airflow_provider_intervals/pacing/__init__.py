"""Client-side pacing: one allowance per API key, shared by every process that uses the key.

The API limits requests per credential (the reference's *Rate limits*): every request made with
one key spends one allowance, whichever task, sub-window, trigger or worker sends it. So there is
one token bucket per key (named by a digest of it, never the key itself), and its state lives in
a store every process using the key shares (:mod:`.stores`, :mod:`.servers`):

- with no configuration, a per-user cache directory of the host (``$INTERVALS_PACING_DIR``, else
  ``$XDG_CACHE_HOME`` or ``~/.cache``, under ``airflow-provider-intervals/pacing``): every task
  process and worker of the host shares it;
- with the connection extra ``pacing_conn_id``, a Redis or SQL database connection that the
  deployment already runs: every host shares it.

If the store fails, the process paces the key alone, from the last state it saw, with one
warning (per process and key), and tries the store again a minute later; no task fails for it.

A hook books each request's slot (:func:`~.bucket.book`, :meth:`.TokenBucket.book`) and sleeps (or awaits)
the wait it returns; a slot further than ``max_rate_limit_wait`` away raises
:class:`~airflow_provider_intervals.exceptions.IntervalsRateLimitError` whose ``retry_after``
is the epoch second it frees, and nothing is sent. The bucket starts at the plan's rate and burst
(:class:`~.rates.Rate`), from the connection's extras or from ``GET /organization``, looked up once and
shared through the same store (:class:`~.lookup.PlanLookup`).

A 429 pauses the bucket until its ``retryAfter``, for every process, and teaches the key's real
allowance (:mod:`.allowance`): the requests accepted between two 429s, over the time between
their ``retryAfter`` moments, is the rate left to us; the pace goes just under it, probes upward
once a minute at most (never above the plan's), and goes back to the plan's rate and burst after
a full minute at it without a 429. A task that starts after another inherits all of it: the
drained bucket, the pause, the learned rate, the plan.
"""

from __future__ import annotations

from airflow_provider_intervals.pacing.allowance import FORGET_SECONDS, MARGIN, PROBE_SECONDS, PROBE_STEP
from airflow_provider_intervals.pacing.bucket import TokenBucket, book
from airflow_provider_intervals.pacing.lookup import LOOKUP_FAILURE_SECONDS, PLAN_SECONDS, PlanLookup
from airflow_provider_intervals.pacing.rates import PLAN_LIMITS, PLANS, Rate, key_digest, seconds_for
from airflow_provider_intervals.pacing.registry import (
    bucket_for,
    forget,
    learned_rate,
    plan_lookup,
    remember_rate,
    store_for,
)
from airflow_provider_intervals.pacing.stores import DIRECTORY_ENV, default_directory

__all__ = [
    "DIRECTORY_ENV",
    "FORGET_SECONDS",
    "LOOKUP_FAILURE_SECONDS",
    "MARGIN",
    "PLANS",
    "PLAN_LIMITS",
    "PLAN_SECONDS",
    "PROBE_SECONDS",
    "PROBE_STEP",
    "PlanLookup",
    "Rate",
    "TokenBucket",
    "book",
    "bucket_for",
    "default_directory",
    "forget",
    "key_digest",
    "learned_rate",
    "plan_lookup",
    "remember_rate",
    "seconds_for",
    "store_for",
]
