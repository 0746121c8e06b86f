#!/usr/bin/env python3
"""One entry point for developers; needs only Python 3.11+.

    python3 dev.py test [pytest args]   set up .venv (if needed) and run the whole test suite
    python3 dev.py demo                 set up .venv (if needed) and run the demo on embedded defaults
    python3 dev.py standalone [args]    the full Airflow (UI) with the sandbox and the example DAGs (--help)
    python3 dev.py cluster [args]       the example DAGs on a distributed Airflow (CeleryExecutor,
                                        PostgreSQL, Redis, two workers, S3); checks, prints, stops
    python3 dev.py docs                 the documentation site in docs/_build/html (warnings are errors)
    python3 dev.py build [--outdir D]   the release: sdist and wheel in dist/, twine-checked, listed
    python3 dev.py matrix [args]        the core tests on every Airflow release we claim, each from the
                                        built wheel in a fresh venv (--help)
    python3 dev.py setup                only create/refresh .venv
    python3 dev.py lint                 ruff check + format check
    python3 dev.py lock                 re-resolve constraints.txt after changing pyproject.toml

The environment is installed from ``constraints.txt`` (a full lock made with uv), so a
fresh install is reproducible and takes seconds, not a resolver's minutes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import venv
from pathlib import Path

# The repository is this script's folder, first on sys.path: the supervisor is standard library only.
from airflow_provider_intervals.supervisor import run_in_foreground

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
UV_VERSION = "0.13.9"
EXTRAS = "dev,cluster,redis"  # .venv: the test tools, the distributed check's drivers, the Redis pacing store
STAMP = VENV / ".installed"
MAX_WORKERS = 8  # the suite's parallel workers at most (each starts its own servers and Airflow DB)
WALLCLOCK = "wallclock"  # the marker of tests that time the pacing against the wall clock (see _runs)
QUIET_WORKERS = "3"  # how many of them run at once, after the rest (they mostly wait on the pace)


def call(*cmd: str | Path, **kwargs) -> int:
    """Run a command in the foreground, echoing it; return its exit code (``-N``: killed by signal N).

    Ctrl+C is the command's to handle and a SIGTERM sent to us is passed on to it (see
    :func:`airflow_provider_intervals.supervisor.run_in_foreground`).
    """
    print("+", " ".join(map(str, cmd)), flush=True)
    return run_in_foreground(cmd, **kwargs)


def _exit_on_failure(code: int) -> None:
    if code:
        sys.exit(128 - code if code < 0 else code)  # killed by signal N: the shell's 128 + N


def run(*cmd: str | Path, **kwargs) -> None:
    """Run a command as :func:`call` does; exit with its code on failure."""
    _exit_on_failure(call(*cmd, **kwargs))


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def setup() -> None:
    """Create .venv and install the provider with its dev and cluster extras, pinned by constraints.txt."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"Python 3.11+ is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"Creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"uv=={UV_VERSION}")
    uv = BIN / "uv"
    # Bytecode compiled once here: every process the demo and the suite start (Airflow's CLI,
    # its components, the tests' children) then loads it instead of compiling Airflow again,
    # which it would do each time under PYTHONDONTWRITEBYTECODE.
    run(uv, "pip", "install", "--compile-bytecode", "--python", PY, "-c", ROOT / "constraints.txt",
        "-e", f"{ROOT}[{EXTRAS}]")  # fmt: skip
    STAMP.write_text(_fingerprint())


def _parallel(args: list[str]) -> list[str]:
    """Return pytest-xdist's options for the suite, unless the arguments choose (``-n``, ``-p no:xdist``).

    Two workers per core, at most :data:`MAX_WORKERS` (``PYTEST_WORKERS`` overrides): a good part
    of the suite waits on servers, rate limits and Airflow's own processes, and a second worker
    per core fills that time (2 cores: the whole suite 7 min 55 s with two workers, 7 min 14 s
    with four). The tests of one ``xdist_group`` run on one worker.
    """
    if any(a.startswith(("-n", "--numprocesses", "--dist")) or a == "no:xdist" for a in args):
        return []
    workers = os.environ.get("PYTEST_WORKERS") or str(min(MAX_WORKERS, 2 * (os.cpu_count() or 1)))
    return ["-n", workers, "--dist", "loadgroup"]


