"""The bulk registration load under each personal-data policy: its results and rejects files.

The results file records no value of a row under any policy; the rejects file, the only one that
records rows, keeps them as read (``keep``), tokenised (``pseudonymise``) or without their
personal fields (``drop``), and under the last two without undocumented columns either.
"""

from __future__ import annotations

import json
import uuid

import pytest
from airflow.sdk import ObjectStoragePath
from helpers import read_lines, registration_rows, task_context, write_jsonl

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.operators.writes import IntervalsBulkRegisterParticipantsOperator
from airflow_provider_intervals.personal import Pseudonymiser


def _export(api, tmp_path):
    tag = uuid.uuid4().hex[:6]
    rows = registration_rows(api.store, 2, tag)
    bad = {**rows[0], "email": f"not-an-email-{tag}", "name": f"Broken Row {tag}", "phone": f"+44 7700 {tag}"}
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/people.jsonl"), [*rows, bad])
    return path, rows, bad


def _load(path: str, **kwargs) -> dict:
    op = IntervalsBulkRegisterParticipantsOperator(task_id="write", input_path=path, **kwargs)
    return op.execute(task_context(dag_id=f"bulk_{uuid.uuid4().hex[:6]}"))


@pytest.mark.parametrize("policy", ["keep", "pseudonymise", "drop"])
def test_the_rejects_file_follows_the_policy_and_the_results_hold_no_value(
    api, make_conn, key_conn, tmp_path, policy
):
    make_conn(api)
    key = key_conn()
    path, rows, bad = _export(api, tmp_path)
    summary = _load(path, skip_invalid=True, personal_data=policy)
    assert (summary["created"], summary["rejected"]) == (2, 1)
    (reject,) = read_lines(ObjectStoragePath(summary["rejects"]))
    kept = reject["row"]
    if policy == "keep":
        assert kept == bad  # the row as read, to fix and reload
    elif policy == "drop":
        assert kept == {"eventRunId": bad["eventRunId"], "registrationType": bad["registrationType"]}
    else:
        tokens = Pseudonymiser(key, "v1")
        assert kept == {
            "eventRunId": bad["eventRunId"],
            "email": tokens.token("email", bad["email"]),
            "registrationType": bad["registrationType"],
            "name": tokens.token("name", bad["name"]),
        }
    assert reject["line"] == 3
    assert "email" in {e["field"] for e in reject["errors"]}
    assert bad["email"] not in json.dumps(reject["errors"])  # the messages never quote a value
    results = (tmp_path / "people.jsonl.results.jsonl").read_text()
    for row in [*rows, bad]:
        for value in (row["email"], row["name"]):
            assert value not in results
    assert key not in results + json.dumps(reject)


def test_without_rejects_the_default_policy_needs_no_key(api, make_conn, tmp_path, monkeypatch):
    make_conn(api)
    monkeypatch.delenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", raising=False)
    tag = uuid.uuid4().hex[:6]
    path = write_jsonl(ObjectStoragePath(f"file://{tmp_path}/ok.jsonl"), registration_rows(api.store, 2, tag))
    assert _load(path)["created"] == 2  # no row is recorded, so no key is read


def test_rejects_under_the_default_policy_need_the_key_before_any_request(
    api, make_conn, tmp_path, monkeypatch
):
    make_conn(api)
    monkeypatch.delenv("AIRFLOW_CONN_INTERVALS_PSEUDONYMISATION", raising=False)
    path, _, _ = _export(api, tmp_path)
    before = api.stats["requests"]
    with pytest.raises(exc.IntervalsConfigurationError, match="intervals_pseudonymisation"):
        _load(path, skip_invalid=True)
    with pytest.raises(exc.IntervalsArgumentError, match="personal_data"):
        _load(path, skip_invalid=True, personal_data="scramble")
    assert api.stats["requests"] == before
    assert not (tmp_path / "people.jsonl.rejects.jsonl").exists()
