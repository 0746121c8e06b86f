"""When to retry a request and how long to wait: one predicate, one wait, one budget.

Every request's attempts run through :class:`Retries`, and the transport's steps
(:func:`airflow_provider_intervals.transport.exchange.exchange`, one place for both hooks) call
:meth:`Retries.after_failure` after a failed attempt: it pauses the key's token bucket when a
429 says when the server has a token again, then returns the wait (or ``None`` to raise).
Nothing here sleeps or opens a socket; randomness sits in ``rand`` so tests can pin it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_intervals import exceptions as exc

if TYPE_CHECKING:
    from airflow_provider_intervals.api import Request
    from airflow_provider_intervals.pacing import TokenBucket


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying.

    :param max_retries: retries after the first attempt.
    :param backoff: base of the exponential backoff, in seconds.
    :param backoff_max: cap of one backoff wait, in seconds.
    :param max_rate_limit_wait: longest wait for a 429's ``retryAfter``; beyond it the
        error is raised (a free plan's daily limit is no reason to hold a worker for hours).
    """

    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    max_rate_limit_wait: float = 900.0

    def should_retry(
        self, error: Exception, attempt: int, request: Request, idempotent: bool, now: float
    ) -> bool:
        """Retry transport errors, 429, 5xx and malformed bodies; a POST only with an Idempotency-Key.

        A malformed ``200`` (a body cut short by a proxy, even with a matching
        ``Content-Length``) is transient like a 5xx; a POST replays under its key, so a
        retry never creates twice.

        :param attempt: how many retries have been made already.
        :param idempotent: whether a POST carries an ``Idempotency-Key``.
        :param now: the current epoch time, to judge a 429's ``retryAfter``.
        """
        if attempt >= self.max_retries or (request.method != "GET" and not idempotent):
            return False
        if isinstance(error, exc.IntervalsRateLimitError):
            return error.retry_after is None or error.retry_after - now <= self.max_rate_limit_wait
        return isinstance(
            error,
            exc.IntervalsTransportError | exc.IntervalsServerError | exc.IntervalsMalformedResponseError,
        )

    def delay(
        self, error: Exception, attempt: int, now: float, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        Full-jitter exponential backoff, capped; a 429's ``retryAfter`` wins (plus a little
        jitter so concurrent tasks sharing one key do not return in lockstep).
        """
        if isinstance(error, exc.IntervalsRateLimitError) and error.retry_after is not None:
            return max(0.0, error.retry_after - now) + rand() * min(1.0, self.backoff)
        return rand() * min(self.backoff_max, self.backoff * 2**attempt)


@dataclass
class Retries:
    """The retry budget of one request, spent as its attempts fail.

    A 429 that says when to come back (``retryAfter``) is the plan's pace, not a fault: it
    does not count against ``max_retries`` while the waits for this request add up to at
    most ``max_rate_limit_wait``. Every other retryable error spends one retry.

    :param policy: the connection's retry policy.
    :param request: the request being retried.
    :param idempotent: whether a POST carries an ``Idempotency-Key``.
    :param paced: whether a token bucket paces the key; its pause then replaces the jitter
        that keeps unpaced clients sharing a key out of lockstep.
    """

    policy: RetryPolicy
    request: Request
    idempotent: bool = False
    paced: bool = False
    attempt: int = 0
    rate_limit_waited: float = 0.0

    def next_wait(
        self, error: Exception, now: float, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Return the seconds to wait before retrying after ``error``, or ``None`` to raise it."""
        policy = self.policy
        if isinstance(error, exc.IntervalsRateLimitError) and error.retry_after is not None:
            if self.request.method != "GET" and not self.idempotent:
                return None
            wait = max(0.0, error.retry_after - now)
            if self.rate_limit_waited + wait > policy.max_rate_limit_wait:
                return None
            self.rate_limit_waited += wait
            # Paced, the bucket's pause keeps this process's streams apart; unpaced, the
            # policy's jitter keeps clients sharing a key out of lockstep.
            return wait if self.paced else policy.delay(error, self.attempt, now, rand)
        if not policy.should_retry(error, self.attempt, self.request, self.idempotent, now):
            return None
        wait = policy.delay(error, self.attempt, now, rand)
        self.attempt += 1
        return wait

    def describe(self, error: Exception) -> str:
        """Say what the wait after ``error`` is: ``retry 2/5``, or a 429's wait that spends none."""
        if isinstance(error, exc.IntervalsRateLimitError) and error.retry_after is not None:
            return "waiting for the API's retryAfter (a 429 spends no retry)"
        return f"retry {self.attempt}/{self.policy.max_retries}"

    def after_failure(
        self, error: Exception, bucket: TokenBucket | None = None, epoch: int | None = None
    ) -> float | None:
        """Decide what follows a failed attempt: the seconds to wait, or ``None`` to raise ``error``.

        A 429 with ``retryAfter`` on a request the bucket let through (``epoch`` is its
        booking) pauses the bucket: the server has a token again at ``retryAfter``, so nobody
        sharing the key goes sooner, and the bucket learns from it
        (:mod:`airflow_provider_intervals.pacing.allowance`). Without an epoch the bucket itself
        refused the request and nothing was sent, so there is nothing to pause.

        :param bucket: the key's token bucket, if the request was paced.
        :param epoch: the bucket's booking for the failed attempt.
        """
        now = time.time()
        if (
            bucket is not None
            and epoch is not None
            and isinstance(error, exc.IntervalsRateLimitError)
            and error.retry_after
        ):
            bucket.pause_until(error.retry_after, epoch)
        return self.next_wait(error, now)

    def log_line(self, error: Exception, wait: float) -> str:
        """Return the warning a hook logs before waiting: ``GET /events: <error>; retry 1/5 in 0.50s``."""
        request = self.request
        return f"{request.method} {request.path}: {error}; {self.describe(error)} in {wait:.2f}s"
