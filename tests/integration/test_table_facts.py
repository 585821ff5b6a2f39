"""The project's own table definitions (used by the demo) match the upstream DDL exactly:
every column we define exists upstream with the same type and nullability."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consumers.oscommerce import tables as phoenix
from producers.cao import tables as cao
from tests.conftest import CAO_SQL, PHOENIX_SQL, require_reference


def _columns(db, table: str) -> dict[str, tuple[str, str]]:
    rows = db.rows("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
                   "WHERE TABLE_SCHEMA = %s AND LOWER(TABLE_NAME) = LOWER(%s)", (db.name, table))
    return {name.upper(): (ctype, nullable) for name, ctype, nullable in rows}


@pytest.mark.parametrize(("metadata", "sql_path", "charset"), [
    (cao.metadata, CAO_SQL, "latin1"), (phoenix.metadata, PHOENIX_SQL, "utf8mb4")],
    ids=["cao-faktura", "phoenix"])
def test_own_definitions_match_upstream(make_db, metadata, sql_path, charset):
    upstream = make_db("upstream", require_reference(sql_path), charset=charset)
    ours = make_db("ours", charset=charset)
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
    assert not mismatches, "\n".join(mismatches)


def test_cao_tables_are_myisam_latin1_like_the_real_ones(make_db):
    db = make_db("ours", charset="latin1")
    cao.metadata.create_all(db.engine)
    rows = db.rows("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                   "WHERE TABLE_SCHEMA = %s", (db.name,))
    assert rows and all(engine == "MyISAM" and coll.startswith("latin1")
                        for _, engine, coll in rows)
    assert isinstance(db.engine, sa.Engine)
