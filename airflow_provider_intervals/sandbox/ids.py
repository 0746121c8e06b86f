"""Identifiers and the cheap hash behind the seeded data.

Every seeded object is a pure function of ``(seed, index)``: nothing is materialised,
so a million-event sandbox starts instantly. An identifier is an *invertible* encoding
of its index (an affine permutation of a 72-bit space written as 14 base-36 digits after
a one-letter kind prefix), so a cursor decodes to its list position in O(1) and looks
like the reference's ids (``e72tuv901wxy234``: 15 lowercase alphanumerics).
"""

from __future__ import annotations

import re

MASK64 = (1 << 64) - 1
_BITS = 72  # 36**14 > 2**72, so 14 base-36 digits hold any value
_MASK = (1 << _BITS) - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Lookup tables so encoding takes 5 divmods, not 14.
_PAIRS = tuple(a + b for a in _DIGITS for b in _DIGITS)
_TRIPLES = tuple(a + b for a in _DIGITS for b in _PAIRS)
_BODY = re.compile(r"[0-9a-z]{14}")


def splitmix64(x: int) -> int:
    """Return the splitmix64 finaliser of ``x``: a fast, well-mixed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class IdCodec:
    """Encode non-negative integer codes as 15-character ids and back.

    :param prefix: one lowercase letter naming the kind of object (``e`` for events).
    :param seed: the sandbox seed; different seeds give unrelated ids.
    :param salt: distinguishes the kinds of object so their ids look unrelated.
    """

    def __init__(self, prefix: str, seed: int, salt: int) -> None:
        self.prefix = prefix
        a = splitmix64(seed * 1_000_003 + salt)
        b = splitmix64(a ^ salt)
        self._add = ((a << 8) ^ b) & _MASK
        self._mul = ((b << 8) | 1) & _MASK  # odd, hence invertible modulo 2**72
        self._inv = pow(self._mul, -1, 1 << _BITS)

    def encode(self, code: int) -> str:
        """Return the id of ``code``."""
        x = ((code + self._add) * self._mul) & _MASK
        hi, lo = divmod(x, 78364164096)  # 36**7
        a, b = divmod(hi, 1679616)  # 36**4
        c, d = divmod(b, 1296)
        e, f = divmod(lo, 1679616)
        g, k = divmod(f, 1296)
        p, t = _PAIRS, _TRIPLES
        return f"{self.prefix}{t[a]}{p[c]}{p[d]}{t[e]}{p[g]}{p[k]}"

    def decode(self, value: object) -> int | None:
        """Return the code behind an id, or ``None`` when ``value`` is not one of this kind."""
        if not isinstance(value, str) or len(value) != 15 or value[0] != self.prefix:
            return None
        body = value[1:]
        if not _BODY.fullmatch(body):
            return None
        x = int(body, 36)
        if x > _MASK:
            return None
        return ((x * self._inv) - self._add) & _MASK
