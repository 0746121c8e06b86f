"""Load example DAG files the way the DAG processor does: fresh, after the test set the environment."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

DAGS = Path(__file__).resolve().parents[2] / "dags"


def load(name: str) -> ModuleType:
    """Import ``dags/{name}.py`` anew (its parse-time settings come from the current environment)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
