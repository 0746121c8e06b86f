"""Apache Airflow provider for the Intervals partner API.

Importing the package costs nothing: only the version lives here. Hooks, operators,
sensors and triggers are imported from their own modules.
"""

__version__ = "0.1.0"
