#!/usr/bin/env python3
"""DAG-parse import cost: a DAG file importing the provider vs one importing only Airflow.

    .venv/bin/python bench/bench_parse.py               # 7 repeats each, median
    .venv/bin/python bench/bench_parse.py --repeat 11

Each measurement is a fresh interpreter that imports Airflow's SDK first (``airflow.sdk``:
what any DAG file pays) and then times only the DAG file's import, as the DAG processor
would pay it per file in a fresh process:

- ``airflow-only``: a DAG with a ``BaseOperator`` (nothing but ``airflow.sdk``);
- ``airflow-assets``: plain ``BaseOperator`` tasks declaring the same inlet/outlet assets as
  the provider's sensor and operator (asset URI handling loads Airflow's providers manager);
- ``provider``: the same DAG importing the provider's operators (events, landing, writes),
  the sensor and the hook, and instantiating an operator and the sensor.

Also reported, from ``-X importtime`` of the provider file: the provider's own modules'
cumulative import time and the third-party modules they pull in that the Airflow-only DAG
does not (their self time), so the added cost is attributed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

AIRFLOW_ONLY = """
import datetime as dt
from airflow.sdk import DAG, BaseOperator

with DAG("parse_airflow_only", schedule=None, start_date=dt.datetime(2025, 1, 1)) as dag:
    BaseOperator(task_id="noop")
"""

# The same DAG shape with plain operators and the same assets the provider's operators
# declare (an inlet feed and a file:// outlet): what asset-aware scheduling costs any DAG.
AIRFLOW_ASSETS = """
import datetime as dt
from airflow.sdk import DAG, Asset, BaseOperator

with DAG("parse_airflow_assets", schedule=None, start_date=dt.datetime(2025, 1, 1)) as dag:
    BaseOperator(task_id="noop")
    BaseOperator(task_id="wait", inlets=[Asset(name="feed", uri="intervals://intervals_default/events")]) >> (
        BaseOperator(task_id="land", outlets=[Asset(uri="file:///tmp/lake/events")])
    )
"""

PROVIDER = """
import datetime as dt
from airflow.sdk import DAG, BaseOperator
from airflow_provider_intervals.operators.events import IntervalsEventsOperator
from airflow_provider_intervals.operators.writes import IntervalsBulkCreateEventsOperator
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor

with DAG("parse_provider", schedule=None, start_date=dt.datetime(2025, 1, 1)) as dag:
    BaseOperator(task_id="noop")
    IntervalsNewEventsSensor(task_id="wait") >> IntervalsEventsOperator(
        task_id="land", output_path="file:///tmp/lake"
    )
"""

TIMER = """
import sys, time, importlib.util
import airflow.sdk  # what every DAG file pays; not counted
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
started = time.perf_counter()
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def _env(home: str) -> dict[str, str]:
    return {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


def measure(path: Path, env: dict[str, str]) -> float:
    """Seconds to import the DAG file in a fresh interpreter (after ``airflow.sdk``)."""
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def importtime(path: Path, env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """``-X importtime`` of the DAG file's import: module -> (self us, cumulative us)."""
    code = f"import airflow.sdk, runpy; runpy.run_path({str(path)!r})"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    rows = {}
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            self_us, cumulative, name = (p.strip() for p in line[len("import time:") :].split("|"))
            rows[name.strip()] = (int(self_us), int(cumulative))
    return rows


def main() -> None:
    """Measure both DAG files ``--repeat`` times, interleaved; print medians and the attribution."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        files = {
            "airflow-only": Path(tmp) / "airflow_only.py",
            "airflow-assets": Path(tmp) / "airflow_assets.py",
            "provider": Path(tmp) / "provider.py",
        }
        for name, text in zip(files, (AIRFLOW_ONLY, AIRFLOW_ASSETS, PROVIDER), strict=True):
            files[name].write_text(text)
        env = _env(tmp)
        times: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.repeat):  # interleaved: machine load drifts hit both alike
            for name, path in files.items():
                times[name].append(measure(path, env))
        base_rows, provider_rows = importtime(files["airflow-only"], env), importtime(files["provider"], env)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"DAG-file import after airflow.sdk, fresh interpreter, median of {args.repeat}:")
    for name, value in medians.items():
        spread = f"{min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f}"
        print(f"  {name:<13} {value * 1000:8.1f} ms   (range {spread} ms)")
    added = medians["provider"] - medians["airflow-only"]
    print(
        f"  added by the provider: {added * 1000:.1f} ms per DAG file in a fresh process "
        f"({medians['provider'] / medians['airflow-only']:.2f}x)"
    )
    same_assets = medians["provider"] - medians["airflow-assets"]
    print(
        f"  added beyond a plain-Airflow DAG declaring the same assets: {same_assets * 1000:.1f} ms "
        f"({medians['provider'] / medians['airflow-assets']:.2f}x)"
    )
    ours = {k: v for k, v in provider_rows.items() if k.startswith("airflow_provider_intervals")}
    top = max(ours.values(), key=lambda v: v[1])[1] if ours else 0
    print(
        f"\n-X importtime: airflow_provider_intervals modules, cumulative {top / 1000:.1f} ms; self "
        f"{sum(v[0] for v in ours.values()) / 1000:.1f} ms"
    )
    extra = {
        k: v for k, v in provider_rows.items() if k not in base_rows and not k.startswith("airflow_provider")
    }
    heavy = sorted(extra.items(), key=lambda kv: -kv[1][0])[:10]
    print(
        f"third-party/Airflow modules only the provider DAG imports: {len(extra)}, self time "
        f"{sum(v[0] for v in extra.values()) / 1000:.1f} ms; heaviest:"
    )
    for name, (self_us, _) in heavy:
        print(f"  {name:<50} {self_us / 1000:7.1f} ms")


if __name__ == "__main__":
    main()
