"""The suite in parallel: pytest-xdist keeps each ``xdist_group`` on one worker, and the modules that
set something up once for all of their tests (a module-scoped fixture) are grouped.

``python3 dev.py test`` runs ``-n auto --dist loadgroup``: a module whose fixture starts Airflow,
builds the site or the wheel must run on one worker, or two workers set it up twice (and, for the
builds in the source tree, at the same time).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from helpers import run_in_session

ROOT = Path(__file__).resolve().parent.parent


def _dev_py():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module_scoped_fixtures(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and any(
                    kw.arg == "scope" and getattr(kw.value, "value", None) in ("module", "package")
                    for kw in deco.keywords
                ):
                    found.append(node.name)
    return found


def _groups(tree: ast.Module) -> set[str]:
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", None) == "xdist_group"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_every_module_with_a_module_scoped_fixture_runs_on_one_worker():
    ungrouped = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        fixtures = _module_scoped_fixtures(tree)
        if fixtures and not re.search(r"^pytestmark\b.*xdist_group", path.read_text(), re.M):
            ungrouped.append(f"{path.relative_to(ROOT)} ({', '.join(fixtures)})")
    assert ungrouped == [], "add pytestmark = pytest.mark.xdist_group(...) to: " + "; ".join(ungrouped)


def test_the_release_and_matrix_builds_share_one_group():
    """Both build in the source tree (build/, the egg-info): one worker, one build at a time."""
    release = _groups(ast.parse((ROOT / "tests/scripts/test_release.py").read_text()))
    matrix = _groups(ast.parse((ROOT / "tests/scripts/test_matrix.py").read_text()))
    assert release == matrix == {"in-tree-build"}


def test_dev_py_test_runs_on_every_core_unless_the_arguments_choose():
    dev = _dev_py()
    default = str(min(dev.MAX_WORKERS, 2 * (os.cpu_count() or 1)))
    assert dev._parallel([]) == ["-n", os.environ.get("PYTEST_WORKERS") or default, "--dist", "loadgroup"]
    assert dev._parallel(["tests/hooks", "-n", "0"]) == []
    assert dev._parallel(["-n3"]) == []
    assert dev._parallel(["-p", "no:xdist"]) == []
    assert dev._parallel(["--dist", "load"]) == []


def test_dev_py_test_runs_the_wallclock_tests_after_the_rest_with_the_users_selection():
    """Two runs, the ``wallclock`` tests second; a ``-m`` expression and the paths select in both."""
    dev = _dev_py()
    parallel = dev._parallel([])
    quiet = ["-n", dev.QUIET_WORKERS, "--dist", "load"]
    assert dev._runs([]) == [[*parallel, "-m", "not wallclock"], [*quiet, "-m", "wallclock"]]
    assert dev._runs(["-m", "not slow and not chaos", "tests/pacing", "-x"]) == [
        [*parallel, "tests/pacing", "-x", "-m", "(not slow and not chaos) and not wallclock"],
        [*quiet, "tests/pacing", "-x", "-m", "(not slow and not chaos) and wallclock"],
    ]
    assert dev._runs(["-mslow", "-k", "x"])[1] == [*quiet, "-k", "x", "-m", "(slow) and wallclock"]
    assert dev._runs(["-n", "0", "-m", "slow"]) == [["-n", "0", "-m", "slow"]]  # chosen: one run, as given
    assert dev.WALLCLOCK in (ROOT / "pyproject.toml").read_text()  # a registered marker (--strict-markers)


def test_dev_py_test_runs_both_and_fails_when_the_first_fails(tmp_path):
    """``python3 dev.py test`` as a user runs it: a failure in the parallel run still lets the
    wallclock tests run, and the command exits 1."""
    (tmp_path / "test_two.py").write_text(
        "import pytest\n"
        "def test_fails():\n    assert False\n"
        "@pytest.mark.wallclock\n"
        "def test_timed():\n    print('TIMED')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, ROOT / "dev.py", "test", "-p", "no:cacheprovider", "-p", "no:intervals",
               "-q", "-rA", str(tmp_path)]  # fmt: skip
    done = run_in_session(command, 180, cwd=ROOT, env=env, merge_stderr=True)
    assert done.returncode == 1, done.stdout[-3000:]
    first, second = re.split(r"^\+ ", done.stdout, flags=re.M)[1:]  # dev.py echoes each command
    outcomes = r"^(PASSED|FAILED) \S+::(\w+)"  # -rA: each test's outcome in the summary
    assert first.splitlines()[0].endswith("-m not wallclock")
    assert re.findall(outcomes, first, re.M) == [("FAILED", "test_fails")], first[-2000:]
    assert second.splitlines()[0].endswith("-m wallclock")
    assert re.findall(outcomes, second, re.M) == [("PASSED", "test_timed")], second[-2000:]


@pytest.mark.parametrize("workers", ["2", "3"])
def test_xdist_keeps_a_group_on_one_worker_with_this_pytest(tmp_path, workers):
    """pytest-xdist's grouping with the pytest we install (pytest-xdist#1386: it stopped on pytest 9.2)."""
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        'pytestmark = pytest.mark.xdist_group("once")\n'
        + "".join(
            f"def test_{i}():\n    print('WORKER', os.environ['PYTEST_XDIST_WORKER'])\n" for i in range(6)
        )
    )
    (tmp_path / "test_free.py").write_text("".join(f"def test_{i}():\n    pass\n" for i in range(6)))
    command = [sys.executable, "-m", "pytest", "-n", workers, "--dist", "loadgroup", "-v", "-p",
               "no:cacheprovider", "-p", "no:intervals", str(tmp_path)]  # fmt: skip
    done = run_in_session(command, 120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    grouped = re.findall(r"^\[(gw\d+)\] .*test_grouped\.py::test_\d+@once", done.stdout, re.M)
    free = re.findall(r"^\[(gw\d+)\] .*test_free\.py::test_\d+$", done.stdout.replace(" \n", "\n"), re.M)
    assert len(grouped) == 6, done.stdout[-3000:]
    assert len(set(grouped)) == 1, done.stdout[-3000:]
    assert len(free) == 6


def test_a_session_of_the_suite_removes_its_airflow_home(tmp_path):
    """Each session (each worker's too) makes an Airflow home in the temporary folder: gone at its end."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
               "tests/test_windows.py"]  # fmt: skip
    done = run_in_session(command, 120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout
    assert sorted(p.name for p in tmp_path.glob("intervals-airflow-home-*")) == []


def test_the_tests_of_a_workers_own_seaweedfs_run_on_one_worker(request):
    """SeaweedFS starts per worker that asks for it (``s3_conn`` asks too): one worker runs its tests."""
    from helpers import S3_SERVER

    users = [item for item in request.session.items if "seaweedfs" in item.fixturenames]
    stray = [item.nodeid for item in users
             if getattr(item.get_closest_marker("xdist_group"), "args", None) != S3_SERVER.args]  # fmt: skip
    assert stray == [], "mark these with helpers.S3_SERVER: " + "; ".join(stray)
    if any(item.path.name == "test_events_s3.py" for item in request.session.items):
        assert users  # the S3 tests were looked at
