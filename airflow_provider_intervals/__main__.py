"""``python -m airflow_provider_intervals``: the provider's command line (see :mod:`.cli`)."""

import sys

from airflow_provider_intervals.cli import main

if __name__ == "__main__":
    sys.exit(main())
