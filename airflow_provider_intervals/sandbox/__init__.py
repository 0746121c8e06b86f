"""An Intervals API emulator for tests, example DAGs and benchmarks.

Start one in-process with ``Sandbox(...).start()`` (or as a context manager), or as a
process with ``python -m airflow_provider_intervals.sandbox``. Data is seeded and
deterministic; ``sandbox.store`` is the ground truth the API serves.
"""

from airflow_provider_intervals.sandbox.app import DEFAULT_API_KEY, ApiKey, Sandbox
from airflow_provider_intervals.sandbox.faults import Faults
from airflow_provider_intervals.sandbox.ratelimit import DEFAULT_RATE_LIMITS
from airflow_provider_intervals.sandbox.store import Store

__all__ = ["DEFAULT_API_KEY", "DEFAULT_RATE_LIMITS", "ApiKey", "Faults", "Sandbox", "Store"]
