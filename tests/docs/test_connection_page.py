"""One owner per fact: what the docs say about the connection's extras is what the hooks do.

The connection page is generated from the provider's metadata (``docs/_ext/connection_fields.py``,
the rows Airflow's form shows too). These tests read the rows it renders, and every hand-written
page (``README.md``, ``docs/**/*.md``), and hold each stated key, default and accepted value to
``connection.Settings.from_extra``, the code that reads a connection: a default or a range changed
in the code only, or in the metadata only, or restated wrongly on a page, fails here. Defaults
of the operators' arguments that a page states (``defer_after`` ... default 300) are held to
the operators' signatures the same way. Quick: nothing is built.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_intervals import pacing
from airflow_provider_intervals.connection import EXTRA_KEYS, Settings
from airflow_provider_intervals.exceptions import IntervalsConfigurationError
from airflow_provider_intervals.get_provider_info import get_provider_info
from airflow_provider_intervals.pacing.stores import FileStore, default_directory

ROOT = Path(__file__).resolve().parents[2]


def _directive():
    spec = importlib.util.spec_from_file_location(
        "connection_fields", ROOT / "docs" / "_ext" / "connection_fields.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = _directive().extra_rows(get_provider_info())
IDS = [row.key for row in ROWS]
NEEDS = {"burst": {"requests_per_minute": 60}}  # a burst goes with a rate
# Extras whose page states no literal default: the words it uses, and what "not set" must mean.
IN_WORDS = {
    "intervals_version": ("latest stable", lambda s: s.version is None),
    "plan": ("learned from GET /organization", lambda s: s.plan is None and not s.pacing_known),
    "requests_per_minute": ("instead of the plan's", lambda s: s.rate is None),
    "pacing_conn_id": (
        "Empty: the processes of each host share it, in a per-user cache directory",
        lambda s: s.pacing_conn_id is None and _host_directory(pacing.store_for(s.pacing_conn_id)),
    ),
}
LITERAL = r"-?[0-9][0-9,]*(?:\.[0-9]+)?|true|false"
STATED_DEFAULT = re.compile(rf"\bdefault:? `?({LITERAL})\b`?", re.I)


def _host_directory(store: Any) -> bool:
    """Whether ``store`` is the per-user cache directory every process of the host shares."""
    return isinstance(store, FileStore) and store.directory == default_directory()


def _settings(key: str, **extra: Any) -> Settings:
    return Settings.from_extra("c", {**NEEDS.get(key, {}), **extra})


def _value(literal: str) -> Any:
    if literal.lower() in ("true", "false"):
        return literal.lower() == "true"
    number = float(literal.replace(",", ""))
    return int(number) if number.is_integer() else number


def _holds(key: str, literal: str) -> None:
    """Setting ``key`` to its stated default changes nothing; setting another value does."""
    value = _value(literal)
    unset = _settings(key)
    assert _settings(key, **{key: value}) == unset, f"{key}: the docs say the default is {literal}"
    others = [not value] if isinstance(value, bool) else [value + 1, value - 1]
    for other in others:  # the first other value the hooks accept
        try:
            changed = _settings(key, **{key: other})
        except IntervalsConfigurationError:
            continue
        assert changed != unset, f"{key}: the hooks ignore it"
        return
    pytest.fail(f"{key}: no other value to try")


def test_the_page_has_a_row_for_every_extra_the_hooks_read():
    assert list(EXTRA_KEYS) == IDS


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_the_stated_default_is_what_the_hooks_use(row):
    stated = STATED_DEFAULT.findall(row.meaning)
    if stated:
        (literal,) = stated
        _holds(row.key, literal)
    else:  # a new extra must state its default, in a literal or in words listed here
        words, means_unset = IN_WORDS[row.key]
        assert words in row.meaning
        assert means_unset(_settings(row.key))


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_the_stated_accepted_values_are_what_the_hooks_accept(row):
    key, accepted = row.key, row.accepted.removesuffix("; empty means the default")
    if ranged := re.fullmatch(r"(number|integer) from (\S+) to (\S+)", accepted):
        kind, low, high = ranged[1], float(ranged[2]), float(ranged[3])
        step = 1 if kind == "integer" else 0.001
        bad = [low - step, high + step] + ([low + 0.5] if kind == "integer" else [])
        for value in (low, high):
            _settings(key, **{key: value})
        for value in bad:
            with pytest.raises(IntervalsConfigurationError, match=key):
                _settings(key, **{key: value})
    elif accepted == "boolean":
        assert _settings(key, **{key: True}) != _settings(key, **{key: False})
        with pytest.raises(IntervalsConfigurationError, match=key):
            _settings(key, **{key: "maybe"})
    elif listed := re.findall(r"`([^`]+)`", accepted):
        for value in listed:
            assert getattr(_settings(key, **{key: value}), key) == value
        with pytest.raises(IntervalsConfigurationError, match=key):
            _settings(key, **{key: "not-" + listed[0]})
    elif accepted == "string" and "connection" in row.meaning:  # an Airflow connection's id
        assert getattr(_settings(key, **{key: " pacing "}), key) == "pacing"
        with pytest.raises(IntervalsConfigurationError, match=key):
            _settings(key, **{key: 42})
    elif accepted == "string" and "YYYY-MM-DD" in row.meaning:
        _settings(key, **{key: "2025-06-01"})
        with pytest.raises(Exception, match=key):
            _settings(key, **{key: "latest"})
    else:
        pytest.fail(f"{key}: the page says it accepts {accepted!r}; teach this test to check that")


# ----------------------------------------------------------------------------- hand-written pages


def _pages() -> list[Path]:
    docs = [p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts]
    return [ROOT / "README.md", *sorted(docs)]


def _argument_defaults() -> dict[str, set[Any]]:
    """Each argument of the provider's operators, sensors and triggers -> its defaults."""
    info = get_provider_info()
    modules = [
        m
        for section in ("operators", "sensors", "triggers")
        for i in info[section]
        for m in i["python-modules"]
    ]
    defaults: dict[str, set[Any]] = {}
    for name in modules:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__module__ == name:
                for param in inspect.signature(obj.__init__).parameters.values():
                    if param.default not in (inspect.Parameter.empty, None):
                        defaults.setdefault(param.name, set()).add(param.default)
    return defaults


ARGUMENTS = _argument_defaults()
# "`timeout` ... default 30" within one sentence (after the page's line breaks are joined).
STATED_FOR = re.compile(rf"`(\w+)`[^.;:]{{0,80}}?\bdefault:? `?({LITERAL})\b", re.I)


def _stated_defaults() -> list[tuple[str, str, str]]:
    """``(page, name, literal)`` for each default a page states of an extra or an argument."""
    ours = set(EXTRA_KEYS) | set(ARGUMENTS)
    found = []
    for page in _pages():
        text = re.sub(r"\s+", " ", page.read_text())
        for name, literal in STATED_FOR.findall(text):
            if name in ours:
                found.append((page.relative_to(ROOT).as_posix(), name, literal))
    return found


def test_the_hand_written_pages_state_some_defaults_this_test_can_check():
    names = {name for _, name, _ in _stated_defaults()}
    assert {"defer_after", "concurrency"} <= names  # the pattern still finds what it is for


@pytest.mark.parametrize(("page", "name", "literal"), _stated_defaults(), ids=lambda v: str(v))
def test_a_default_a_page_states_is_the_codes(page, name, literal):
    if name in EXTRA_KEYS:
        _holds(name, literal)
    else:
        assert _value(literal) in ARGUMENTS[name], f"{page}: {name} defaults to {ARGUMENTS[name]}"
