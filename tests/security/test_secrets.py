"""Secrets: the API key never reaches an artefact, and participants' personal data is never logged.

Every example DAG in ``dags/``, and the landing, registration, sensor and bulk operators, run
with a recognisable key; then every artefact is searched for it: every file under the Airflow
home (task logs and the SQLite metadata DB itself, so XCom, rendered template fields,
trigger rows, asset events and state stores, searched as raw bytes), the process's captured
output and log records, the landed files (decompressed), trigger serialization and the text
of every exception raised. Emails and names of registrations are searched for in the same
places, except the landed files, where they are the data.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib.util
import json
import logging
import os
import sys
import traceback
import uuid
from pathlib import Path

import pytest
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.hooks.intervals import IntervalsHook
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.operators.writes import IntervalsBulkRegisterParticipantsOperator
from airflow_provider_intervals.sensors.new_events import IntervalsNewEventsSensor
from airflow_provider_intervals.triggers.new_events import IntervalsNewEventsTrigger

DAGS = Path(__file__).resolve().parents[2] / "dags"
# Recognisable, and made at run time: DAGs built in this file store its source in the
# metadata DB (dag_code), which must not count as a leak.
CANARY = f"itv_live_canary_{uuid.uuid4().hex}"
# Example DAGs run end to end here (the others are parsed and their triggers serialized); a new
# example DAG that runs against the sandbox alone belongs in this set.
DAY = {"date_from": "2025-09-09", "date_to": "2025-09-09"}
RUN = {"intervals_land_events", "intervals_new_events"}


def _load(path: Path):
    if str(DAGS) not in sys.path:  # as Airflow puts the DAGs folder on sys.path for ``include.*``
        sys.path.append(str(DAGS))
    spec = importlib.util.spec_from_file_location(f"secret_{path.stem}_{uuid.uuid4().hex[:6]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dags(module) -> list:
    return [v for v in vars(module).values() if isinstance(v, DAG)]


def _home_files() -> list[Path]:
    return [p for p in Path(os.environ["AIRFLOW_HOME"]).rglob("*") if p.is_file()]


def _landed_text(root: Path) -> bytes:
    out = b""
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out += gzip.decompress(data) if path.suffix == ".gz" else data
    return out


def _found(needles: list[str], haystacks: dict[str, bytes]) -> list[tuple[str, str]]:
    return [(n, where) for where, text in haystacks.items() for n in needles if n.encode() in text]


def _table_rows(table: str) -> list[str]:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        return [str(tuple(row)) for row in session.execute(text(f"SELECT * FROM {table}"))]


def _registrations(store, count: int) -> tuple[str, list[dict]]:
    for event_id in store.event_ids_sample(300):
        regs = list(store.iter_registrations(event_id))
        if len(regs) >= count:
            return event_id, regs
    raise AssertionError("no seeded event with registrations")


def test_no_api_key_or_personal_data_in_any_artefact(
    api, make_conn, run_dag, tmp_path, monkeypatch, post_events, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    api.add_key(CANARY)
    make_conn(api, key=CANARY)
    lake = tmp_path / "lake"
    monkeypatch.setenv("INTERVALS_LANDING_PATH", f"file://{lake}")
    monkeypatch.setenv("INTERVALS_POLL_SECONDS", "0.2")
    errors: list[BaseException] = []
    before = {f"airflow-home:{p.name}": p.read_bytes() for p in _home_files()}

    # 1. Every example DAG: runnable ones run, every one is parsed and its triggers serialized.
    ran = []
    for path in sorted(DAGS.glob("*.py")):
        module = _load(path)
        for dag in _dags(module):
            for task in dag.tasks:
                for outlet in [*getattr(task, "inlets", []), *getattr(task, "outlets", [])]:
                    for watcher in getattr(outlet, "watchers", None) or []:
                        assert CANARY not in json.dumps(watcher.trigger.serialize(), default=str)
            if dag.dag_id in RUN:
                needs_events = any(isinstance(t, IntervalsNewEventsSensor) for t in dag.tasks)
                if needs_events:
                    post_events(api, 2, date="2025-09-09")
                result = run_dag(dag, dt.datetime(2025, 9, 9, 12, tzinfo=dt.UTC))
                post_events.join()
                assert result.state == "success", f"{dag.dag_id} failed"
                ran.append(dag.dag_id)
    assert "intervals_land_events" in ran
    assert "intervals_new_events" in ran

    # 2. Registrations (personal data) landed, and a bulk registration load.
    event_id, regs = _registrations(api.store, 3)
    reg_dag = DAG(f"secret_regs_{uuid.uuid4().hex[:6]}", schedule=None, start_date=dt.datetime(2025, 1, 1))
    with reg_dag:
        IntervalsRegistrationsOperator(
            task_id="land_regs", event_id=event_id, output_path=f"file://{lake}", personal_data="keep"
        )
    assert run_dag(reg_dag, dt.datetime(2025, 9, 9, tzinfo=dt.UTC)).state == "success"
    run_id = next(r["_id"] for r in regs)
    runs = [run["_id"] for run in api.store.get_event(event_id)["runs"]]
    people = [
        {
            "eventRunId": runs[0],
            "email": f"private.person{i}.{uuid.uuid4().hex[:6]}@mail.example",
            "registrationType": "free",
            "name": f"Private Person{uuid.uuid4().hex[:6]}",
        }
        for i in range(4)
    ]
    people.append(
        {**people[0], "email": f"broken-email-{uuid.uuid4().hex[:8]}"}
    )  # an invalid row: reported, not quoted
    plan = tmp_path / "plans" / "people.jsonl"
    plan.parent.mkdir()
    plan.write_text("".join(json.dumps(p) + "\n" for p in people))
    bulk_dag = DAG(f"secret_bulk_{uuid.uuid4().hex[:6]}", schedule=None, start_date=dt.datetime(2025, 1, 1))
    with bulk_dag:
        IntervalsBulkRegisterParticipantsOperator(
            task_id="register", input_path=f"file://{plan}", skip_invalid=True, personal_data="keep"
        )
    assert run_dag(bulk_dag, dt.datetime(2025, 9, 9, tzinfo=dt.UTC)).state == "success"

    # 3. Failures: a key lacking scopes, and an unknown key, through the hook and an operator.
    api.add_key(CANARY + "_ro", scopes={"read:series"})
    for key, error in (
        (CANARY + "_ro", exc.IntervalsPermissionError),
        (CANARY + "_unknown", exc.IntervalsAuthenticationError),
    ):
        make_conn(api, key=key)
        with pytest.raises(error) as raised:
            list(IntervalsHook().iter_events(limit=5))
        errors.append(raised.value)
        with pytest.raises(error) as raised:
            IntervalsRegistrationsOperator(
                task_id="t", event_id=event_id, output_path=f"file://{lake}/x", personal_data="keep", **DAY
            ).execute({})
        errors.append(raised.value)
    make_conn(api, key=CANARY)
    trigger = IntervalsNewEventsTrigger("intervals_default", {"event_type": "race"}, poll_interval=1)

    # Search everything.
    out, err = capfd.readouterr()
    home = _home_files()
    assert any(p.suffix == ".db" for p in home)
    xcoms, rendered = _table_rows("xcom"), _table_rows("rendered_task_instance_fields")
    assert xcoms
    assert rendered
    artefacts = {
        **{f"airflow-home:{p.name}": p.read_bytes() for p in home},
        "xcom-table": "\n".join(xcoms).encode(),
        "rendered-fields-table": "\n".join(rendered).encode(),
        "stdout": out.encode(),
        "stderr": err.encode(),
        "log-records": "\n".join(r.getMessage() for r in caplog.records).encode(),
        "exceptions": "\n".join("".join(traceback.format_exception(e)) + repr(e) for e in errors).encode(),
        "trigger-serialized": json.dumps(trigger.serialize()).encode(),
    }
    landed = _landed_text(lake) + _landed_text(plan.parent)
    assert _found([CANARY], {**artefacts, "landed-files": landed}) == []
    personal = [r["email"] for r in regs] + [r["name"] for r in regs if r.get("name")]
    personal += [p["email"] for p in people] + [p["name"] for p in people]
    # Only what this test's runs wrote counts: another test's single-registration task may have
    # put the same people in the shared metadata DB before (its rendered ``registration`` field).
    earlier = {needle for needle, _ in _found(personal, before)}
    assert [f for f in _found(personal, artefacts) if f[0] not in earlier] == []
    assert regs[0]["email"].encode() in landed  # the registrations were landed (so they were read)
    assert run_id
    assert api.stats["requests"] > 0
    assert sum(len(v) for v in artefacts.values()) > 100_000  # a real search, not of empty strings


def test_landed_window_and_xcom_of_a_mapped_run_hold_no_key(api, make_conn, run_dag, tmp_path):
    from airflow_provider_intervals.operators.events import IntervalsEventsOperator

    api.add_key(CANARY)
    make_conn(api, key=CANARY)
    dag = DAG(f"secret_map_{uuid.uuid4().hex[:6]}", schedule=None, start_date=dt.datetime(2025, 1, 1))
    with dag:
        IntervalsEventsOperator.partial(task_id="land", output_path=f"file://{tmp_path}/lake").expand_kwargs(
            [
                {"date_from": "2025-03-01", "date_to": "2025-03-02"},
                {"date_from": "2025-03-03", "date_to": "2025-03-04"},
            ]
        )
    result = run_dag(dag, dt.datetime(2025, 3, 5, tzinfo=dt.UTC))
    assert result.state == "success"
    manifest = ObjectStoragePath(result.xcom("land")["manifest"]).read_bytes()
    assert b"records" in manifest
    assert CANARY.encode() not in manifest
    assert CANARY not in "\n".join(_table_rows("xcom") + _table_rows("rendered_task_instance_fields"))
