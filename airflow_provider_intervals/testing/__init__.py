"""A test kit for users' DAG tests: the sandbox, a matching connection and an Airflow home as pytest fixtures.

The fixtures live in :mod:`airflow_provider_intervals.testing.pytest_plugin`, which pytest loads
by itself (the ``pytest11`` entry point ``intervals``) wherever the provider is installed; see
``docs/testing.md``, *Testing your DAGs*. This package and the plugin import only pytest and the standard
library: Airflow, requests and the sandbox are imported when a fixture first needs them.
"""

from airflow_provider_intervals.testing.airflow_home import IsolatedHome, create_metadata_db
from airflow_provider_intervals.testing.sandboxes import FAST_RETRIES, SandboxPool, connection_json

__all__ = ["FAST_RETRIES", "IsolatedHome", "SandboxPool", "connection_json", "create_metadata_db"]
