"""The project's own table definitions (used by the demo) match the upstream DDL exactly:
every column we define exists upstream with the same type, nullability, default,
auto-increment and primary-key membership, and every index we define exists upstream on the
same columns."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from consumers.cao import tables as cao_orders
from consumers.oscommerce import tables as phoenix
from producers.cao import tables as cao
from tests.conftest import CAO_SQL, PHOENIX_SQL, require_reference


def _columns(db, table: str) -> dict[str, tuple[str, ...]]:
    rows = db.rows("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, IFNULL(COLUMN_DEFAULT, 'NULL'), "
                   "EXTRA, COLUMN_KEY = 'PRI' FROM information_schema.COLUMNS "
                   "WHERE TABLE_SCHEMA = %s AND LOWER(TABLE_NAME) = LOWER(%s)", (db.name, table))
    return {name.upper(): (ctype, nullable, f"default {default}", extra, "PK" if pk else "")
            for name, ctype, nullable, default, extra, pk in rows}


def _indexes(db, table: str) -> set[tuple[str, bool]]:
    """(columns in order, unique) of every index: names differ and do not matter."""
    rows = db.rows("SELECT INDEX_NAME, NON_UNIQUE, GROUP_CONCAT(UPPER(COLUMN_NAME) ORDER BY "
                   "SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                   "AND LOWER(TABLE_NAME) = LOWER(%s) "
                   "GROUP BY INDEX_NAME, NON_UNIQUE", (db.name, table))
    return {(columns, not non_unique) for _, non_unique, columns in rows}


@pytest.mark.parametrize(("metadata", "sql_path", "charset"), [
    (cao.metadata, CAO_SQL, "latin1"), (cao_orders.metadata, CAO_SQL, "latin1"),
    (phoenix.metadata, PHOENIX_SQL, "utf8mb4")],
    ids=["cao-faktura", "cao-faktura-orders", "phoenix"])
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
        for columns, unique in _indexes(ours, table.name) - _indexes(upstream, table.name):
            mismatches.append(f"{table.name}: {'unique ' if unique else ''}index on "
                              f"({columns}) not upstream")
    assert not mismatches, "\n".join(mismatches)


def test_cao_tables_are_myisam_latin1_like_the_real_ones(make_db):
    db = make_db("ours", charset="latin1")
    cao.metadata.create_all(db.engine)
    cao_orders.metadata.create_all(db.engine)
    rows = db.rows("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                   "WHERE TABLE_SCHEMA = %s", (db.name,))
    assert rows and all(engine == "MyISAM" and coll.startswith("latin1")
                        for _, engine, coll in rows)
    assert isinstance(db.engine, sa.Engine)
