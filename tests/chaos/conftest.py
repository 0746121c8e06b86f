"""Fixtures for the fault and load suite: a report of what each chaos test went through.

Every chaos test records one line (faults injected, retries made, records checked, outcome);
the lines are printed at the end of the session (``pytest -m chaos`` shows them in the
terminal summary, ``-s`` also shows each line as it is recorded).
"""

from __future__ import annotations

import pytest

_LINES: list[str] = []


@pytest.fixture
def chaos_report(request):
    """Return ``record(**figures)``: add this test's figures to the session's chaos summary."""

    def record(**figures) -> str:
        text = ", ".join(f"{k}={v}" for k, v in figures.items())
        line = f"{request.node.nodeid.split('::', 1)[-1]}: {text}"
        _LINES.append(line)
        print(f"\n[chaos] {line}")
        return line

    return record


def pytest_terminal_summary(terminalreporter):
    """Print the chaos figures after the test results."""
    if _LINES:
        terminalreporter.section("chaos summary")
        for line in _LINES:
            terminalreporter.write_line(line)
