"""Apache Airflow provider for the Intervals partner API.

Importing the package costs nothing: only the version, and where this release's source lives,
live here. Hooks, operators, sensors and triggers are imported from their own modules.
"""

__version__ = "0.1.0"
# This release's source: URLs that must not move (lineage schemas, links) name its tag, not a branch.
REPOSITORY = "intervals-run/airflow-provider-intervals"
RELEASE_TAG = f"v{__version__}"
