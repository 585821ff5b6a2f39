"""The VirtueMart table facts (consumers/virtuemart/tables.py) match the upstream DDL, under a
table prefix, language tables included (derived_language_tables_de_de.sql's layout)."""

from __future__ import annotations

import pytest

from consumers.virtuemart import tables
from tests.helpers import table_fact_mismatches
from tests.virtuemart_db import reference_problem, run_strict, schema_sql

PREFIX = "sbf_"
LANGUAGES = ("de-DE", "en-GB")


def test_own_definitions_match_upstream(make_db):
    problem = reference_problem()
    if problem:
        pytest.skip(problem)
    upstream = make_db("vm_upstream")
    run_strict(upstream.url, schema_sql(PREFIX, LANGUAGES))
    ours = make_db("vm_ours")
    metadata = tables.metadata(PREFIX, LANGUAGES, whole_shop=True)
    metadata.create_all(ours.engine)
    mismatches = table_fact_mismatches(metadata, ours=ours, upstream=upstream)
    assert not mismatches, "\n".join(mismatches)
