r"""Personal data at the edge: keep, pseudonymise or drop a resource's personal fields before they land.

Which fields are personal is said once, beside each resource's schema
(:data:`~airflow_provider_intervals.storage.formats.PERSONAL_FIELDS`). What happens to them is a
:class:`PersonalData`, applied to every item between the hook and the part files, so nothing
downstream (the part files, the Parquet ``_extra`` column, the manifest, lineage, a bulk
load's rejects and results) ever sees a value the policy removed.

- ``keep``: the values as the API sent them.
- ``pseudonymise``: each value becomes a keyed token, ``{key_version}:{hex}``, the hex being
  ``HMAC-SHA256(key, field + "\x1f" + value)`` (:meth:`Pseudonymiser.token`; an email is
  trimmed and lower-cased first, so ``Ann@X.org`` and ``ann@x.org`` are one runner). One key
  always gives one value the same token, so joins and repeat-runner counts work; without the
  key a token cannot be linked to a value, not even by hashing a guessed email.
- ``drop``: the fields are removed (and their Parquet columns with them).

The allowed values and defaults below are the one place they are defined: the operators'
signatures, their checks and the *Personal data* docs page read them (a test holds the page to
them). Pure: nothing here reads a connection; the key comes from
:class:`~airflow_provider_intervals.hooks.pseudonymisation.IntervalsPseudonymisationHook`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_intervals import exceptions as exc

KEEP, PSEUDONYMISE, DROP = "keep", "pseudonymise", "drop"
#: The values of ``personal_data``.
POLICIES = (KEEP, PSEUDONYMISE, DROP)
#: The default ``personal_data``: nothing personal lands unless asked for (see the docs page).
DEFAULT_POLICY = PSEUDONYMISE
#: The default ``pseudonymisation_conn_id``: the connection whose password is the key.
DEFAULT_CONN_ID = "intervals_pseudonymisation"
#: The key of the connection's ``extra`` that names the key's version (the tokens' prefix).
KEY_VERSION_EXTRA = "key_version"
#: The shortest key accepted, in characters: a short key could be guessed from known tokens.
MIN_KEY_LENGTH = 32
#: What a token is, as the manifest and lineage name it.
TOKEN_SCHEME = "hmac-sha256-hex"
#: A key version: 1 to 32 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit.
KEY_VERSION_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}"

_VERSION = re.compile(KEY_VERSION_PATTERN)
_SEPARATOR = b"\x1f"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def check_policy(value: Any) -> str:
    """Return ``value`` if it is a ``personal_data`` policy, else raise naming the fix."""
    if isinstance(value, str) and value in POLICIES:
        return value
    choices = ", ".join(repr(p) for p in POLICIES)
    raise exc.IntervalsArgumentError("personal_data", value, f"expected one of {choices}")


def check_conn_id(value: Any) -> str:
    """Return ``pseudonymisation_conn_id`` stripped, if it names a connection, else raise naming the fix."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise exc.IntervalsArgumentError(
        "pseudonymisation_conn_id", value, f"expected the key's connection id, e.g. {DEFAULT_CONN_ID!r}"
    )


def check_key_version(value: Any, where: str) -> str:
    """Return a key version, or raise ``IntervalsConfigurationError`` naming ``where`` it came from."""
    if isinstance(value, str) and _VERSION.fullmatch(value.strip()):
        return value.strip()
    raise exc.IntervalsConfigurationError(
        f"{where} has {KEY_VERSION_EXTRA}={value!r}: expected a version such as 'v1' "
        f"(1-32 letters, digits, '_', '.' or '-'); it prefixes every token, so change it with the key"
    )


