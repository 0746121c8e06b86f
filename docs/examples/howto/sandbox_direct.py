"""How-to: the sandbox in a test of your own, without the pytest plugin (docs/sandbox.md).

A pytest test that starts a sandbox in-process, makes its next two answers fail with a 503 and
a fifth of the others with a 500 or a 503, adds a key of its own, points ``intervals_default``
at it, and checks what the hook lists against the sandbox's ground truth (``sandbox.store``).
The provider's suite runs it.
"""

from __future__ import annotations

# [START sandbox_direct]
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.sandbox import Sandbox
from airflow_provider_intervals.testing import FAST_RETRIES, connection_json


def test_the_hook_lists_every_event_through_server_errors(monkeypatch):
    """A week of events, listed through injected 5xx answers, equals the sandbox's own."""
    with Sandbox(events=1000, seed=7) as sandbox:
        sandbox.set_faults(error_rate=0.2, seed=3)  # a fifth of the answers: 500 or 503
        sandbox.fail_next(2, status=503)  # and the next two, whatever the draw
        key = sandbox.add_key("read-only", scopes={"read:events"}, plan="free")
        # intervals_default, retrying at once (your retries' waits are no test's business)
        monkeypatch.setenv("AIRFLOW_CONN_INTERVALS_DEFAULT", connection_json(sandbox, key, **FAST_RETRIES))
        listed = list(IntervalsHook().iter_events(date_from="2025-01-01", date_to="2025-01-07"))
        truth = list(sandbox.store.iter_events(date_from="2025-01-01", date_to="2025-01-07"))
        assert listed == truth != []  # the ground truth, in API order
        assert sandbox.stats["faults_injected"] >= 2  # the hook retried through them


# [END sandbox_direct]
