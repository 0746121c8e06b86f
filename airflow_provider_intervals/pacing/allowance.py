"""One key's allowance as shared state: a token bucket on wall-clock time, and what 429s teach.

Sans-I/O: :class:`KeyState` is what a store keeps for a key (as JSON), and :func:`book`,
:func:`pause` and :func:`peek` are the changes every process makes to it, one at a time, under
the store's lock. Nothing here reads a clock, sleeps or logs: callers pass ``now`` and log the
notes these functions return.

**The bucket** is kept as its level, ``tokens``, at a moment, ``stamp``: it refills at the pace
from there, up to its capacity (the burst less a token of headroom, see
:func:`~airflow_provider_intervals.pacing.rates.headroom`). Booking a request takes a token,
perhaps one not there yet (the level goes below zero), and returns how long to wait for it. A
token is a request whatever the pace, so the level survives a change of rate (a plan that
changed, a pace learned or probed). Times are wall-clock epoch seconds, since
processes on several hosts share the state; ``stamp`` never moves back, so a host whose clock
lags only waits a little longer, and one whose clock leads spends at most its lead's worth of
tokens early (the headroom absorbs about a token's worth).

**A 429** says when the server's bucket has a token again (``retryAfter``): :func:`pause` moves
the slots there. Between two pausing 429s the server's bucket went from one token (at the first
``retryAfter``) to one token (at the second), so the requests accepted between those moments
over the time between them is the rate this key really has left for us, whatever the plan says
and whoever else spends it. Consecutive windows add up (empty to empty to empty is still empty to
empty), so a key that others spend too, where one short window holds one answer or none, is
measured over all of them; a window longer than :data:`PROBE_SECONDS` (the bucket may have filled
meanwhile) starts the sum over; windows with no answer at all say "less than one per span", so a
process that others leave no token backs off instead of asking at every ``retryAfter``. The pace
goes just under the sum's rate (:data:`MARGIN`), with a burst of 1. The count holds only while the
key was busy: a window in which it sat idle (no request waiting, in flight or answered for
:func:`idle_gap`: a landing that starts its workers, writes a part or ends) let the server's
bucket fill up to its burst and drop what it refilled beyond it, so its count says less than the
rate; such a window teaches nothing and starts the sum over.

**Probing**: after :data:`PROBE_SECONDS` without a pausing 429 the pace has held, and steps up
by :data:`PROBE_STEP` (never above the plan's). A step that draws a 429 goes back to the pace
that held; one that holds a period becomes the learned pace. So at most one probing 429 per
period reaches each stream, and a full period at the plan's rate restores the plan, burst and all.
A probe that draws a 429 doubles the wait before the next (up to :data:`PROBE_BACKOFF` periods):
an allowance that stays where it was learned costs fewer and fewer probing 429s; a probe that
holds brings the period back to one.

Only the first 429 of an *epoch* pauses: every pause opens a new epoch, and the 429s of requests
booked before it (other streams that met the same empty server bucket) change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_intervals.pacing.rates import Rate, capacity, headroom

#: After this long without a pausing 429 the pace has held: it is kept and probed one step up.
PROBE_SECONDS = 60.0
#: A probe asks this much more than the pace that held (never more than the plan).
PROBE_STEP = 0.10
#: After probes that drew a 429 in a row, the next waits up to this many periods (doubling).
PROBE_BACKOFF = 8
#: The pace after a measurement: this share of the rate the 429s showed.
MARGIN = 0.97
#: What a key's state learned is forgotten after this long without a request (others may have
#: stopped spending the key, or the plan changed).
FORGET_SECONDS = 3600.0


@dataclass
class KeyState:
    """What one key's store entry holds (all times are wall-clock epoch seconds).

    :param tokens: the bucket's level at ``stamp`` (below zero: slots booked ahead), or ``None``: full.
    :param stamp: the moment of ``tokens``.
    :param epoch: the number of pauses so far; a 429 of an older epoch pauses nothing.
    :param resume: the latest pause's end (a 429's ``retryAfter``): nothing should be sent before.
    :param safe: the learned pace (requests a second) that held, or ``None``: the plan's.
    :param pace: the pace now: ``safe``, or one probe step above it.
    :param probe_at: when the pace, if it holds until then, steps up.
    :param window: the last pausing 429's ``retryAfter``: where the measurement runs from.
    :param accepted: requests the server accepted since ``window``.
    :param measured: requests accepted in the consecutive windows before ``window``.
    :param span: the seconds those windows took.
    :param stepped: whether the pace stepped up since ``window`` (the next 429 ends a probe).
    :param misses: the probes in a row that drew a 429 (each doubles the wait for the next).
    :param active: the key's last activity since ``window``: a booked slot or an answer.
    :param idle: whether the key sat idle since ``window`` (:func:`idle_gap`): no measurement.
    :param seen: the last change (state unchanged for :data:`FORGET_SECONDS` is forgotten).
    :param plan: the plan ``GET /organization`` named: ``{"rate": [per_second, burst] | None,
        "at": epoch}`` (``None`` rate: not paced), or ``None`` if not asked.
    :param failure: the lookup's last failure: ``{"url", "error" (``error_to_dict``), "at"}``.
    """

    tokens: float | None = None
    stamp: float = 0.0
    epoch: int = 0
    resume: float = 0.0
    safe: float | None = None
    pace: float | None = None
    probe_at: float = 0.0
    window: float | None = None
    accepted: int = 0
    measured: int = 0
    span: float = 0.0
    stepped: bool = False
    misses: int = 0
    active: float = 0.0
    idle: bool = False
    seen: float = 0.0
    plan: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None

    @classmethod
    def load(cls, data: Mapping[str, Any], now: float) -> KeyState:
        """Read a store's entry; what is missing or malformed takes its default.

        What the pacing learned is dropped after :data:`FORGET_SECONDS` without a change.
        """

        def number(name: str) -> float | None:
            value = data.get(name)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            return float(value) if ok else None

        def positive(name: str) -> float | None:
            value = number(name)
            return value if value is not None and value > 0 else None

        def mapping(name: str) -> dict[str, Any] | None:
            value = data.get(name)
            return value if isinstance(value, dict) else None

        state = cls(
            tokens=number("tokens"),
            stamp=number("stamp") or 0.0,
            epoch=int(number("epoch") or 0),
            resume=number("resume") or 0.0,
            safe=positive("safe"),
            pace=positive("pace"),
            probe_at=number("probe_at") or 0.0,
            window=number("window"),
            accepted=int(number("accepted") or 0),
            measured=int(number("measured") or 0),
            span=number("span") or 0.0,
            stepped=data.get("stepped") is True,
            misses=int(number("misses") or 0),
            active=number("active") or 0.0,
            idle=data.get("idle") is True,
            seen=number("seen") or 0.0,
            plan=mapping("plan"),
            failure=mapping("failure"),
        )
        if state.safe is None or state.pace is None:
            state.safe = state.pace = None
        if now - state.seen > FORGET_SECONDS:
            state.safe = state.pace = state.window = None
            state.accepted, state.measured, state.span, state.stepped = 0, 0, 0.0, False
            state.idle = False
        return state

    def dump(self) -> dict[str, Any]:
        """Return the entry to store (JSON-ready)."""
        return asdict(self)

    def rate(self, ceiling: Rate) -> Rate:
        """Return the pace now for a caller allowed ``ceiling``: it, or the learned pace (burst 1)."""
        if self.pace is None:
            return ceiling
        return Rate(min(ceiling.per_second, self.pace), 1)


@dataclass(frozen=True)
class Booked:
    """A booked slot: the seconds to wait for it, and the epoch it belongs to."""

    wait: float
    epoch: int


def idle_gap(pace: Rate) -> float:
    """Return how long a gap in the key's activity makes a window idle: four periods, at least 0.1 s.

    Shorter gaps are a request's round trip or the pacing's own; within them the server's bucket
    refills a few tokens, which the count sees when they are spent.
    """
    return max(4.0 / pace.per_second, 0.1)


def count(state: KeyState, accepted: Iterable[float]) -> None:
    """Count the requests accepted (answered, not refused) at these moments into the window.

    :param accepted: the moments the answers came, in the caller's epoch seconds; those before
        the window (answers to requests sent before the last pause) are not part of it.
    """
    if state.window is not None:
        kept = [moment for moment in accepted if moment >= state.window]
        state.accepted += len(kept)
        state.active = max([state.active, *kept])


def _take(state: KeyState, rate: Rate, now: float) -> tuple[float, float, float]:
    """Return ``(wait, level after, moment)`` of taking one token at ``now``, changing nothing."""
    moment = max(now, state.stamp)  # a stamp ahead (another host's clock, a pause) is waited for
    full = capacity(rate.burst)
    level = (
        full if state.tokens is None else min(full, state.tokens + (moment - state.stamp) * rate.per_second)
    )
    after = level - 1.0
    return (moment - now) + max(0.0, -after / rate.per_second), after, moment


def peek(state: KeyState, ceiling: Rate, now: float) -> float:
    """Return the seconds until a slot is free, booking nothing."""
    return _take(state, state.rate(ceiling), now)[0]


def probe(state: KeyState, ceiling: Rate, now: float) -> str | None:
    """Step the pace up if it held for :data:`PROBE_SECONDS`; return a note when the learned pace changes."""
    if state.pace is None or now < state.probe_at:
        return None
    held = min(state.pace, ceiling.per_second)
    state.probe_at = now + PROBE_SECONDS
    if held >= ceiling.per_second:  # a whole period at the plan's rate: the plan holds again
        state.safe = state.pace = state.window = None
        state.accepted, state.measured, state.span, state.stepped = 0, 0, 0.0, False
        state.idle = False
        return f"the plan's allowance held for {PROBE_SECONDS:g}s: pacing at {ceiling.describe()} again"
    changed = state.safe is None or abs(held - state.safe) > 1e-9
    if state.stepped:  # the last probe held a whole period
        state.misses = 0
    state.safe = held
    state.pace = min(ceiling.per_second, held * (1 + PROBE_STEP))
    state.stepped = True
    if not changed:
        return None
    return (
        f"{Rate(held, 1).describe(burst=False)} held for {PROBE_SECONDS:g}s: pacing there, "
        f"probing toward the plan's {ceiling.describe()}"
    )


def book(state: KeyState, ceiling: Rate, now: float, max_wait: float) -> tuple[Booked | None, str | None]:
    """Book the next slot: return it (``None``: past ``max_wait``, nothing booked) and a note to log.

    :param ceiling: the caller's allowance (the plan's, or the connection's explicit one).
    :param max_wait: the longest acceptable wait, in seconds.
    """
    note = probe(state, ceiling, now)
    pace = state.rate(ceiling)
    wait, after, moment = _take(state, pace, now)
    if wait > max_wait:
        return None, note
    if state.window is not None:
        if now - state.active > idle_gap(pace):  # nothing waited, flew or came back meanwhile
            state.idle = True
        state.active = max(state.active, now + wait)
    state.tokens, state.stamp, state.seen = after, moment, now
    return Booked(wait, state.epoch), note


def pause(state: KeyState, ceiling: Rate, now: float, retry_at: float, epoch: int | None) -> str | None:
    """Take a 429 whose ``retryAfter`` is ``retry_at``: book nothing before it, and learn from it.

    :param epoch: the epoch the refused request was booked in; a 429 for a request booked
        before the last pause changes nothing. ``None``: the current one.
    :return: a note to log when the learned pace changes.
    """
    if epoch is not None and epoch != state.epoch:
        return None
    # The refused request took a token here that the server did not spend: its retry books another.
    # (The other streams' refusals give nothing back: the server's bucket is empty until retry_at.)
    if state.tokens is not None:
        state.tokens = min(capacity(state.rate(ceiling).burst), state.tokens + 1.0)
    sample = None
    if state.idle:  # the server's bucket filled while the key sat idle: the count says too little
        state.measured, state.span = 0, 0.0
    elif state.window is not None and retry_at > state.window:
        elapsed = retry_at - state.window
        if state.stepped or elapsed > PROBE_SECONDS:  # a probe, or a long quiet: a sum of its own
            state.measured, state.span = 0, 0.0
        state.measured += state.accepted
        state.span += elapsed
        # None accepted yet (others took every token): less than one in the span, so at most that.
        sample = min(ceiling.per_second, max(state.measured, 1) / state.span)
    before = state.safe
    if state.stepped and state.safe is not None:
        # A probe drew this 429: back to the pace that held (or to what the window shows, if more).
        state.safe = state.pace = state.safe if sample is None else max(state.safe, MARGIN * sample)
        state.measured, state.span = 0, 0.0
        state.misses += 1
    elif sample is not None:
        # The pace held still since the last pause, and the key ran out again: the measurement is
        # the rate left to us.
        state.safe = state.pace = MARGIN * sample
    elif state.pace is None:
        # The first 429 at the plan's pace: keep the rate, drop the burst, and measure from here.
        state.safe = state.pace = ceiling.per_second
    state.epoch += 1
    state.window, state.accepted, state.stepped = retry_at, 0, False
    state.active, state.idle = retry_at, False
    state.probe_at = now + PROBE_SECONDS * min(PROBE_BACKOFF, 2**state.misses)
    state.resume = max(state.resume, retry_at)
    rate = state.rate(ceiling)
    wait, _, _ = _take(state, rate, now)
    if now + wait < retry_at:  # the next slot comes before the server has a token: move it there
        state.tokens, state.stamp = 1.0 - headroom(rate.burst), retry_at
    state.seen = now
    if sample is None or state.safe == before:
        return None
    return (
        f"429s show an allowance of about {Rate(sample, 1).describe(burst=False)} for this key "
        f"(the plan's is {ceiling.describe()}): pacing at {rate.describe()}"
    )