def _without_markexpr(args: list[str]) -> tuple[list[str], str | None]:
    """Split pytest's arguments into the rest and the ``-m`` expression (the last one), if any."""
    rest, expression, given = [], None, iter(args)
    for arg in given:
        if arg == "-m":
            expression = next(given, "")
        elif arg.startswith("-m") and not arg.startswith("--"):
            expression = arg[2:]
        else:
            rest.append(arg)
    return rest, expression


def _runs(args: list[str]) -> list[list[str]]:
    """Return the pytest runs of ``dev.py test``, in order: their arguments.

    The suite runs in parallel (:func:`_parallel`) but for the tests marked :data:`WALLCLOCK`:
    they time the pacing against the wall clock, and other tests' CPU beside them shifts what
    they measure (2 cores, 4 workers: a learned rate of 16/s where 30/s is true, five 429s where
    four is the bound). They run after the rest, :data:`QUIET_WORKERS` at a time (they mostly
    wait on the pace), on a machine no other test uses. A ``-m`` expression selects in both runs.
    Arguments that choose the parallelism (``-n``, ``--dist``, ``-p no:xdist``) make one run, as given.
    """
    parallel = _parallel(args)
    if not parallel:
        return [args]
    rest, expression = _without_markexpr(args)
    also = f"({expression}) and " if expression else ""
    return [
        [*parallel, *rest, "-m", f"{also}not {WALLCLOCK}"],
        ["-n", QUIET_WORKERS, "--dist", "load", *rest, "-m", f"{also}{WALLCLOCK}"],
    ]


def test(args: list[str]) -> int:
    """Run the suite as :func:`_runs` says; return the first failing run's exit code, else 0.

    A run that selects no test (pytest's 5) fails only if every run does; an interrupted run
    (Ctrl+C, a usage or internal error, a signal) stops the rest.
    """
    codes = []
    for pytest_args in _runs(args):
        codes.append(call(PY, "-m", "pytest", *pytest_args, cwd=ROOT))
        if codes[-1] in (2, 3, 4) or codes[-1] < 0:
            break
    failed = [code for code in codes if code not in (0, 5)]
    if failed:
        return failed[0]
    return 5 if all(code == 5 for code in codes) else 0


def main(argv: list[str]) -> None:
    """Dispatch the sub-command."""
    command, rest = (argv[0], argv[1:]) if argv else ("test", [])
    if command == "lock":
        setup()
        extras = [arg for extra in EXTRAS.split(",") for arg in ("--extra", extra)]
        # uv keeps the pins already in the output file and resolves only what is new.
        constraints = ["--python-version", "3.11", "-o", "constraints.txt"]
        run(BIN / "uv", "pip", "compile", "pyproject.toml", *extras, *constraints, cwd=ROOT)
        return
    setup()
    if command == "setup":
        return
    if command == "test":
        _exit_on_failure(test(rest))
    elif command == "lint":
        run(BIN / "ruff", "check", ROOT, cwd=ROOT)
        run(BIN / "ruff", "format", "--check", ROOT, cwd=ROOT)
    elif command == "demo":
        run(PY, ROOT / "scripts" / "demo.py", *rest, cwd=ROOT)
    elif command == "standalone":
        run(PY, ROOT / "scripts" / "standalone.py", *rest, cwd=ROOT)
    elif command == "cluster":
        run(PY, ROOT / "scripts" / "cluster.py", *rest, cwd=ROOT)
    elif command == "docs":
        # -E: a fresh environment (generated pages follow the code); -W -n: a warning or a
        # dangling reference to this package fails the build.
        sphinx = [PY, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-b", "html"]
        run(*sphinx, *rest, ROOT / "docs", ROOT / "docs" / "_build" / "html", cwd=ROOT)
    elif command == "build":
        run(PY, ROOT / "scripts" / "release.py", *rest, cwd=ROOT)
    elif command == "matrix":
        run(PY, ROOT / "scripts" / "matrix.py", *rest, cwd=ROOT)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
