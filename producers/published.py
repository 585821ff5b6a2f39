"""What a shop-side producer has published, in its own table in the shop database.

Rows are written only after the broker confirmed the events (publish first, then record), so
a crash in between publishes again; the ERP side deduplicates by the shop's id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from shopbridge.db import has_table, utc_now
from shopbridge.owntables import OwnTable, ensure


class PublishedLog:
    """Args:
        table: e.g. ``shopbridge_order_out``.
        key: the shop's id column it records, e.g. ``orders_id``.
        alias: the alias of the shop table in the producer's queries, e.g. ``o``.
    """

    def __init__(self, table: str, key: str, alias: str) -> None:
        self.table, self.key, self.alias = table, key, alias
        self.own = OwnTable(table, f"""
CREATE TABLE IF NOT EXISTS {table} (
  {key} INT NOT NULL PRIMARY KEY,
  event_id CHAR(36) CHARACTER SET ascii NOT NULL,
  published_at DATETIME(6) NOT NULL
) ENGINE=InnoDB
""")

    def ensure(self, conn: Connection) -> None:
        ensure(conn, self.own)

    def exists(self, conn: Connection) -> bool:
        return has_table(conn, self.table)

    @property
    def unpublished(self) -> str:
        """SQL condition: the row of the producer's query is not recorded yet."""
        return (f"NOT EXISTS (SELECT 1 FROM {self.table} x "
                f"WHERE x.{self.key} = {self.alias}.{self.key})")

    def record(self, conn: Connection, published: Sequence[tuple[int, str]]) -> None:
        """(shop id, event_id) of what the broker confirmed."""
        if published:
            # A parameter, not NOW(6): PyMySQL makes executemany one multi-row INSERT only
            # when VALUES holds nothing but placeholders (DESIGN 6).
            now = utc_now()
            conn.exec_driver_sql(
                f"INSERT IGNORE INTO {self.table} ({self.key}, event_id, published_at) "
                f"VALUES (%s, %s, %s)", [(key, event_id, now) for key, event_id in published])
