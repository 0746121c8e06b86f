"""A hook's requests to one key: :class:`Client` gives the steps of each, :class:`Listing` a listing's.

See :mod:`airflow_provider_intervals.transport` for the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_intervals import api, pacing
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.transport.effects import Answer, Steps
from airflow_provider_intervals.transport.exchange import Config, exchange, page
from airflow_provider_intervals.transport.plan import key_bucket, organization

T = TypeVar("T")


class Client:
    """A hook's requests to one API key: the steps of each, paced through the key's bucket.

    The bucket is resolved once, by the first request that needs it
    (:func:`~airflow_provider_intervals.transport.plan.key_bucket`).

    :param config: the connection's :class:`~airflow_provider_intervals.transport.exchange.Config`.
    :param store: the key's pacing store (:func:`~airflow_provider_intervals.pacing.registry.store_for`).
    :param cap: the hook's own pace below the key's, if any.
    """

    def __init__(self, config: Config, store: Any, cap: pacing.Rate | None = None) -> None:
        self.config = config
        self.store = store
        self.cap = cap
        self.resolved = False
        self._bucket: pacing.TokenBucket | None = None

    def bucket(self) -> Steps[pacing.TokenBucket | None]:
        """Return the key's bucket (``None``: not paced), resolving it on the first call."""
        if not self.resolved:
            self._bucket = yield from key_bucket(self.config, self.store, self.cap)
            self.resolved = True
        return self._bucket

    def call(
        self,
        request: api.Request,
        parse: Callable[[api.Request, Answer], T],
        *,
        missing_ok: bool = False,
        idempotency_key: str | None = None,
    ) -> Steps[T | None]:
        """Send one request, paced; return ``parse``'s reading (``None`` for a 404 when ``missing_ok``)."""
        paced = yield from self.bucket()
        try:
            return (
                yield from exchange(
                    request, parse, self.config.settings, paced, idempotency_key=idempotency_key
                )
            )
        except exc.IntervalsNotFoundError:
            if missing_ok:
                return None
            raise

    def listing(self, request: api.Request) -> Listing:
        """Return the pages of a listing starting with ``request``, as steps one page at a time."""
        return Listing(self, request)

    def organization(self) -> Steps[dict[str, Any]]:
        """``GET /organization`` (:func:`organization`): one request on a first call, whatever the plan."""
        return organization(self.config, self.store, self.resolved, self.bucket)


class Listing:
    """A listing's pages as steps: ``while (steps := listing.next()) is not None: page = run(steps)``.

    Each page's request is built from the page before (its cursor); a cursor the API repeats
    ends the listing (:func:`~airflow_provider_intervals.api.parse_page`).

    :param client: the hook's :class:`Client`.
    :param request: the first page's request.
    """

    def __init__(self, client: Client, request: api.Request) -> None:
        self.client = client
        self.request = request
        self.following: api.Request | None = request

    def next(self) -> Steps[api.Page] | None:
        """Return the steps of the next page, or ``None`` after the last."""
        return None if self.following is None else self._fetch(self.following)

    def _fetch(self, request: api.Request) -> Steps[api.Page]:
        got = yield from self.client.call(request, page)
        self.following = got.next_request
        return got
