"""``python3 dev.py build`` as a releaser runs it, then the wheel installed the way a user installs it.

The build runs once for the module, into a temporary folder (``--outdir``), from a shell without
the venv activated. Its artifacts are then checked independently of the script's own checks (zip
and tar listings, the wheel's ``METADATA`` against ``pyproject.toml``, ``twine check --strict``
again). The wheel, not the source tree, goes into a fresh venv (``uv`` with the committed lock,
so it takes seconds), where Airflow's CLI must list the provider and its connection type, and
the sdist's own tests run against it. Those are the slow tests; the quick ones check the
CHANGELOG's version and the script's refusals on artifacts made up for the purpose.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest
from helpers import run_in_session, user_environment
from packaging.requirements import Requirement

from airflow_provider_intervals import __version__

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_intervals"
DIST_INFO = f"{PACKAGE}-{__version__}.dist-info"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
UV = Path(sys.executable).parent / "uv"
# Tracked files the sdist leaves out on purpose (MANIFEST.in): git and CI configuration.
NOT_IN_SDIST = {".gitignore", ".ci/run"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The build writes build/ and the egg-info in the source tree, as the matrix's does: the two modules
# run on one worker (-n), one build at a time.
pytestmark = pytest.mark.xdist_group("in-tree-build")


def _user_environment() -> dict[str, str]:
    """A user's shell (``helpers.user_environment``) whose imports may write bytecode."""
    env = user_environment()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a test below looks for the bytecode an import writes
    return env


_run = run_in_session


def _table(output: str) -> list[dict[str, str]]:
    """Rows of an Airflow CLI table (``name | name`` header, ``===+===`` rule, ``value | value`` rows)."""
    lines = [line for line in output.splitlines() if "|" in line]
    header = [cell.strip() for cell in lines[0].split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.split("|")), strict=True)) for line in lines[1:]]


def _metadata(wheel: Path) -> Message:
    return HeaderParser().parsestr(zipfile.ZipFile(wheel).read(f"{DIST_INFO}/METADATA").decode())


@pytest.fixture(scope="module")
def work():
    """A temporary folder for the module; at the end, no process may run from it, and it is removed."""
    path = Path(tempfile.mkdtemp(prefix="intervals-release-"))
    yield path
    stray = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and str(path) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                stray.append(proc.name)
    shutil.rmtree(path, ignore_errors=True)
    assert stray == [], f"processes left running from {path}"


