"""The release artifacts: ``python3 dev.py build`` makes the sdist and the wheel, checks and lists them.

Steps, each stopping the release on failure (exit code 1):

1. ``python -m build --no-isolation``: the sdist, then the wheel built from that sdist (so the
   sdist is proven to build). No isolation: the build uses ``.venv``'s setuptools, pinned in
   ``constraints.txt`` like everything else, so the artifacts are reproducible, the build is
   offline and takes seconds; an isolated build would fetch the newest setuptools from PyPI each
   time. ``build`` still checks that ``.venv`` satisfies ``[build-system] requires``.
2. ``twine check --strict`` on both: the metadata PyPI will accept, the README rendered.
3. The wheel must hold the package and its ``.dist-info`` only (no tests, DAGs, scripts or
   benchmarks), the sdist no local state (``.venv``, ``.git``, caches, build output).

It prints the wheel's file list and the sdist's top-level entries, then moves both into
``dist/`` (gitignored; ``--outdir`` to choose), replacing earlier artifacts of the same version.
The artifacts hold the working tree as it is: build from a clean checkout (the script warns
when the tree has uncommitted changes).

    python3 dev.py build [--outdir dist]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "airflow_provider_intervals"
# Local state that must never reach an sdist, matched against every path component.
LOCAL_STATE = {".venv", ".git", ".local", ".airflow", "__pycache__", ".pytest_cache", ".ruff_cache", "dist"}
# Build output in the source tree; a stale one could carry a deleted file into the artifacts.
STALE = ("build", f"{PACKAGE}.egg-info")


def _run(*cmd: str | Path, cwd: Path = ROOT) -> str:
    """Run a command (in the project folder), echoing it; return its output, exit 1 if it fails."""
    print("+", " ".join(map(str, cmd)), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{result.stdout}{result.stderr}\nfailed (exit code {result.returncode}): {cmd[0]}")
    return result.stdout


def _warn_if_dirty() -> None:
    """Say so when the artifacts will hold changes that are not committed."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked sdist)
        return
    if status.strip():
        print("warning: the working tree has uncommitted changes; the artifacts hold them:", flush=True)
        print(status.rstrip(), flush=True)


def wheel_problems(wheel: Path) -> list[str]:
    """Return the wheel's entries that are neither the package nor its ``.dist-info``."""
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info/"  # name-version.dist-info
    names = zipfile.ZipFile(wheel).namelist()
    return [
        name
        for name in names
        if not name.startswith((f"{PACKAGE}/", dist_info)) or "__pycache__/" in name or name.endswith(".pyc")
    ]


def sdist_problems(sdist: Path) -> list[str]:
    """Return the sdist's entries that are local state (a venv, git, caches, build output)."""
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    return [
        name
        for name in names
        if LOCAL_STATE.intersection(Path(name).parts[1:])
        or name.endswith((".pyc", ".whl"))
        or Path(name).parts[1:2] == ("build",)
    ]


def build(outdir: Path) -> tuple[Path, Path]:
    """Build, check and list the sdist and the wheel; return their paths in ``outdir``."""
    _warn_if_dirty()
    for name in STALE:
        shutil.rmtree(ROOT / name, ignore_errors=True)
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=outdir) as tmp:
        staging = Path(tmp)
        _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", staging, ROOT)
        (sdist,) = staging.glob("*.tar.gz")
        (wheel,) = staging.glob("*.whl")
        # By name from their folder: twine's report then fits a line per file.
        twine = [sys.executable, "-m", "twine", "check", "--strict", sdist.name, wheel.name]
        print(_run(*twine, cwd=staging), end="", flush=True)
        problems = [f"wheel: {name}" for name in wheel_problems(wheel)]
        problems += [f"sdist: {name}" for name in sdist_problems(sdist)]
        if problems:
            sys.exit("Not releasable, unexpected entries:\n  " + "\n  ".join(problems))
        print(f"\nWheel {wheel.name}:")
        for info in zipfile.ZipFile(wheel).infolist():
            print(f"  {info.file_size:>8}  {info.filename}")
        with tarfile.open(sdist) as tar:
            top = sorted({Path(name).parts[1] for name in tar.getnames() if len(Path(name).parts) > 1})
        print(f"\nSdist {sdist.name}, top level: {' '.join(top)}")
        for name in STALE:  # the build's own egg-info in the source tree
            shutil.rmtree(ROOT / name, ignore_errors=True)
        final = []
        for artifact in (sdist, wheel):
            target = outdir / artifact.name
            target.unlink(missing_ok=True)
            final.append(Path(shutil.move(artifact, target)))
    print(f"\nReleasable: {final[0]}\n            {final[1]}", flush=True)
    return final[0], final[1]


def main(argv: list[str] | None = None) -> None:
    """Parse the options and build."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outdir", type=Path, default=ROOT / "dist", help="where the artifacts go (dist/)")
    args = parser.parse_args(argv)
    build(args.outdir.resolve())


if __name__ == "__main__":
    main()
