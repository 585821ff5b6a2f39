"""The VirtueMart table facts (consumers/virtuemart/tables.py) match the upstream DDL, under a
table prefix, language tables included (derived_language_tables_de_de.sql's layout)."""

from __future__ import annotations

import pytest

from consumers.virtuemart import tables
from tests.integration.test_table_facts import _columns, _indexes
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
    metadata = tables.metadata(PREFIX, LANGUAGES)
    metadata.create_all(ours.engine)
    mismatches = []
    for table in metadata.sorted_tables:
        theirs = _columns(upstream, table.name)
        assert theirs, f"upstream has no table {table.name}"
        for name, ours_type in _columns(ours, table.name).items():
            if name not in theirs:
                mismatches.append(f"{table.name}.{name}: not upstream")
            elif theirs[name] != ours_type:
                mismatches.append(f"{table.name}.{name}: ours {ours_type}, "
                                  f"upstream {theirs[name]}")
        for columns, unique in _indexes(ours, table.name) - _indexes(upstream, table.name):
            mismatches.append(f"{table.name}: {'unique ' if unique else ''}index on "
                              f"({columns}) not upstream")
    assert not mismatches, "\n".join(mismatches)