@pytest.fixture(scope="module")
def built(work):
    """``python3 dev.py build --outdir DIR``, as a releaser runs it: its output and the two artifacts."""
    env = _user_environment()
    python3 = shutil.which("python3", path=env["PATH"]) or sys._base_executable
    outdir = work / "dist"
    result = _run([python3, ROOT / "dev.py", "build", "--outdir", outdir], cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    (wheel,) = outdir.glob("*.whl")
    (sdist,) = outdir.glob("*.tar.gz")
    return {"output": ANSI.sub("", result.stdout), "outdir": outdir, "wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def venv(work, built):
    """A fresh venv holding the built wheel (and pytest, to run the sdist's tests), pinned by the lock."""
    path = work / "venv"
    env = _user_environment()
    result = _run([UV, "venv", "--quiet", "--python", sys.executable, path], cwd=work, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    install = [UV, "pip", "install", "--quiet", "--python", path / "bin" / "python"]
    install += ["-c", ROOT / "constraints.txt", built["wheel"], "pytest"]
    result = _run(install, cwd=work, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def airflow_env(work):
    """The user's environment with an Airflow home of its own and no example DAGs."""
    env = _user_environment()
    env["AIRFLOW_HOME"] = str(work / "airflow")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    return env


# ----------------------------------------------------------------------------- the build


@pytest.mark.slow
def test_dev_py_build_passes_twine_check_and_lists_the_wheel_it_wrote(built):
    out = built["output"]
    assert out.count("PASSED") == 2, out
    assert "FAILED" not in out
    assert "WARNING" not in out
    listed = re.findall(r"^\s+\d+\s+(\S+)$", out.split("\nWheel ", 1)[1].split("\n\n", 1)[0], re.M)
    assert listed == zipfile.ZipFile(built["wheel"]).namelist()
    assert f"Releasable: {built['sdist']}" in out
    assert sorted(p.name for p in built["outdir"].iterdir()) == sorted(
        [built["wheel"].name, built["sdist"].name]
    )
    assert built["wheel"].name == f"{PACKAGE}-{__version__}-py3-none-any.whl"
    assert built["sdist"].name == f"{PACKAGE}-{__version__}.tar.gz"


@pytest.mark.slow
def test_twine_check_strict_accepts_the_wheel_and_the_sdist(built):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", built["wheel"], built["sdist"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ANSI.sub("", result.stdout).count("PASSED") == 2


@pytest.mark.slow
def test_wheel_holds_the_package_and_its_dist_info_only(built):
    names = zipfile.ZipFile(built["wheel"]).namelist()
    assert {name.split("/")[0] for name in names} == {PACKAGE, DIST_INFO}
    for folder in ("tests", "bench", "dags", "scripts", "docs"):
        assert not [name for name in names if f"/{folder}/" in f"/{name}"], folder
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


@pytest.mark.slow
def test_wheel_holds_every_file_of_the_package_and_its_license(built):
    wheel = zipfile.ZipFile(built["wheel"])
    names = set(wheel.namelist())
    source = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert {name for name in names if name.startswith(f"{PACKAGE}/")} == source
    for important in (
        "get_provider_info.py",
        "hooks/intervals.py",
        "hooks/intervals_async.py",
        "sandbox/__main__.py",
        "sandbox/server.py",
        "py.typed",
    ):
        assert f"{PACKAGE}/{important}" in names
    assert wheel.read(f"{DIST_INFO}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
    provider_info = f"provider_info = {PACKAGE}.get_provider_info:get_provider_info"
    assert f"[apache_airflow_provider]\n{provider_info}\n" in entry_points


@pytest.mark.slow
def test_wheel_metadata_is_pyproject_complete(built):
    meta = _metadata(built["wheel"])
    assert meta["Name"] == PROJECT["name"]
    assert meta["Version"] == __version__
    assert meta["Summary"] == PROJECT["description"]
    assert meta["Requires-Python"] == PROJECT["requires-python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "airflow" in meta["Keywords"].split(",")
    assert meta["Author"]
    assert meta["Maintainer"]

    classifiers = meta.get_all("Classifier")
    assert classifiers == PROJECT["classifiers"]
    for expected in (
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Typing :: Typed",
    ):
        assert expected in classifiers
    assert [c for c in classifiers if c.startswith("Development Status :: ")]
    assert [c for c in classifiers if c.startswith("Topic :: ")]
    versions = [
        c.rsplit(" ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert all(tuple(map(int, v.split("."))) >= (3, 11) for v in versions)  # none below requires-python

    urls = dict(line.split(", ", 1) for line in meta.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())

    extras = PROJECT["optional-dependencies"]
    assert meta.get_all("Provides-Extra") == list(extras)
    assert {"s3", "parquet", "warehouse", "openlineage"} <= set(extras)
    wanted = {None: PROJECT["dependencies"], **extras}
    found: dict[str | None, list[str]] = {}
    for line in meta.get_all("Requires-Dist"):
        requirement = Requirement(line)
        marker = re.fullmatch(r'extra == "([\w-]+)"', str(requirement.marker or ""))
        requirement.marker = None
        found.setdefault(marker and marker.group(1), []).append(str(requirement))
    assert found == {extra: [str(Requirement(r)) for r in reqs] for extra, reqs in wanted.items()}


@pytest.mark.slow
def test_wheel_description_is_the_readme(built):
    body = zipfile.ZipFile(built["wheel"]).read(f"{DIST_INFO}/METADATA").decode().split("\n\n", 1)[1]
    assert body.strip() == (ROOT / "README.md").read_text().strip()


@pytest.mark.slow
def test_sdist_holds_the_source_release_and_no_local_state(built):
    with tarfile.open(built["sdist"]) as tar:
        names = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    top = {name.split("/")[0] for name in names}
    assert {
        "PKG-INFO",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "MANIFEST.in",
        "dev.py",
        "constraints.txt",
        PACKAGE,
        "tests",
        "dags",
        "scripts",
        "bench",
        "docs",
    } <= top
    for local in (".venv", ".git", ".local", ".ci", "dist", "build", ".pytest_cache", ".ruff_cache"):
        assert local not in top
    assert not [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".whl"))]
    for needed in ("tests/conftest.py", "dags/.airflowignore", "scripts/release.py", f"{PACKAGE}/py.typed"):
        assert needed in names


@pytest.mark.slow
def test_sdist_holds_every_file_git_would_commit_but_its_configuration(built):
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout (an unpacked sdist)")
    with tarfile.open(built["sdist"]) as tar:
        files = {name.split("/", 1)[1] for name in tar.getnames() if tar.getmember(name).isfile()}
    generated = {"PKG-INFO", "setup.cfg"} | {f for f in files if f.startswith(f"{PACKAGE}.egg-info/")}
    expected = {f for f in listed if (ROOT / f).is_file()} - NOT_IN_SDIST
    # A new file outside these folders needs a line in MANIFEST.in (or in NOT_IN_SDIST here).
    assert files - generated == expected


def test_changelog_releases_the_packages_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.M)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == __version__
    assert headings[1][1]  # dated
    assert re.search(rf"^\[{re.escape(__version__)}\]: https://\S+/v{re.escape(__version__)}$", text, re.M)


def _release_script():
    spec = importlib.util.spec_from_file_location("release", ROOT / "scripts" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_release_refuses_a_wheel_with_anything_but_the_package_and_its_dist_info(tmp_path):
    wheel = tmp_path / f"{PACKAGE}-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in (f"{PACKAGE}/__init__.py", f"{DIST_INFO}/METADATA", "tests/conftest.py", "dags/x.py"):
            zf.writestr(name, "")
        zf.writestr(f"{PACKAGE}/__pycache__/api.cpython-311.pyc", "")
    assert _release_script().wheel_problems(wheel) == [
        "tests/conftest.py",
        "dags/x.py",
        f"{PACKAGE}/__pycache__/api.cpython-311.pyc",
    ]


def test_release_refuses_an_sdist_with_local_state(tmp_path):
    sdist = tmp_path / f"{PACKAGE}-{__version__}.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for name in ("pyproject.toml", "tests/conftest.py", ".venv/bin/python", "tests/__pycache__/x.pyc"):
            member = tarfile.TarInfo(f"{PACKAGE}-{__version__}/{name}")
            tar.addfile(member, io.BytesIO(b""))
    assert _release_script().sdist_problems(sdist) == [
        f"{PACKAGE}-{__version__}/.venv/bin/python",
        f"{PACKAGE}-{__version__}/tests/__pycache__/x.pyc",
    ]


# ----------------------------------------------------------------------------- the installed wheel


@pytest.mark.slow
def test_the_installed_package_is_the_wheel_in_the_venv_not_the_repo(venv, work):
    # A module of an extra needs that extra's packages, and only those (the wheel has no extras here).
    extras = {f"{PACKAGE}.lineage": "openlineage"}
    probe = (
        "import importlib, importlib.metadata as md, json, pkgutil, airflow_provider_intervals as p\n"
        f"extras = {extras!r}\n"
        "mods = [m.name for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')"
        " if not m.name.endswith('__main__')]\n"
        "missing = {}\n"
        "for m in mods:\n"
        "    try: importlib.import_module(m)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if m not in extras: raise\n"
        "        missing[m] = e.name\n"
        "print(json.dumps({'file': p.__file__, 'version': md.version('airflow-provider-intervals'),"
        " 'modules': mods, 'missing': missing}))"
    )
    result = _run([venv / "bin" / "python", "-c", probe], cwd=work, env=_user_environment(), timeout=180)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    site = next((venv / "lib").glob("python3.*/site-packages")).resolve()
    assert Path(found["file"]).resolve() == site / PACKAGE / "__init__.py"
    assert ROOT not in Path(found["file"]).resolve().parents
    assert found["missing"] == {module: extra for module, extra in extras.items()}
    assert found["version"] == __version__
    assert not list(site.glob("__editable__*"))
    assert {
        f"{PACKAGE}.hooks.intervals",
        f"{PACKAGE}.sensors.new_events",
        f"{PACKAGE}.sandbox.server",
    } <= set(found["modules"])


@pytest.mark.slow
def test_airflow_providers_list_shows_the_provider_and_its_version(venv, work, airflow_env):
    result = _run([venv / "bin" / "airflow", "providers", "list"], cwd=work, env=airflow_env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = [r for r in _table(result.stdout) if r["package_name"] == "airflow-provider-intervals"]
    assert row["version"] == __version__
    assert "Intervals" in row["description"]
    assert "Traceback" not in result.stderr
    assert PACKAGE not in result.stderr  # no warning about the provider


@pytest.mark.slow
def test_airflow_providers_hooks_shows_the_intervals_connection_type(venv, work, airflow_env):
    result = _run([venv / "bin" / "airflow", "providers", "hooks"], cwd=work, env=airflow_env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = [r for r in _table(result.stdout) if r["connection_type"] == "intervals"]
    assert row == {
        "connection_type": "intervals",
        "class": "airflow_provider_intervals.hooks.intervals.IntervalsHook",
        "conn_id_attribute_name": "intervals_conn_id",
        "package_name": "airflow-provider-intervals",
        "hook_name": "Intervals",
    }
    assert "Traceback" not in result.stderr
    assert PACKAGE not in result.stderr


@pytest.mark.slow
def test_the_sandbox_cli_runs_from_the_installed_wheel(venv, work):
    command = [venv / "bin" / "python", "-m", f"{PACKAGE}.sandbox", "--help"]
    result = _run(command, cwd=work, env=_user_environment(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {PACKAGE}.sandbox")


@pytest.mark.slow
def test_the_sdists_tests_run_against_the_installed_wheel(built, venv, work):
    with tarfile.open(built["sdist"]) as tar:
        tar.extractall(work / "sdist", filter="data")
    (source,) = (work / "sdist").iterdir()
    command = [venv / "bin" / "pytest", "-p", "no:cacheprovider", "-q", "tests/test_exceptions.py"]
    command.append("tests/test_windows.py")
    result = _run(command, cwd=source, env=_user_environment(), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^\d+ passed", result.stdout.splitlines()[-1]), result.stdout[-2000:]
    # Imported from the venv: an import from the unpacked source would have left bytecode there.
    assert not (source / PACKAGE / "__pycache__").exists()
