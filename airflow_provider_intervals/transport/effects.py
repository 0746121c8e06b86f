"""The effects a transport step asks its shell for, and :class:`Run`, which drives the steps.

See :mod:`airflow_provider_intervals.transport` for the protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_intervals import api

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """An answer as the shell read it.

    :param status: the HTTP status.
    :param headers: the response headers (a mapping with ``get``).
    :param body: the whole body.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def request_id(self) -> str | None:
        """The API's ``X-Request-Id``, quoted in errors."""
        return self.headers.get("X-Request-Id")


@dataclass(frozen=True)
class Send:
    """Send ``request`` with the extra ``headers``; resume with its :class:`Answer`.

    :param measured: whether its round trip joins the hook's average (the plan lookup's does not).
    """

    request: api.Request
    headers: dict[str, str] = field(default_factory=dict)
    measured: bool = True


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before the next step."""

    seconds: float


@dataclass(frozen=True)
class Call:
    """Call ``function(*args)``, a blocking change or read of the key's pacing store."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Locked:
    """Run ``steps`` holding ``lock`` (shared with other threads); resume with their value."""

    lock: threading.Lock
    steps: Generator[Any, Any, Any]


@dataclass(frozen=True)
class Log:
    """Log ``message`` at ``level`` (a :mod:`logging` level)."""

    level: int
    message: str


Effect = Send | Sleep | Call | Locked | Log
Steps = Generator[Effect, Any, T]


class Run:
    """Drives steps for a shell: read ``pending``, do it, and :meth:`settle` with the outcome.

    ``while run.pending is not None: run.settle(outcome_of(run.pending))``, then ``value``.

    :param steps: the generator to drive.
    """

    def __init__(self, steps: Steps[Any]) -> None:
        self._steps = steps
        self.pending: Effect | None = None
        self.value: Any = None
        self.settle(None)

    def settle(self, outcome: Any) -> None:
        """Resume the steps with the outcome of ``pending``: a value, or an error to raise in them."""
        try:
            if isinstance(outcome, BaseException):
                self.pending = self._steps.throw(outcome)
            else:
                self.pending = self._steps.send(outcome)
        except StopIteration as stop:
            self.pending, self.value = None, stop.value
