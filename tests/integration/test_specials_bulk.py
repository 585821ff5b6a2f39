"""Specials of an initial load go in as one multi-row INSERT, with one row per product.

An initial load of 100,000 products has 10,000 specials; a round trip each was a tenth of
the consumer's statements (bench/PROFILE.txt).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import Connection

from consumers.oscommerce.specials import SpecialsScheduler

NOW = datetime(2026, 12, 1, 12, 0)


def inserts_sent(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Com_insert'").one()[1])


def test_new_specials_are_one_insert_and_one_row_each(phoenix_db):
    scheduler = SpecialsScheduler(lambda: NOW)
    windows = {pid: [(Decimal("9.9900"), "2026-11-20", "2026-12-31")] for pid in range(1, 51)}
    windows[51] = [(Decimal("5.0000"), "2027-01-01", None)]          # not started: no row
    with phoenix_db.engine.begin() as conn:
        scheduler.ensure_table(conn)
        scheduler.set_windows(conn, windows)
        before = inserts_sent(conn)
        scheduler.reconcile(conn, windows)
        assert inserts_sent(conn) - before == 1          # as the server counts statements

    rows = phoenix_db.rows("SELECT products_id, specials_new_products_price, expires_date, "
                           "status FROM specials ORDER BY products_id")
    assert [tuple(r) for r in rows] == [(pid, Decimal("9.9900"), datetime(2027, 1, 1), 1)
                                        for pid in range(1, 51)]
