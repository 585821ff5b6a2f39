"""Special prices on schedule in a shop that has no start date (C6; NOTES 2).

osCommerce shows a special while its one ``specials`` row has status 1; it has an expiry
date but no start date, and the storefront turns an expired special off only when someone
visits. So the pipeline keeps the ERP's windows in its own table (``shopbridge_special``) and
switches the shop's row itself: on at the window's start, off at its end, also when nobody
visits, and also after a consumer was down (every tick reconciles what has become due since
the last one, the first tick after a start reconciles everything). It keeps exactly one
specials row per product: a second row makes Phoenix show the wrong one and list the product
twice. The row's ``expires_date`` is set to the window's end as a second line of defence.

Windows are dates, inclusive: active from ``from`` 00:00 until the day after ``until`` 00:00,
in the shop database's local time (Phoenix compares with the server's NOW()), so "now" is the
shop database's NOW() too, not the consumer's clock, which may be in another time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.db import marks
from shopbridge.owntables import OwnTable, ensure

SCHEDULE_TABLE = "shopbridge_special"
Window = tuple[Decimal, str | None, str | None]     # net price, from, until (ISO dates)

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEDULE_TABLE} (
  products_id INT NOT NULL,
  seq INT NOT NULL,
  price DECIMAL(15,4) NOT NULL,
  valid_from DATETIME NULL,
  valid_until DATETIME NULL,
  PRIMARY KEY (products_id, seq),
  KEY idx_shopbridge_special_from (valid_from),
  KEY idx_shopbridge_special_until (valid_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
TABLE = OwnTable(SCHEDULE_TABLE, DDL)


def window_bounds(start: str | None, until: str | None) -> tuple[datetime | None,
                                                                  datetime | None]:
    begin = datetime.combine(date.fromisoformat(start), datetime.min.time()) if start else None
    end = (datetime.combine(date.fromisoformat(until), datetime.min.time())
           + timedelta(days=1)) if until else None
    return begin, end


class SpecialsScheduler:
    """Args:
        clock: the shop's local time now; None reads the shop database's NOW() (tests pass
            a controllable one).
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock
        self.last_tick: datetime | None = None

    def _now(self, conn: Connection) -> datetime:
        if self.clock is not None:
            return self.clock()
        return conn.exec_driver_sql("SELECT NOW()").scalar_one()

    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, TABLE)

    def set_windows(self, conn: Connection, windows: Mapping[int, Sequence[Window]], *,
                    fresh: AbstractSet[int] = frozenset()) -> None:
        """Replace the windows of these products (as the ERP has them now); ``fresh``
        products have none yet (``consumers.fresh``)."""
        if not windows:
            return
        ids = [pid for pid in windows if pid not in fresh]
        if ids:
            conn.exec_driver_sql(
                f"DELETE FROM {SCHEDULE_TABLE} WHERE products_id IN ({marks(ids)})",
                tuple(ids))
        rows = [(pid, seq, price, *window_bounds(start, until))
                for pid, items in windows.items()
                for seq, (price, start, until) in enumerate(items)]
        if rows:
            conn.exec_driver_sql(
                f"INSERT INTO {SCHEDULE_TABLE} (products_id, seq, price, valid_from, valid_until) "
                f"VALUES (%s, %s, %s, %s, %s)", rows)

    def reconcile(self, conn: Connection, products_ids: Iterable[int],
                  now: datetime | None = None, *, fresh: AbstractSet[int] = frozenset()
                  ) -> None:
        """Make each product's one specials row what its windows say for ``now``; ``fresh``
        products have no specials row yet (``consumers.fresh``)."""
        ids = sorted(set(products_ids))
        if not ids:
            return
        now = now or self._now(conn)
        in_ids = marks(ids)
        held = [pid for pid in ids if pid not in fresh]
        active: dict[int, tuple[Decimal, datetime | None]] = {}
        for pid, price, _start, end in conn.exec_driver_sql(
                f"SELECT products_id, price, valid_from, valid_until FROM {SCHEDULE_TABLE} "
                f"WHERE products_id IN ({in_ids}) AND (valid_from IS NULL OR valid_from <= %s) "
                f"AND (valid_until IS NULL OR valid_until > %s) "
                f"ORDER BY products_id, valid_from", (*ids, now, now)):
            active[pid] = (price, end)          # the latest started window wins
        rows: dict[int, list[tuple[int, int, Decimal, datetime | None]]] = {}
        for specials_id, pid, status, shown, expires in conn.exec_driver_sql(
                f"SELECT specials_id, products_id, status, specials_new_products_price, "
                f"expires_date FROM specials WHERE products_id IN ({marks(held)}) "
                f"ORDER BY specials_id FOR UPDATE", tuple(held)) if held else ():
            rows.setdefault(pid, []).append((specials_id, status, shown, expires))
        inserts = []
        for pid in ids:
            existing = rows.get(pid, [])
            for extra, *_ in existing[1:]:
                conn.exec_driver_sql("DELETE FROM specials WHERE specials_id = %s", (extra,))
            keep = existing[0] if existing else None
            if pid in active:
                price, end = active[pid]
                if keep is None:
                    inserts.append((pid, price, now, end, now, 1))
                elif keep[1:] == (1, price, end):
                    # As it should be: no statement (the first tick after a start meets
                    # every scheduled product, one round trip each).
                    continue
                else:
                    # The timestamps first, comparing the old values: a rewrite that
                    # changes nothing changes no row (P3, P4).
                    conn.exec_driver_sql(
                        "UPDATE specials SET specials_last_modified = IF("
                        "specials_new_products_price <=> %s AND expires_date <=> %s AND "
                        "status = 1, specials_last_modified, %s), "
                        "date_status_change = IF(status = 1, date_status_change, %s), "
                        "specials_new_products_price = %s, expires_date = %s, status = 1 "
                        "WHERE specials_id = %s",
                        (price, end, now, now, price, end, keep[0]))
            elif keep is not None and keep[1] != 0:
                conn.exec_driver_sql(
                    "UPDATE specials SET status = 0, date_status_change = %s "
                    "WHERE specials_id = %s", (now, keep[0]))
        if inserts:
            # One multi-row INSERT (PyMySQL's executemany), not a round trip per special:
            # an initial load of 100,000 products has 10,000 of them.
            conn.exec_driver_sql(
                "INSERT INTO specials (products_id, specials_new_products_price, "
                "specials_date_added, expires_date, date_status_change, status) "
                "VALUES (%s, %s, %s, %s, %s, %s)", inserts)

    def tick(self, engine: sa.Engine) -> int:
        """Switch what became due since the last tick; returns how many products."""
        with engine.begin() as conn:
            now = self._now(conn)
            if self.last_tick is None:
                ids = [r[0] for r in conn.exec_driver_sql(
                    f"SELECT DISTINCT products_id FROM {SCHEDULE_TABLE}")]
            else:
                ids = [r[0] for r in conn.exec_driver_sql(
                    f"SELECT DISTINCT products_id FROM {SCHEDULE_TABLE} WHERE "
                    f"(valid_from > %s AND valid_from <= %s) OR "
                    f"(valid_until > %s AND valid_until <= %s)",
                    (self.last_tick, now, self.last_tick, now))]
            self.reconcile(conn, ids, now)
        self.last_tick = now
        return len(ids)
