"""``python3 dev.py docs`` as a user runs it: the site builds with warnings as errors and holds the provider.

Every connection extra (from the same metadata as the UI's form) must appear in the built pages,
and every operator, sensor, trigger and hook class must be documented there (an object entry
of the API reference, whose anchor is its full dotted name).
"""

from __future__ import annotations

import html
import inspect
import re
import shutil
import sys
from pathlib import Path

import pytest
from helpers import run_in_session, user_environment

from airflow_provider_intervals.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "_build" / "html"

# A full Sphinx build with autodoc (about 20 s), into docs/_build: one worker runs the module (-n),
# so the site is built once and by one process at a time.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-site")]


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def _classes(module_name: str) -> list[str]:
    module = __import__(module_name, fromlist=["_"])
    return [
        name
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and obj.__module__ == module_name and not name.startswith("_")
    ]


@pytest.fixture(scope="module")
def site():
    python3 = shutil.which("python3", path=user_environment()["PATH"]) or sys._base_executable
    done = run_in_session([python3, ROOT / "dev.py", "docs"], 600, cwd=ROOT, env=user_environment())
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "build succeeded" in done.stdout
    return {page.relative_to(SITE).as_posix(): page.read_text() for page in SITE.rglob("*.html")}


def test_every_connection_field_is_on_the_connection_page(site):
    (conn,) = get_provider_info()["connection-types"]
    page = _text(site["connection.html"])
    for key, field in conn["conn-fields"].items():
        assert f"{key} {field['label']}" in page
        assert field["description"] in page


def test_every_operator_sensor_trigger_and_hook_is_in_the_site(site):
    info = get_provider_info()
    sections = ("hooks", "operators", "sensors", "triggers")
    modules = [module for section in sections for i in info[section] for module in i["python-modules"]]
    wanted = [f"{m}.{c}" for m in modules for c in _classes(m)]
    assert "airflow_provider_intervals.triggers.allowance.IntervalsAllowanceTrigger" in wanted
    entry = re.compile(r'<dt class="sig sig-object py" id="([^"]+)"')
    documented = {name for page in site.values() for name in entry.findall(page)}
    assert [name for name in wanted if name not in documented] == []
