"""Apache Airflow provider for the Intervals partner API.

Importing the package costs nothing: only the version, and where this release's source lives,
live here. Hooks, operators, sensors and triggers are imported from their own modules.
"""

__version__ = "0.1.0"
#: Where the source lives, as GitHub's ``owner/name``.
REPOSITORY = "intervals-run/airflow-provider-intervals"
#: This release's tag: URLs that must not move (lineage schemas, links) name it, not a branch.
RELEASE_TAG = f"v{__version__}"
