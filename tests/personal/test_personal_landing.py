"""Landing registrations under each personal-data policy, against the sandbox, on a real Airflow.

The sandbox's truth (its registrants' emails and names) and the random key are searched for in
every byte the landing leaves: the part files (raw, decompressed, and Parquet decoded), the
manifest, the XCom value and this DAG's rows of the metadata DB, the task's log output, and the
OpenLineage events. Under ``pseudonymise`` and ``drop`` none may appear; the same search finds
them under ``keep``, so it can fail.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from airflow.sdk import DAG, ObjectStoragePath
from helpers import task_context, utc
from openlineage.client.serde import Serde

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.personal import Pseudonymiser
from airflow_provider_intervals.storage import iter_records, read_manifest
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS

DAY = {"date_from": "2025-06-10", "date_to": "2025-06-10"}
FIELDS = PERSONAL_FIELDS["registrations"]


def _landed_bytes(root: Path) -> bytes:
    """Every file under ``root``: raw, decompressed if gzip, and decoded (values as JSON) if Parquet."""
    out = b""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out += data
        if path.suffix == ".gz":
            out += gzip.decompress(data)
        if path.suffix == ".parquet":
            out += json.dumps(pq.read_table(io.BytesIO(data)).to_pylist(), default=str).encode()
    return out


def _db_rows(dag_id: str) -> bytes:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    rows = []
    with create_session() as session:
        for table in ("xcom", "rendered_task_instance_fields", "task_instance"):
            query = text(f"SELECT * FROM {table} WHERE dag_id = :dag_id")
            rows += [str(tuple(r)) for r in session.execute(query, {"dag_id": dag_id})]
    assert rows  # the run left rows to search
    return "\n".join(rows).encode()


def _home_files(dag_id: str) -> bytes:
    home = Path(os.environ["AIRFLOW_HOME"])
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and dag_id in str(p))


def _land(run_dag, tmp_path, event_id: str, policy: str, fmt: str):
    dag = DAG(f"personal_{policy}_{uuid.uuid4().hex[:8]}", schedule=None, start_date=utc(2020, 1, 1))
    with dag:
        IntervalsRegistrationsOperator(
            task_id="land",
            event_id=event_id,
            output_path=f"file://{tmp_path}/lake",
            format=fmt,
            personal_data=policy,
            records_per_part=4,  # several parts
        )
    run = run_dag(dag, utc(2025, 6, 10))
    assert run.state == "success"
    return dag.dag_id, run


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("policy", ["pseudonymise", "drop", "keep"])
def test_no_raw_email_name_or_key_in_anything_the_landing_leaves(
    api, make_conn, run_dag, key_conn, registrants, tmp_path, capfd, caplog, policy, fmt
):
    caplog.set_level(logging.DEBUG)
    make_conn(api)
    key = key_conn()
    event_id, regs = registrants
    dag_id, run = _land(run_dag, tmp_path, event_id, policy, fmt)
    summary = run.xcom("land")
    out, err = capfd.readouterr()
    artefacts = {
        "landed-files-and-manifest": _landed_bytes(tmp_path / "lake"),
        "xcom-value": json.dumps(summary).encode(),
        "metadata-db-rows": _db_rows(dag_id),
        "task-log-files": _home_files(dag_id),
        "stdout-stderr": (out + err).encode(),
        "log-records": "\n".join(r.getMessage() for r in caplog.records).encode(),
    }
    assert "Published" in out + err + artefacts["log-records"].decode()  # the task's log was captured
    people = [r["email"] for r in regs] + [r["name"] for r in regs]
    found = [(p, where) for where, data in artefacts.items() for p in people if p.encode() in data]
    assert [where for where, data in artefacts.items() if key.encode() in data] == []
    if policy == "keep":  # the search finds the data where it is: it can fail
        assert {where for _, where in found} == {"landed-files-and-manifest"}
        return
    assert found == []
    assert summary["records"] == len(regs)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_pseudonymise_lands_each_registrants_token_and_records_the_policy(
    api, make_conn, key_conn, registrants, tmp_path, fmt
):
    make_conn(api)
    key = key_conn(version="v1")
    event_id, regs = registrants
    op = IntervalsRegistrationsOperator(
        task_id="t", event_id=event_id, output_path=tmp_path.as_uri(), format=fmt, **DAY
    )
    summary = op.execute(task_context())
    prefix = ObjectStoragePath(summary["manifest"]).parent
    landed = list(iter_records(prefix, verify=True))
    tokens = Pseudonymiser(key, "v1")
    assert [r["email"] for r in landed] == [tokens.token("email", r["email"]) for r in regs]
    bibs = [tokens.token("bibIdentifier", r["bibIdentifier"]) for r in regs]
    assert [r["bibIdentifier"] for r in landed] == bibs
    assert [r["_id"] for r in landed] == [r["_id"] for r in regs]  # the ids stay: paging and joins
    assert [r["registrationStatus"] for r in landed] == [r["registrationStatus"] for r in regs]
    assert read_manifest(prefix)["personal_data"] == {
        "policy": "pseudonymise",
        "fields": sorted(FIELDS),
        "token": "hmac-sha256-hex",
        "key_version": "v1",
    }
    if fmt == "parquet":
        (part,) = [p for p in Path(prefix.path).rglob("*.parquet")]
        schema = pq.read_schema(part)
        assert schema.field("email").metadata == {
            b"description": b"pseudonymised: hmac-sha256-hex token, key version v1"
        }
        assert schema.field("eventId").metadata is None


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_drop_lands_no_personal_field_and_no_personal_column(api, make_conn, registrants, tmp_path, fmt):
    make_conn(api)
    event_id, regs = registrants
    op = IntervalsRegistrationsOperator(
        task_id="t", event_id=event_id, output_path=tmp_path.as_uri(), format=fmt, personal_data="drop", **DAY
    )
    prefix = ObjectStoragePath(op.execute(task_context())["manifest"]).parent
    landed = list(iter_records(prefix, verify=True))
    assert [set(r) & FIELDS for r in landed] == [set()] * len(regs)
    assert [r["_id"] for r in landed] == [r["_id"] for r in regs]
    assert read_manifest(prefix)["personal_data"]["policy"] == "drop"
    assert read_manifest(prefix)["personal_data"]["key_version"] is None
    if fmt == "parquet":
        (part,) = [p for p in Path(prefix.path).rglob("*.parquet")]
        assert set(pq.read_schema(part).names) & FIELDS == set()


def test_tokens_are_stable_across_runs_for_one_key_and_differ_across_keys(
    api, make_conn, key_conn, registrants, tmp_path
):
    make_conn(api)
    event_id, regs = registrants

    def land(where: str, conn_id: str) -> list[dict]:
        op = IntervalsRegistrationsOperator(
            task_id="t",
            event_id=event_id,
            output_path=(tmp_path / where).as_uri(),
            pseudonymisation_conn_id=conn_id,
            **DAY,
        )
        return list(iter_records(ObjectStoragePath(op.execute(task_context())["manifest"]).parent))

    key_conn("keys_a", version="v1")
    key_conn("keys_b", version="v2")
    first, second, other = land("one", "keys_a"), land("two", "keys_a"), land("three", "keys_b")
    assert first == second
    for a, b in zip(first, other, strict=True):
        for name in ("email", "name", "bibIdentifier"):
            assert a[name].startswith("v1:")
            assert b[name].startswith("v2:")
            assert a[name].split(":")[1] != b[name].split(":")[1]
    # Repeat runners stay countable: one distinct token per distinct email.
    assert len({r["email"] for r in first}) == len({r["email"] for r in regs})


def test_the_extra_column_holds_no_personal_value_the_policy_removed(canned, key_conn, tmp_path):
    page = {
        "data": [
            {"_id": "r1", "eventId": "e1", "email": "a@b.ex", "notes": "asthma, call Jo", "shoeSize": 42},
        ],
        "hasMore": False,
    }
    canned.canned = (200, json.dumps(page).encode())
    key = key_conn()

    def extra(policy: str) -> dict:
        op = IntervalsRegistrationsOperator(
            task_id="t",
            event_id="e1",
            output_path=(tmp_path / policy).as_uri(),
            format="parquet",
            personal_data=policy,
            **DAY,
        )
        prefix = Path(ObjectStoragePath(op.execute(task_context())["manifest"]).parent.path)
        (part,) = list(prefix.rglob("*.parquet"))
        (row,) = pq.read_table(part).to_pylist()
        return json.loads(row["_extra"])

    assert extra("keep") == {"notes": "asthma, call Jo", "shoeSize": 42}
    assert extra("drop") == {"shoeSize": 42}
    assert extra("pseudonymise") == {
        "notes": Pseudonymiser(key, "v1").token("notes", "asthma, call Jo"),
        "shoeSize": 42,
    }


@pytest.mark.parametrize("policy", ["pseudonymise", "drop"])
def test_lineage_names_the_columns_as_landed_and_holds_no_personal_data(
    api, make_conn, key_conn, registrants, tmp_path, policy
):
    make_conn(api)
    key = key_conn(version="v9")
    event_id, regs = registrants
    op = IntervalsRegistrationsOperator(
        task_id="t", event_id=event_id, output_path=tmp_path.as_uri(), personal_data=policy, **DAY
    )
    op.execute(task_context())
    lineage = op.get_openlineage_facets_on_complete(None)
    (source,), (output,) = lineage.inputs, lineage.outputs
    landed = {f.name: f.description for f in output.facets["schema"].fields}
    api_fields = {f.name: f.description for f in source.facets["schema"].fields}
    assert {"email", "name", "bibIdentifier"} <= set(api_fields)  # the API still sends them
    if policy == "pseudonymise":
        assert landed["email"] == "pseudonymised: hmac-sha256-hex token, key version v9"
        assert landed["eventId"] is None
    else:
        assert set(landed) & FIELDS == set()
    events = "".join(Serde.to_json(d) for d in (source, output))
    assert output.outputFacets["outputStatistics"].rowCount == len(regs)
    for secret in [key] + [r["email"] for r in regs] + [r["name"] for r in regs]:
        assert secret not in events


def test_a_bad_policy_or_a_missing_key_fails_before_any_request_and_lands_nothing(
    api, make_conn, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.delenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", raising=False)
    lake = tmp_path / "lake"

    def op(**kwargs):
        return IntervalsRegistrationsOperator(
            task_id="t", event_id="e72tuv901wxy234", output_path=lake.as_uri(), **DAY, **kwargs
        )

    with pytest.raises(exc.IntervalsArgumentError) as raised:
        op(personal_data="hash").execute(task_context())
    assert "Invalid personal_data='hash': expected one of 'keep', 'pseudonymise', 'drop'" in str(raised.value)
    with pytest.raises(exc.IntervalsArgumentError, match="pseudonymisation_conn_id"):
        op(pseudonymisation_conn_id=" ").execute(task_context())
    with pytest.raises(exc.IntervalsConfigurationError, match="'intervals_pseudonymisation' does not exist"):
        op().execute(task_context())  # the default policy needs the key
    assert api.stats["requests"] == 0
    assert not lake.exists()
