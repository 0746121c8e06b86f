"""Example-DAG tests: the DAGs folder on ``sys.path``, as Airflow puts it for the DAG files.

Airflow's DAG processor and task runner add the DAGs folder (the bundle) to ``sys.path``,
so the example DAGs import their shared code as ``include.*``; a test loading a DAG file
directly needs the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"
if str(DAGS) not in sys.path:
    sys.path.append(str(DAGS))
