"""One owner per fact: the *Personal data* page states the values and defaults that ``personal.py`` defines.

The policies, the default, the key's connection id, its extra, its shortest length, the token's
scheme and the personal fields are defined once (:mod:`airflow_provider_intervals.personal`,
``storage.formats.PERSONAL_FIELDS``); the operators' signatures default to them, and this test
fails when the page, a signature or the code says otherwise. Quick: nothing is built.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from airflow_provider_intervals import personal
from airflow_provider_intervals.operators.registrations import IntervalsRegistrationsOperator
from airflow_provider_intervals.operators.writes.bulk import IntervalsBulkRegisterParticipantsOperator
from airflow_provider_intervals.storage.formats import PERSONAL_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "personal-data.md").read_text()
TEXT = re.sub(r"\s+", " ", PAGE)


def test_the_page_is_in_the_sites_table_of_contents():
    index = (ROOT / "docs" / "index.md").read_text()
    assert re.search(r"```\{toctree\}[^`]*\npersonal-data\n", index)


def test_the_policy_table_lists_exactly_the_policies():
    table = re.findall(r"^\| `(\w+)` \| .* \| (yes|no) \|$", PAGE, re.M)
    assert {policy for policy, _ in table} == set(personal.POLICIES)
    assert [policy for policy, needs_key in table if needs_key == "yes"] == [personal.PSEUDONYMISE]


def test_the_stated_default_is_the_codes_and_every_operators():
    (stated,) = re.findall(r"The default is `(\w+)`\.", TEXT)
    assert stated == personal.DEFAULT_POLICY
    assert f"### Why the default is `{stated}`" in PAGE
    for operator in (IntervalsRegistrationsOperator, IntervalsBulkRegisterParticipantsOperator):
        parameters = inspect.signature(operator.__init__).parameters
        assert parameters["personal_data"].default == personal.DEFAULT_POLICY, operator.__name__
        assert parameters["pseudonymisation_conn_id"].default == personal.DEFAULT_CONN_ID, operator.__name__


def test_the_key_s_connection_extra_and_length_are_the_codes():
    assert f"`{personal.DEFAULT_CONN_ID}` by default" in TEXT
    assert f'"extra": {{"{personal.KEY_VERSION_EXTRA}": "v1"}}' in TEXT
    assert f"at least {personal.MIN_KEY_LENGTH} characters" in TEXT
    (length,) = re.findall(r"1 to (\d+) letters", TEXT)
    assert re.fullmatch(personal.KEY_VERSION_PATTERN, "v" * int(length))
    assert not re.fullmatch(personal.KEY_VERSION_PATTERN, "v" * (int(length) + 1))


def test_the_token_formula_and_scheme_are_the_codes():
    from airflow_provider_intervals.personal import Pseudonymiser

    assert '`HMAC-SHA256(key, field + "\\x1f" + value)`' in PAGE
    assert f"pseudonymised: {personal.TOKEN_SCHEME} token, key version v1" in TEXT
    notes = personal.PersonalData(
        personal.PSEUDONYMISE, PERSONAL_FIELDS["registrations"], Pseudonymiser("k" * 40, "v1")
    ).notes()
    assert f"description: {notes['email']}" in TEXT


@pytest.mark.parametrize("resource", list(PERSONAL_FIELDS))
def test_the_personal_fields_table_is_the_codes(resource):
    (row,) = [line for line in PAGE.splitlines() if line.startswith(f"| {resource} ")]
    listed = set(re.findall(r"`(\w+)`", row.split("|")[2]))
    assert listed == PERSONAL_FIELDS[resource]
