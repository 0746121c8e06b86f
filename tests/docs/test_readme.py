"""The README fits on a screen and points into the docs; its first DAG is the one the tests run.

Quick: it reads files and builds nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FIRST_DAG = ROOT / "docs" / "examples" / "howto" / "first_dag.py"


def test_the_readme_is_at_most_150_lines_with_pip_install_in_its_first_60():
    lines = README.splitlines()
    assert len(lines) <= 150
    assert any(line.startswith("pip install ") for line in lines[:60])


def test_the_readme_names_the_two_commands_and_the_quick_loop():
    for command in (
        "python3 dev.py demo",
        "python3 dev.py test",
        'python3 dev.py test -m "not slow and not chaos"',
    ):
        assert command in README


def test_the_readmes_first_dag_is_the_example_the_tests_run():
    marked = FIRST_DAG.read_text().split("# [START first_dag]\n", 1)[1].split("# [END first_dag]", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert marked in blocks


def test_every_link_and_picture_of_the_readme_is_a_file_of_the_repository():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t]
    assert "docs/images/demo-report.png" in local
    assert [t for t in local if not (ROOT / t).is_file()] == []
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts}
    linked = {t for t in local if t.startswith("docs/")}
    # Every page of the manual but the generated reference and the examples' own files is linked.
    assert sorted(pages - linked - {"docs/index.md", "docs/changelog.md"} - _not_pages(pages)) == []


def _not_pages(pages: set[str]) -> set[str]:
    return {p for p in pages if p.startswith(("docs/reference/", "docs/examples/", "docs/howto/index"))}
