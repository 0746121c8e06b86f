"""Cursor pagination over a list given as position ranges, a filter and an item renderer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

#: The type of the listed items.
T = TypeVar("T")


@dataclass
class ListView(Generic[T]):
    """A resource list as the pagination engine sees it.

    :param ranges: ascending, disjoint ``(start, stop)`` position ranges that may hold matches.
    :param render: turns a position into the item (a dict, or JSON text on hot paths).
    :param match: filter on positions; ``None`` accepts every position in ``ranges``.
    """

    ranges: Sequence[tuple[int, int]]
    render: Callable[[int], T]
    match: Callable[[int], bool] | None = None

    def positions(self, after: int = -1) -> Iterator[int]:
        """Yield matching positions after ``after``, in list order."""
        match = self.match
        for lo, hi in self.ranges:
            rng = range(max(lo, after + 1), hi)
            yield from (rng if match is None else filter(match, rng))

    def positions_before(self, before: int) -> Iterator[int]:
        """Yield matching positions before ``before``, nearest first."""
        match = self.match
        for lo, hi in reversed(self.ranges):
            rng = range(min(hi, before) - 1, lo - 1, -1)
            yield from (rng if match is None else filter(match, rng))

    def page(self, limit: int, after: int | None = None, before: int | None = None) -> tuple[list[T], bool]:
        """Return one page of items and whether more lie beyond it.

        :param limit: page size.
        :param after: position of the ``after`` cursor: items strictly after it, forward.
        :param before: position of the ``before`` cursor: the ``limit`` items just before it,
            in list order; the flag then says whether more lie before them.
        """
        out: list[int] = []
        source = (
            self.positions(-1 if after is None else after)
            if before is None
            else (self.positions_before(before))
        )
        for p in source:
            out.append(p)
            if len(out) > limit:
                break
        more = len(out) > limit
        del out[limit:]
        if before is not None:
            out.reverse()
        return [self.render(p) for p in out], more
