"""The pytest plugin ``intervals``: the sandbox and a matching connection as fixtures.

Registered as the ``pytest11`` entry point ``intervals``, so pytest loads it in every session
wherever the provider is installed: at import it takes only pytest and the standard library,
and it changes nothing in the environment unless the ini option ``intervals_airflow_home``
asks it to. Airflow, requests and the sandbox are imported by the fixtures that use them.

Fixtures: ``intervals_sandbox`` (a running sandbox, set up by the ``intervals_sandbox``
marker), ``intervals_connection`` (``intervals_default`` pointing at it),
``intervals_connection_factory`` (other connection ids, keys and extras),
``intervals_sandboxes`` (the session's pool), ``intervals_sandbox_defaults`` (override it in a
``conftest.py``) and ``intervals_airflow_db`` (a metadata DB in the isolated Airflow home).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intervals.testing.airflow_home import IsolatedHome, create_metadata_db
from airflow_provider_intervals.testing.sandboxes import SandboxPool, connection_json

MARKER = "intervals_sandbox"
# Defaults of the marker's settings that an ini file may give: setting -> (ini name, type).
INI_SETTINGS: dict[str, tuple[str, type]] = {
    "events": ("intervals_sandbox_events", int),
    "seed": ("intervals_sandbox_seed", int),
    "plan": ("intervals_sandbox_plan", str),
}
_HOME = pytest.StashKey[IsolatedHome]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ini options."""
    for setting, (name, kind) in INI_SETTINGS.items():
        parser.addini(name, f"intervals_sandbox's default {setting} ({kind.__name__})", default="")
    parser.addini(
        "intervals_airflow_home",
        "run the session in a fresh temporary AIRFLOW_HOME (examples off), set before conftest.py "
        "files are imported and restored at the end",
        type="bool",
        default=False,
    )
    parser.addini(
        "intervals_dags_folder",
        "with intervals_airflow_home: the DAGs folder (AIRFLOW__CORE__DAGS_FOLDER), relative to the ini file",
        type="paths",
        default=[],
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Set the isolated Airflow home (``intervals_airflow_home = true``) before conftests import Airflow."""
    if not early_config.getini("intervals_airflow_home"):
        return
    folders = early_config.getini("intervals_dags_folder")
    home = IsolatedHome(Path(folders[0]) if folders else None)
    try:
        home.enter()
    except RuntimeError as error:
        raise pytest.UsageError(f"intervals_airflow_home: {error}") from None
    early_config.stash[_HOME] = home


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (for ``--strict-markers``)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(events=, seed=, plan=, rate_limits=, has_more=, start_date=, days=, faults={{}}, "
        "fresh=False): the intervals_sandbox fixture's settings and faults for this test, class or module",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the environment the isolated Airflow home replaced, and remove it."""
    home = config.stash.get(_HOME, None)
    if home is not None:
        home.exit()


@pytest.fixture(scope="session")
def intervals_sandboxes() -> Iterator[SandboxPool]:
    """Yield the session's running sandboxes (a ``SandboxPool``), all stopped at the end.

    ``get(**settings)`` starts one per distinct setting; ``new(**settings)`` one of the caller's own.
    """
    pool = SandboxPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def intervals_sandbox_defaults(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Return the ``intervals_sandbox`` settings no marker overrides: the ``intervals_sandbox_*`` ini options.

    Override this fixture in a ``conftest.py`` to return other defaults, e.g.
    ``{"events": 2000, "seed": 7, "rate_limits": False}``.
    """
    settings: dict[str, Any] = {}
    for setting, (name, kind) in INI_SETTINGS.items():
        if value := str(pytestconfig.getini(name)).strip():  # TOML may give an int
            settings[setting] = kind(value)
    return settings


@pytest.fixture
def intervals_sandbox(
    request: pytest.FixtureRequest,
    intervals_sandboxes: SandboxPool,
    intervals_sandbox_defaults: dict[str, Any],
) -> Iterator[Any]:
    """Yield a running sandbox on loopback, set up by the marker.

    The sandbox is a :class:`~airflow_provider_intervals.sandbox.app.Sandbox`.

    ``@pytest.mark.intervals_sandbox(events=..., seed=..., plan=..., rate_limits=..., has_more=...,
    faults={...}, fresh=False)`` on the test, its class or its module (the closest wins, setting by
    setting) over ``intervals_sandbox_defaults``. Tests with the same settings share one sandbox
    for the session; ``fresh=True`` gives the test one of its own (its writes seen by no other).
    Before the test the faults are set (``faults``: the keys of ``Sandbox.set_faults``) and the
    counters zeroed; after it, faults, ``has_more``, rate limits and keys are put back.
    """
    settings = dict(intervals_sandbox_defaults)
    for mark in reversed(list(request.node.iter_markers(MARKER))):  # farthest first: the closest wins
        if mark.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keyword arguments only: {mark.args!r}", pytrace=False)
        settings.update(mark.kwargs)
    faults = settings.pop("faults", None) or {}
    fresh = settings.pop("fresh", False)
    from airflow_provider_intervals.sandbox import Faults

    start = intervals_sandboxes.new if fresh else intervals_sandboxes.get
    try:
        Faults(**faults)  # refused before anything starts
        sandbox = start(**settings)
    except (TypeError, ValueError) as error:  # a setting or a fault the Sandbox refuses
        raise pytest.fail.Exception(f"@pytest.mark.{MARKER}: {error}", pytrace=False) from None
    intervals_sandboxes.reset(sandbox)
    sandbox.set_faults(**faults)
    yield sandbox
    if fresh:
        sandbox.stop()
    else:
        intervals_sandboxes.reset(sandbox)


@pytest.fixture
def intervals_connection_factory(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., str]:
    """Return ``make(sandbox=None, conn_id="intervals_default", key=None, **extra) -> conn_id``.

    Each call defines an ``intervals`` connection for the test in the environment
    (``AIRFLOW_CONN_<CONN_ID>`` as JSON, undone after the test) pointing at ``sandbox`` (the
    test's ``intervals_sandbox`` if ``None``), with ``key`` as its API key (the sandbox's
    full-scope key if ``None``; add others with ``sandbox.add_key``) and ``extra`` added to its
    extras, e.g. ``**airflow_provider_intervals.testing.FAST_RETRIES``.
    """

    def make(
        sandbox: Any = None, conn_id: str = "intervals_default", key: str | None = None, **extra: Any
    ) -> str:
        if sandbox is None:
            sandbox = request.getfixturevalue("intervals_sandbox")
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(sandbox, key, **extra))
        return conn_id

    return make


@pytest.fixture
def intervals_connection(intervals_sandbox: Any, intervals_connection_factory: Callable[..., str]) -> str:
    """Define ``intervals_default`` pointing at ``intervals_sandbox`` for the test; return its id."""
    return intervals_connection_factory(intervals_sandbox)


@pytest.fixture(scope="session")
def intervals_airflow_db(pytestconfig: pytest.Config) -> str:
    """Create a fresh metadata DB for ``dag.test()``, once per session; return the Airflow home.

    Only in the isolated Airflow home of ``intervals_airflow_home = true``: creating the DB
    drops what the home's DB held, so the plugin does it only in a home it made itself.
    """
    home = pytestconfig.stash.get(_HOME, None)
    if home is None or home.path is None or os.environ.get("AIRFLOW_HOME") != str(home.path):
        pytest.fail(
            "intervals_airflow_db needs the isolated Airflow home: set `intervals_airflow_home = true` "
            "in the pytest ini options (or create your own metadata DB in your own test Airflow home)",
            pytrace=False,
        )
    create_metadata_db()
    return str(home.path)
