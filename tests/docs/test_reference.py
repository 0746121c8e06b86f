"""The API reference (``docs/reference/``) documents every module of the package, once.

Quick: it reads the pages' ``automodule`` lines and builds nothing (``test_site.py`` builds the
site, where a module named here that does not import fails the build).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_intervals"


def _modules_with_content() -> set[str]:
    """Every module but ``python -m`` entry points and empty ``__init__`` files."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__main__.py" or not path.read_text().strip():
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_is_in_the_reference_once():
    pages = sorted((ROOT / "docs" / "reference").glob("*.md"))
    automodule = re.compile(r"^\.\. automodule:: (\S+)$", re.M)
    documented = [m for page in pages for m in automodule.findall(page.read_text())]
    assert sorted({m for m in documented if documented.count(m) > 1}) == []
    assert sorted(_modules_with_content() - set(documented)) == []
    assert sorted(set(documented) - _modules_with_content()) == []
