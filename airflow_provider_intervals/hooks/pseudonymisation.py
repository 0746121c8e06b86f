"""IntervalsPseudonymisationHook: the pseudonymisation key, read from an Airflow connection.

The key is the connection's password, so it can come from any secrets backend (Vault, AWS
Secrets Manager, an ``AIRFLOW_CONN_*`` variable, the metadata DB); its version is the extra
``key_version`` (e.g. ``{"key_version": "v1"}``), the prefix of every token. Any connection
type will do (``generic`` in the UI): only the password and that extra are read. The key is
masked in the task's logs as soon as it is read, and never logged, returned or put in an error.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

try:
    from airflow.sdk.exceptions import AirflowNotFoundException
except ImportError:  # Airflow < 3.2: not in the SDK's exceptions yet
    from airflow.exceptions import AirflowNotFoundException

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import personal


class IntervalsPseudonymisationHook(BaseHook):
    """Read the pseudonymisation key and its version, as a :class:`~.personal.Pseudonymiser`.

    :param pseudonymisation_conn_id: the connection holding the key in its password and the
        key's version in the extra ``key_version``.
    """

    conn_name_attr = "pseudonymisation_conn_id"
    default_conn_name = personal.DEFAULT_CONN_ID
    conn_type = "generic"
    hook_name = "Intervals pseudonymisation key"

    def __init__(self, pseudonymisation_conn_id: str = personal.DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pseudonymisation_conn_id = pseudonymisation_conn_id

    def get_conn(self) -> personal.Pseudonymiser:
        """Return the connection's key as a pseudonymiser (see :attr:`pseudonymiser`)."""
        return self.pseudonymiser

    @cached_property
    def pseudonymiser(self) -> personal.Pseudonymiser:
        """The key and its version, checked; raise ``IntervalsConfigurationError`` naming the fix."""
        conn_id = self.pseudonymisation_conn_id
        where = f"Connection {conn_id!r}"
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise exc.IntervalsConfigurationError(
                f"{where} does not exist: create it with the pseudonymisation key as its password and "
                f'the extra {{"{personal.KEY_VERSION_EXTRA}": "v1"}}, or set personal_data="drop" (no key '
                f'needed) or "keep" (see the Personal data docs page)'
            ) from None
        key = conn.password or ""
        if key:
            from airflow.sdk.log import mask_secret

            mask_secret(key)  # before anything could log it
        if len(key) < personal.MIN_KEY_LENGTH:
            raise exc.IntervalsConfigurationError(
                f"{where} has {'no' if not key else 'a too short'} pseudonymisation key in its password: "
                f"use at least {personal.MIN_KEY_LENGTH} random characters, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        try:
            extra = conn.extra_dejson
        except Exception:  # a malformed extra: say which connection, not what it holds
            extra = {}
        version = extra.get(personal.KEY_VERSION_EXTRA) if isinstance(extra, dict) else None
        return personal.Pseudonymiser(key, personal.check_key_version(version, where))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and its version without showing either's value (the UI's Test action)."""
        try:
            version = self.pseudonymiser.version
        except exc.IntervalsError as error:
            return False, str(error)
        return True, f"Pseudonymisation key found, version {version!r}"
