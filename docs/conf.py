"""Sphinx configuration of the provider's documentation site (``python3 dev.py docs``).

Built with warnings as errors and nitpicky cross-references: a broken page or a dangling
reference to this package fails the build. References into other projects (Airflow, the
standard library, requests, ...) are not checked: there is no network here to fetch their
inventories.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
# Importing Airflow (autodoc does) must not touch the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="intervals-docs-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_intervals import __version__  # noqa: E402

project = "airflow-provider-intervals"
author = "airflow-provider-intervals maintainers"
copyright = "2026, airflow-provider-intervals maintainers"
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "connection_fields",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples/testing/tests", "lineage"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"Intervals provider {release}"
html_logo = "../airflow_provider_intervals/logo.svg"  # the package's own, also the provider metadata's
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# Texts generated from the code (the connection fields) stay as the code writes them.
smartquotes = False

nitpicky = True
# Only this package's own references are checked (no inventories of other projects offline).
_ELSEWHERE = (
    r"(airflow|requests|aiohttp|openlineage|attrs|pendulum|pytest|_pytest|sqlalchemy|fsspec|upath"
    r"|typing|typing_extensions|collections|datetime|pathlib|threading|asyncio|queue|enum|dataclasses"
    r"|abc|types|io|re|logging|urllib|json|socket|subprocess|http|concurrent|contextlib|functools|_thread)"
    r"(\..*)?"
)
_BUILTINS = r"(str|int|float|bool|bytes|dict|list|tuple|set|frozenset|object|type|None|(Base)?Exception)"
nitpick_ignore_regex = [
    (r"py:.*", _ELSEWHERE),
    (r"py:.*", _BUILTINS),
    (r"py:.*", r"(Any|Callable|Iterator|AsyncIterator|Iterable|Mapping|Sequence|T|Self|Path)"),
    # Other projects' names as annotations spell them where autodoc cannot resolve them (imported
    # only for type checking, or under a short alias): Airflow's, and the standard library's.
    (r"py:.*", r"(ObjectStoragePath|Asset|dt\.(date|datetime|timedelta))"),
    # The transport's annotations as its modules spell them: a module's TypeVar ``T``, the
    # generic alias ``Steps[...]`` and ``pacing.Rate`` under the module's short import; each is
    # documented where it is defined (transport.effects, pacing.rates).
    (r"py:class", r"(airflow_provider_intervals\.transport\.\w+\.T|Steps|pacing\.\w+)"),
    # The sandbox server's callables, as its annotations spell them (documented in sandbox.server).
    (r"py:class", r"(Handle|Control)"),
]