class Pseudonymiser:
    """Keyed tokens of personal values: ``{version}:{HMAC-SHA256 hex}``. Holds the key; never shows it.

    :param key: the secret key (at least :data:`MIN_KEY_LENGTH` characters).
    :param version: the key's version, the tokens' prefix (:data:`KEY_VERSION_PATTERN`).
    """

    __slots__ = ("_mac", "version")

    def __init__(self, key: str, version: str) -> None:
        if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
            raise exc.IntervalsConfigurationError(
                f"the pseudonymisation key is shorter than {MIN_KEY_LENGTH} characters: make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        self.version = check_key_version(version, "the pseudonymisation key")
        # The key's inner and outer pads are computed once; each token copies them.
        self._mac = hmac.new(key.encode(), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return f"Pseudonymiser(version={self.version!r}, key=<hidden>)"

    def token(self, field: str, value: Any) -> str:
        """Return the token of ``value`` in ``field``: the same for one key, field and value, always.

        The field name is part of the message, so a name and a note of the same text get
        different tokens. Strings are used as they are (an email trimmed and lower-cased), any
        other value as compact JSON with sorted keys.
        """
        if isinstance(value, str):
            text = value.strip().lower() if field == "email" else value
        else:
            text = _dumps(value)
        mac = self._mac.copy()
        mac.update(field.encode() + _SEPARATOR + text.encode())
        return f"{self.version}:{mac.hexdigest()}"

    def check(self) -> str:
        """Return a short value that differs between keys and reveals nothing of them.

        For checkpoints: a resumed landing keeps parts only if they were tokenised with this key.
        """
        return self.token("", "intervals-key-check")[-16:]


@dataclass(frozen=True)
class PersonalData:
    """What happens to a resource's personal fields: the policy, the fields and the key.

    :param policy: ``keep``, ``pseudonymise`` or ``drop``.
    :param fields: the resource's personal fields.
    :param pseudonymiser: the key, with ``pseudonymise`` (and only then).
    """

    policy: str
    fields: frozenset[str]
    pseudonymiser: Pseudonymiser | None = None

    def __post_init__(self) -> None:
        check_policy(self.policy)
        if (self.policy == PSEUDONYMISE) != (self.pseudonymiser is not None):
            raise ValueError("a pseudonymiser goes with the 'pseudonymise' policy, and only with it")

    @property
    def key_version(self) -> str | None:
        """The key's version with ``pseudonymise``, else ``None``."""
        return self.pseudonymiser.version if self.pseudonymiser is not None else None

    def apply(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``item`` with the policy applied to its personal fields, keys in the same order.

        A ``null`` stays ``null``: a token of nothing would only make every missing value equal.
        """
        if self.policy == KEEP or not self.fields:
            return dict(item)
        fields = self.fields
        if self.policy == DROP:
            return {k: v for k, v in item.items() if k not in fields}
        token = self.pseudonymiser.token  # type: ignore[union-attr]
        return {k: token(k, v) if k in fields and v is not None else v for k, v in item.items()}

    def items(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Return a page's items with the policy applied (the items themselves when ``keep``)."""
        if self.policy == KEEP or not self.fields:
            return list(items)  # type: ignore[arg-type]
        return [self.apply(item) for item in items]

    def pages(self, pages: Iterator[Any]) -> Iterator[Any]:
        """Yield each page (a dataclass with ``items``, e.g. ``api.Page``) with its items transformed.

        Closing this closes ``pages`` too (a hook's listing then sends nothing more).
        """
        try:
            for page in pages:
                yield page if self.policy == KEEP else dataclasses.replace(page, items=self.items(page.items))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def columns(self, columns: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Return a schema's ``(name, kind)`` columns as landed: ``drop`` removes the personal ones."""
        return tuple(c for c in columns if self.policy != DROP or c[0] not in self.fields)

    def notes(self) -> dict[str, str]:
        """Return a description of each personal column as landed, for Parquet and lineage schemas."""
        if self.policy == PSEUDONYMISE:
            how = f"pseudonymised: {TOKEN_SCHEME} token, key version {self.key_version}"
        elif self.policy == KEEP:
            how = "personal data, as the API sent it"
        else:
            return {}
        return {name: how for name in sorted(self.fields)}

    def manifest(self) -> dict[str, Any]:
        """Return what the manifest records: the policy, the fields, the token scheme and key version.

        Never the key.
        """
        pseudonymised = self.policy == PSEUDONYMISE
        return {
            "policy": self.policy,
            "fields": sorted(self.fields),
            "token": TOKEN_SCHEME if pseudonymised else None,
            "key_version": self.key_version,
        }

    def fingerprint(self) -> dict[str, Any]:
        """Return what a checkpoint must match to be resumed: the policy, the version and the key's check."""
        check = self.pseudonymiser.check() if self.pseudonymiser is not None else None
        return {"personal_data": self.policy, "key_version": self.key_version, "key_check": check}
