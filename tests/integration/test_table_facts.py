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
from tests.helpers import table_fact_mismatches


@pytest.mark.parametrize(("metadata", "sql_path", "charset"), [
    (cao.metadata, CAO_SQL, "latin1"), (cao_orders.metadata, CAO_SQL, "latin1"),
    (phoenix.metadata, PHOENIX_SQL, "utf8mb4")],
    ids=["cao-faktura", "cao-faktura-orders", "phoenix"])
def test_own_definitions_match_upstream(make_db, metadata, sql_path, charset):
    upstream = make_db("upstream", require_reference(sql_path), charset=charset)
    ours = make_db("ours", charset=charset)
    metadata.create_all(ours.engine)
    mismatches = table_fact_mismatches(metadata, ours=ours, upstream=upstream)
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
