"""IsolatedHome: a temporary AIRFLOW_HOME set before Airflow is imported, and undone."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from airflow_provider_intervals.testing import IsolatedHome

VARIABLES = (
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "INTERVALS_PACING_DIR",
)


def test_it_sets_a_fresh_home_and_then_restores_the_environment(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "airflow", raising=False)  # as before anything imported Airflow
    before = {name: os.environ.get(name) for name in VARIABLES}
    home = IsolatedHome(dags_folder=tmp_path / "dags")

    path = home.enter()
    try:
        assert path.is_dir()
        assert path.name.startswith("intervals-airflow-home-")
        assert os.environ["AIRFLOW_HOME"] == str(path)
        assert os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
        assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
        assert os.environ["INTERVALS_PACING_DIR"] == str(path / "pacing")  # the session's own
    finally:
        home.exit()

    assert {name: os.environ.get(name) for name in VARIABLES} == before
    assert not Path(path).exists()


def test_it_refuses_once_airflow_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    before = dict(os.environ)
    with pytest.raises(RuntimeError, match="Airflow was imported before"):
        IsolatedHome().enter()
    assert dict(os.environ) == before
