"""Fixtures for the fault and load suite: a report of what each chaos test went through.

Every chaos test records one line of figures, named for what they count: ``faults_injected``
(the sandbox's count of the errors, 429s, dropped connections and truncated bodies it served on
purpose; latency spikes are not counted there, the timeouts they cause show as retries),
``retries`` (requests the client repeated), ``records_checked`` (compared with the sandbox's
data), and, where a test makes tries fail on purpose, ``expected_failed_tries`` (tries that
raised the typed error the test asserts) or ``killed_tries`` (tries SIGKILLed mid-window).
The lines are printed at the end of the session with each test's outcome (``pytest -m chaos``
shows them in the terminal summary, ``-s`` also shows each line as it is recorded).
"""

from __future__ import annotations

import pytest

_LINES: dict[str, str] = {}
_OUTCOMES: dict[str, str] = {}


@pytest.fixture
def chaos_report(request):
    """Return ``record(**figures)``: add this test's figures to the session's chaos summary."""

    def record(**figures) -> str:
        text = ", ".join(f"{k}={v}" for k, v in figures.items())
        line = f"{request.node.nodeid.split('::', 1)[-1]}: {text}"
        _LINES[request.node.nodeid] = line
        print(f"\n[chaos] {line}")
        return line

    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's outcome (of its call, or of a failed set-up or teardown) for the summary."""
    report = yield
    if report.when == "call" or report.failed:
        _OUTCOMES[item.nodeid] = "FAILED" if report.failed else report.outcome.upper()
    return report


def pytest_terminal_summary(terminalreporter):
    """Print the chaos figures after the test results, each line after its test's outcome."""
    if _LINES:
        terminalreporter.section("chaos summary")
        for nodeid, line in _LINES.items():
            terminalreporter.write_line(f"{_OUTCOMES.get(nodeid, '?')} {line}")
