"""The personal-data policy, pure: tokens, what each policy does to an item, what it records."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

import pytest

from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals import personal
from airflow_provider_intervals.api import Page
from airflow_provider_intervals.personal import PersonalData, Pseudonymiser
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS, SCHEMAS

KEY_A, KEY_B = "a" * 40, "b" * 40
FIELDS = PERSONAL_FIELDS["registrations"]
ITEM = {
    "_id": "r1",
    "eventId": "e1",
    "email": "Ann.Lee@Example.org",
    "name": "Ann Lee",
    "registrationType": "free",
    "bibIdentifier": "1042",
    "notes": "asthma",
    "paceGroup": None,
}


def test_a_token_is_the_documented_hmac_prefixed_with_the_key_version():
    token = Pseudonymiser(KEY_A, "v1").token("name", "Ann Lee")
    mac = hmac.new(KEY_A.encode(), b"name\x1fAnn Lee", hashlib.sha256).hexdigest()
    assert token == f"v1:{mac}"
    assert re.fullmatch(r"v1:[0-9a-f]{64}", token)


def test_tokens_are_stable_for_one_key_and_differ_across_keys_and_versions():
    one, again = Pseudonymiser(KEY_A, "v1"), Pseudonymiser(KEY_A, "v1")
    assert one.token("email", "ann@x.org") == again.token("email", "ann@x.org")
    assert one.token("email", "ann@x.org") != Pseudonymiser(KEY_B, "v1").token("email", "ann@x.org")
    assert Pseudonymiser(KEY_A, "v2").token("email", "ann@x.org").startswith("v2:")


def test_an_email_is_one_runner_whatever_its_case_and_blanks_but_names_are_exact():
    p = Pseudonymiser(KEY_A, "v1")
    assert p.token("email", " Ann@X.org ") == p.token("email", "ann@x.org")
    assert p.token("name", "Ann Lee") != p.token("name", "ann lee")


def test_the_field_is_part_of_the_token():
    p = Pseudonymiser(KEY_A, "v1")
    assert p.token("name", "Ann Lee") != p.token("notes", "Ann Lee")


def test_the_key_never_shows():
    p = Pseudonymiser(KEY_A, "v1")
    assert KEY_A not in repr(p)
    assert KEY_A not in str(p.__slots__)
    assert KEY_A[:8] not in p.check()


@pytest.mark.parametrize("key", ["", "k3y-Qz9", "x" * 31, None], ids=["empty", "short", "31", "none"])
def test_a_short_key_is_refused_saying_how_to_make_one(key):
    with pytest.raises(exc.IntervalsConfigurationError, match=r"secrets\.token_urlsafe") as raised:
        Pseudonymiser(key, "v1")
    assert not key or key not in str(raised.value)


@pytest.mark.parametrize("version", ["", "v:1", "has space", "v" * 33, None, 1])
def test_a_bad_key_version_is_refused_naming_the_extra(version):
    with pytest.raises(exc.IntervalsConfigurationError, match="key_version"):
        Pseudonymiser(KEY_A, version)


@pytest.mark.parametrize("value", ["Keep", "hash", "", None, True])
def test_a_bad_policy_names_the_argument_the_value_and_the_choices(value):
    with pytest.raises(exc.IntervalsArgumentError) as raised:
        personal.check_policy(value)
    assert raised.value.argument == "personal_data"
    assert raised.value.value == value
    assert "'keep', 'pseudonymise', 'drop'" in str(raised.value)


def test_pseudonymise_replaces_each_personal_value_keeps_the_rest_and_the_order():
    p = Pseudonymiser(KEY_A, "v1")
    out = PersonalData("pseudonymise", FIELDS, p).apply(ITEM)
    assert list(out) == list(ITEM)
    for name in ("email", "name", "bibIdentifier", "notes"):
        assert out[name] == p.token(name, ITEM[name])
    assert {k: out[k] for k in ("_id", "eventId", "registrationType")} == {
        "_id": "r1",
        "eventId": "e1",
        "registrationType": "free",
    }
    assert out["paceGroup"] is None


def test_a_null_personal_value_stays_null():
    out = PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_A, "v1")).apply({"_id": "r", "name": None})
    assert out == {"_id": "r", "name": None}


def test_drop_removes_the_personal_fields_and_keep_keeps_them():
    dropped = PersonalData("drop", FIELDS).apply(ITEM)
    assert set(dropped) == set(ITEM) - FIELDS
    assert PersonalData("keep", FIELDS).apply(ITEM) == ITEM


def test_pages_keep_their_cursor_and_next_request():
    page = Page([dict(ITEM)], True, None)
    (out,) = PersonalData("drop", FIELDS).pages(iter([page]))
    assert out.cursor == "r1"
    assert dataclasses.replace(out, items=[]) == dataclasses.replace(page, items=[])
    assert "email" not in out.items[0]
    assert "email" in page.items[0]  # the hook's page is not changed in place


def test_a_pseudonymiser_goes_with_pseudonymise_only():
    with pytest.raises(ValueError, match="only with it"):
        PersonalData("pseudonymise", FIELDS)
    with pytest.raises(ValueError, match="only with it"):
        PersonalData("drop", FIELDS, Pseudonymiser(KEY_A, "v1"))


def test_the_columns_as_landed_and_their_notes():
    schema = SCHEMAS["registrations"]
    assert PersonalData("keep", FIELDS).columns(schema) == schema
    dropped = [name for name, _ in PersonalData("drop", FIELDS).columns(schema)]
    assert dropped == [name for name, _ in schema if name not in FIELDS]
    assert "email" not in dropped
    notes = PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_A, "v7")).notes()
    assert notes["email"] == "pseudonymised: hmac-sha256-hex token, key version v7"
    assert PersonalData("drop", FIELDS).notes() == {}


def test_the_manifest_records_the_policy_and_key_version_never_the_key():
    data = PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_A, "v3"))
    recorded = data.manifest()
    assert recorded == {
        "policy": "pseudonymise",
        "fields": sorted(FIELDS),
        "token": "hmac-sha256-hex",
        "key_version": "v3",
    }
    assert KEY_A not in str(recorded) + str(data.fingerprint())
    assert PersonalData("drop", FIELDS).manifest()["key_version"] is None


def test_a_checkpoint_of_one_key_is_not_resumed_with_another_of_the_same_version():
    a = PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_A, "v1")).fingerprint()
    b = PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_B, "v1")).fingerprint()
    assert a != b
    assert a == PersonalData("pseudonymise", FIELDS, Pseudonymiser(KEY_A, "v1")).fingerprint()


def test_every_personal_field_of_a_schema_is_one_of_its_fields_or_the_writes():
    from airflow_provider_intervals.validation import REGISTRATION_FIELDS

    for resource, fields in PERSONAL_FIELDS.items():
        documented = {name for name, _ in SCHEMAS[resource]} | set(REGISTRATION_FIELDS)
        assert fields <= documented, resource
