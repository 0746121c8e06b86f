"""Provider registration: the metadata is valid, names importable code, and Airflow sees it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_intervals.connection import EXTRA_KEYS, Settings
from airflow_provider_intervals.exceptions import IntervalsConfigurationError
from airflow_provider_intervals.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR, get_provider_info


def _dotted_paths(info):
    for section in ("hooks", "operators", "sensors", "triggers"):
        for item in info.get(section, []):
            yield from item["python-modules"]
    for conn in info["connection-types"]:
        yield conn["hook-class-name"]


ROOT = Path(__file__).resolve().parents[1]
PREFIX = "/docs/airflow-provider-intervals/"  # Airflow's form of a provider's docs path


def _airflow_schema(name: str) -> dict:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text())


def test_provider_info_validates_against_airflow_schema():
    jsonschema.validate(get_provider_info(), _airflow_schema("provider_info.schema.json"))
    assert get_provider_info()["package-name"] == "airflow-provider-intervals"


def test_the_integration_validates_against_the_schema_of_airflows_own_providers():
    """provider_info's schema takes any keys; provider.yaml's names how-to-guide and the tags."""
    item = _airflow_schema("provider.yaml.schema.json")["properties"]["integrations"]["items"]
    for integration in get_provider_info()["integrations"]:
        jsonschema.validate(integration, item)


def test_each_how_to_guide_names_a_page_of_the_docs_and_every_guide_is_named():
    (integration,) = get_provider_info()["integrations"]
    guides = integration["how-to-guide"]
    assert all(guide.startswith(PREFIX) for guide in guides)
    missing = [guide for guide in guides if not (ROOT / "docs" / guide.removeprefix(PREFIX)).is_file()]
    assert missing == []
    pages = {f"{PREFIX}howto/{p.name}" for p in (ROOT / "docs" / "howto").glob("*.md") if p.stem != "index"}
    assert sorted(guides) == sorted(pages)


def test_the_docs_and_the_logo_are_this_releases_files():
    import tomllib
    import xml.etree.ElementTree as ET

    from airflow_provider_intervals import RELEASE_TAG, REPOSITORY

    (integration,) = get_provider_info()["integrations"]
    source = f"github.com/{REPOSITORY}/blob/{RELEASE_TAG}/"
    assert integration["external-doc-url"] == f"https://{source}docs/index.md"
    assert (ROOT / "docs" / "index.md").is_file()
    raw = f"https://raw.githubusercontent.com/{REPOSITORY}/{RELEASE_TAG}/"
    assert integration["logo"].startswith(raw)
    logo = integration["logo"].removeprefix(raw)
    assert logo == "airflow_provider_intervals/logo.svg"
    assert ET.parse(ROOT / logo).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    # The wheel ships it: it is package data of the package it lives in.
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "logo.svg" in package_data["airflow_provider_intervals"]


@pytest.mark.parametrize("path", list(_dotted_paths(get_provider_info())))
def test_every_dotted_path_imports(path):
    try:
        obj = importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
    assert obj is not None


def test_entry_point_is_registered():
    (ep,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_")
    ]
    assert ep.load() is get_provider_info


def test_connection_type_matches_hook_attributes():
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == IntervalsHook.conn_type == "intervals"
    assert conn["hook-name"] == IntervalsHook.hook_name
    assert IntervalsHook.default_conn_name == "intervals_default"
    assert IntervalsHook.conn_name_attr == "intervals_conn_id"
    assert conn["ui-field-behaviour"]["relabeling"]["password"] == "API key"
    assert "login" in conn["ui-field-behaviour"]["hidden-fields"]


def test_ui_behaviour_for_older_airflow_matches_provider_info():
    """Airflow < 3.2 reads the hook's classmethod; 3.2+ reads provider info. Both must agree."""
    from airflow_provider_intervals.hooks.intervals import IntervalsHook

    legacy = IntervalsHook.get_ui_field_behaviour()
    assert legacy["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert legacy["relabeling"] == UI_FIELD_BEHAVIOUR["relabeling"]


def test_providers_manager_loads_connection_type_without_deprecation_warnings():
    import warnings

    from airflow.providers_manager import ProvidersManager

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = ProvidersManager()
        hooks = manager.hooks
        behaviours = manager.field_behaviours
        assert "intervals" in hooks
    assert hooks["intervals"].hook_class_name.endswith("IntervalsHook")
    assert behaviours["intervals"]["relabeling"]["password"] == "API key"
    assert not [w for w in caught if "intervals" in str(w.message).lower()]


def test_connection_form_has_a_field_for_every_extra_the_hooks_read():
    assert list(CONN_FIELDS) == list(EXTRA_KEYS)


def _bounds(key):
    schema = CONN_FIELDS[key]["schema"]
    return schema["minimum"], schema["maximum"], "integer" in schema["type"]


_NEEDS = {"burst": {"requests_per_minute": 60}}  # a burst goes with a rate
NUMERIC = [key for key in CONN_FIELDS if "minimum" in CONN_FIELDS[key]["schema"]]


@pytest.mark.parametrize("key", NUMERIC, ids=NUMERIC)
def test_connection_form_accepts_exactly_the_range_the_hooks_accept(key):
    low, high, whole = _bounds(key)
    step = 1 if whole else 0.001
    for value in (low, high, None):
        jsonschema.validate(value, CONN_FIELDS[key]["schema"])
        Settings.from_extra("c", {key: value, **_NEEDS.get(key, {})})
    for value in (low - step, high + step):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, CONN_FIELDS[key]["schema"])
        with pytest.raises(IntervalsConfigurationError, match=key):
            Settings.from_extra("c", {key: value, **_NEEDS.get(key, {})})


