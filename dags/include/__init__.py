"""Code shared by the example DAGs: where things go, the warehouse load, the weekly report.

Nothing here defines a DAG; ``dags/.airflowignore`` keeps the DAG processor out of this
folder. The DAG files import it as ``include.*`` (Airflow puts the DAGs folder on
``sys.path``). Nothing here does work at import: every function runs inside a task.
"""
