"""The standalone home's ``airflow_local_settings.py`` against the write pattern that lost a backfill.

``airflow backfill create`` opens a ``SAVEPOINT``, reads, then inserts each run while the
scheduler writes. On SQLite in WAL mode the insert then fails at once ("database is locked"),
busy timeout or not. ``sqlite_race.py`` replays that order on one file, step by step, in a
process of its own (the settings listen on SQLAlchemy's classes, so no engine of this session
may see them). The standalone's own test (``test_standalone.py``) checks that the home holds
this file and that Airflow's engine there takes it up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RACE = Path(__file__).with_name("sqlite_race.py")
LOCAL_SETTINGS = ROOT / "scripts" / "sqlite_local_settings.py"
LOCKED = "(sqlite3.OperationalError) database is locked"


def _race(db: Path, *local_settings: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(RACE), str(db), *local_settings], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_without_the_settings_a_backfill_that_read_first_loses_its_insert_to_the_scheduler(tmp_path):
    """The failure as SQLite gives it: the scheduler's write goes in, the backfill's read-then-write fails."""
    outcomes = _race(tmp_path / "airflow.db")
    assert outcomes == {
        "scheduler_writes_beside_a_reader": "ok",
        "scheduler_writes_meanwhile": "ok",
        "backfill_inserts": LOCKED,
        "scheduler_writes_after_the_release": "ok",
        "scheduler_writes_after": "ok",
        "rows": ["scheduler", "scheduler", "scheduler", "scheduler"],
    }


def test_with_the_settings_the_backfill_holds_the_lock_from_its_savepoint_and_the_scheduler_waits(tmp_path):
    """The backfill's run goes in; the scheduler's write waits for the lock (here to its timeout), then in."""
    outcomes = _race(tmp_path / "airflow.db", "--local-settings", str(LOCAL_SETTINGS))
    assert outcomes == {
        "scheduler_writes_beside_a_reader": "ok",  # a transaction that only reads still takes no lock
        "scheduler_writes_meanwhile": LOCKED,
        "backfill_inserts": "ok",
        "scheduler_writes_after_the_release": "ok",  # the lock is not held past the RELEASE
        "scheduler_writes_after": "ok",
        "rows": ["scheduler", "backfill", "scheduler", "scheduler"],
    }
