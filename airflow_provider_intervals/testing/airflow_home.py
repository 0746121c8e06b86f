"""An Airflow home for a test session: an isolated directory, and its metadata DB.

Standard library only at import (see :mod:`airflow_provider_intervals.testing`); Airflow is
imported by :func:`create_metadata_db` alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

# Airflow reads these when it is imported: they must be set before.
VARIABLES = ("AIRFLOW_HOME", "AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DAGS_FOLDER")


class IsolatedHome:
    """A fresh temporary ``AIRFLOW_HOME`` (examples off, optionally a DAGs folder) set in ``os.environ``.

    The pacing's per-host state goes in it too (``INTERVALS_PACING_DIR``): the session shares the
    sandbox key's allowance with no other session, and nothing with the deployment.

    :meth:`enter` sets the variables, :meth:`exit` restores them and removes the directory.

    :param dags_folder: the DAGs folder to set, if any (``AIRFLOW__CORE__DAGS_FOLDER``).
    """

    def __init__(self, dags_folder: Path | None = None) -> None:
        self.dags_folder = dags_folder
        self.path: Path | None = None
        self._saved: dict[str, str | None] = {}

    def enter(self) -> Path:
        """Create the directory and set the variables; return the directory.

        :raises RuntimeError: if Airflow is imported already (it has read its configuration).
        """
        if "airflow" in sys.modules:
            raise RuntimeError(
                "Airflow was imported before the isolated AIRFLOW_HOME could be set, by a plugin "
                "loaded earlier (-p, PYTEST_PLUGINS or an entry point): import Airflow in conftest.py "
                "files, tests and fixtures only"
            )
        self.path = Path(tempfile.mkdtemp(prefix="intervals-airflow-home-"))
        wanted: dict[str, str] = {
            "AIRFLOW_HOME": str(self.path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "INTERVALS_PACING_DIR": str(self.path / "pacing"),
        }
        if self.dags_folder is not None:
            wanted["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.dags_folder)
        self._saved = {name: os.environ.get(name) for name in wanted}
        os.environ.update(wanted)
        return self.path

    def exit(self) -> None:
        """Restore the variables as they were and remove the directory (idempotent)."""
        _restore(self._saved)
        self._saved = {}
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def _restore(saved: Mapping[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def create_metadata_db() -> None:
    """Create a fresh metadata DB in the current Airflow home (dropping what it held), with its DAG bundles.

    Destructive: call it only where the Airflow home belongs to the test session.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.utils import db

    db.resetdb()
    DagBundlesManager().sync_bundles_to_db()
