"""The process's buckets, plan lookups and stores, keyed by a key's digest (never the key)."""

from __future__ import annotations

import os
import threading

from airflow_provider_intervals.pacing.bucket import TokenBucket
from airflow_provider_intervals.pacing.lookup import PlanLookup
from airflow_provider_intervals.pacing.rates import Rate, key_digest
from airflow_provider_intervals.pacing.stores import (
    Failover,
    FileStore,
    Store,
    default_directory,
    forget_failures,
)

_BUCKETS: dict[tuple[str, str, Rate, Rate | None], TokenBucket] = {}
_LOOKUPS: dict[tuple[str, str], PlanLookup] = {}
_FAILOVERS: dict[tuple[str, str], Failover] = {}
_STORES: dict[str, Store] = {}
_REGISTRY_LOCK = threading.Lock()


def store_for(conn_id: str | None = None, owner: str = "intervals_default") -> Store:
    """Return the store a connection's ``pacing_conn_id`` extra names, or this host's directory.

    Nothing is asked of the store yet; a named connection is looked up (once per process).

    :param conn_id: the ``pacing_conn_id`` extra, or ``None`` for the per-host directory
        (:func:`~airflow_provider_intervals.pacing.stores.default_directory`, read now).
    :param owner: the Intervals connection naming it, for the error.
    :raises IntervalsConfigurationError: ``conn_id`` names no connection, or one that is neither
        Redis nor a SQL database.
    """
    if not conn_id:
        directory = default_directory()
        with _REGISTRY_LOCK:
            return _STORES.setdefault(f"dir:{directory}", FileStore(directory))
    with _REGISTRY_LOCK:
        known = _STORES.get(f"conn:{conn_id}")
    if known is not None:
        return known
    from airflow_provider_intervals.pacing import servers

    store = servers.connect(conn_id, owner)
    if isinstance(store, servers.Unavailable):  # asked again by the next hook
        return store
    with _REGISTRY_LOCK:
        return _STORES.setdefault(f"conn:{conn_id}", store)


def _failover(store: Store, digest: str) -> Failover:
    # Called holding _REGISTRY_LOCK.
    return _FAILOVERS.setdefault((store.name, digest), Failover(store, digest))


def bucket_for(api_key: str, rate: Rate, store: Store | None = None, cap: Rate | None = None) -> TokenBucket:
    """Return the process's bucket for ``api_key`` at ``rate``, on the key's shared state in ``store``.

    Every bucket of one key shares one state; one with a ``cap`` (a hook's
    ``max_requests_per_minute``) also keeps its caller to that rate.

    :param api_key: the key (only its digest is kept).
    :param rate: the key's allowance (the plan's, or the connection's explicit one).
    :param store: where the key's state lives; ``None``: this host's directory.
    :param cap: the caller's own limit, below ``rate``.
    """
    store = store if store is not None else store_for()
    digest = key_digest(api_key)
    name = (digest, store.name, rate, cap)
    with _REGISTRY_LOCK:
        bucket = _BUCKETS.get(name)
        if bucket is None:
            bucket = _BUCKETS[name] = TokenBucket(rate, shared=_failover(store, digest), cap=cap)
        return bucket


def plan_lookup(api_key: str, store: Store | None = None) -> PlanLookup:
    """Return the process's :class:`~.lookup.PlanLookup` for ``api_key``, shared through ``store``.

    :param api_key: the key (only its digest is kept).
    :param store: where the key's state lives; ``None``: this host's directory.
    """
    store = store if store is not None else store_for()
    digest = key_digest(api_key)
    with _REGISTRY_LOCK:
        lookup = _LOOKUPS.get((digest, store.name))
        if lookup is None:
            bucket_at = lambda rate: bucket_for(api_key, rate, store)  # noqa: E731
            lookup = PlanLookup(_failover(store, digest), bucket_at=bucket_at)
            _LOOKUPS[(digest, store.name)] = lookup
        return lookup


def learned_rate(api_key: str, store: Store | None = None) -> tuple[bool, Rate | None]:
    """Return ``(known, rate)``: whether this process knows the key's plan, and its rate."""
    lookup = plan_lookup(api_key, store)
    return lookup.known, lookup.rate


def remember_rate(api_key: str, rate: Rate | None, store: Store | None = None) -> None:
    """Keep ``rate`` as the key's plan (``None``: not paced), for this process and the store's others."""
    plan_lookup(api_key, store).remember(rate)


def forget() -> None:
    """Drop every bucket, plan and remembered failure of this process and of this host's directory.

    For tests and benchmarks, which start clean: it empties the per-host directory (the one
    :func:`~airflow_provider_intervals.pacing.stores.default_directory` names now).
    """
    with _REGISTRY_LOCK:
        _BUCKETS.clear()
        _LOOKUPS.clear()
        _FAILOVERS.clear()
        _STORES.clear()
    forget_failures()
    FileStore(default_directory()).clear()


def _after_fork() -> None:
    # A forked child (a task runner) must not share its parent's locks, files or connections.
    global _REGISTRY_LOCK
    _REGISTRY_LOCK = threading.Lock()
    _BUCKETS.clear()
    _LOOKUPS.clear()
    _FAILOVERS.clear()
    _STORES.clear()


os.register_at_fork(after_in_child=_after_fork)
