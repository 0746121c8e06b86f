"""Helpers for the example-DAG tests: load DAG files as the DAG processor does; read asset events."""

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


def landed_asset_events(asset_name: str = "intervals_landed_events") -> list[dict]:
    """The extras of every event the metadata DB holds for the logical landing asset, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(
            session.scalars(
                select(AssetEvent.extra)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.name == asset_name)
                .order_by(AssetEvent.id)
            )
        )