@pytest.mark.parametrize(
    ("key", "read"),
    [
        ("retry_backoff", lambda s: s.retry.backoff),
        ("retry_backoff_max", lambda s: s.retry.backoff_max),
        ("timeout", lambda s: s.timeout),
        ("max_retries", lambda s: s.retry.max_retries),
        ("page_size", lambda s: s.page_size),
        ("max_rate_limit_wait", lambda s: s.retry.max_rate_limit_wait),
    ],
    ids=["retry_backoff", "retry_backoff_max", "timeout", "max_retries", "page_size", "max_rate_limit_wait"],
)
def test_connection_form_states_the_hooks_default(key, read):
    default = read(Settings.from_extra("c", {}))
    assert f"Default {default:g}" in CONN_FIELDS[key]["description"]


def test_providers_manager_shows_the_retry_backoff_fields_in_the_connection_form():
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager().connection_form_widgets
    for key, label in (
        ("retry_backoff", "Retry backoff (seconds)"),
        ("retry_backoff_max", "Retry backoff cap (seconds)"),
    ):
        widget = widgets[f"extra__intervals__{key}"]
        assert widget.field_name == key  # the UI stores it in the extra under this key
        assert widget.field["schema"]["title"] == label
        assert not widget.is_sensitive


@pytest.mark.slow
def test_airflow_cli_lists_provider_and_hook():
    env = {**os.environ}
    bin_dir = Path(sys.executable).parent
    providers = subprocess.run(
        [bin_dir / "airflow", "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert any(p["package_name"] == "airflow-provider-intervals" for p in json.loads(providers.stdout))
    hooks = subprocess.run(
        [bin_dir / "airflow", "providers", "hooks", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert any(h["connection_type"] == "intervals" for h in json.loads(hooks.stdout))


def test_dag_parse_imports_stay_light():
    """Importing the operators and sensor (what a DAG file does) must not load the http provider,
    aiohttp or the hooks: those load when a task runs. Checked in a fresh interpreter."""
    modules = [
        "operators.events",
        "operators.groups",
        "operators.registrations",
        "operators.recurrences",
        "operators.writes",
        "sensors.new_events",
    ]
    heavy = [
        "airflow.providers.http.hooks.http",
        "aiohttp",
        "airflow_provider_intervals.hooks.intervals",
        "airflow_provider_intervals.triggers.new_events",
    ]
    code = "import sys, airflow.sdk\n" + "".join(f"import airflow_provider_intervals.{m}\n" for m in modules)
    code += f"print([m for m in {heavy!r} if m in sys.modules])\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_plan_select_offers_the_plans_and_one_labelled_empty_choice_never_null():
    from airflow_provider_intervals.pacing import PLANS, Rate

    schema = CONN_FIELDS["plan"]["schema"]
    assert schema["enum"] == ["", *PLANS]  # no None: the form would show it as "null"
    assert schema["default"] == ""  # preselected: the hooks learn the plan
    labels = schema["values_display"]
    assert set(labels) == set(schema["enum"])
    assert labels[""] == "Learn from GET /organization"
    for plan in PLANS:
        rate = Rate.for_plan(plan)
        assert labels[plan] == f"{plan}: {rate.describe() if rate else 'no pacing'}"
    for value in schema["enum"]:  # every choice is one the hooks accept
        jsonschema.validate(value, schema)
        assert Settings.from_extra("c", {"plan": value}).plan == (value or None)
