"""What the producer last published per article, in its own InnoDB table in the CAO database.

Kept beside CAO's tables so that the diff runs as one query on the server (DESIGN 6). Rows are
written only after the broker confirmed the events (publish first, then store: a crash in
between republishes, and consumers deduplicate). ``version`` is never lowered and survives
deletion, so versions stay strictly increasing per article forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection, Result

from shopbridge.db import utc_now
from shopbridge.owntables import OwnTable, ensure

from .rows import dicts

SNAPSHOT_TABLE = "shopbridge_snapshot"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SNAPSHOT_TABLE} (
  entity_type VARCHAR(32) CHARACTER SET ascii NOT NULL,
  entity_key BIGINT NOT NULL,
  src_hash BINARY(16) NULL,
  version BIGINT NOT NULL,
  stock DECIMAL(12,4) NULL,
  sku VARCHAR(64) NULL,
  deleted TINYINT NOT NULL DEFAULT 0,
  published_at DATETIME(6) NOT NULL,
  PRIMARY KEY (entity_type, entity_key)
) ENGINE=InnoDB DEFAULT CHARSET=latin1
"""
TABLE = OwnTable(SNAPSHOT_TABLE, DDL)


# What a full sync republishes: every row the snapshot records as published and not deleted
# (new rows wait for the next regular cycle, which publishes them to every shop).
EVERYTHING = "s.version IS NOT NULL AND s.deleted = 0"

# A row of a diff against the snapshot: (row, its source hash, last published version or None).
ChangedRow = tuple[dict[str, Any], bytes, int | None]


def hash_parts(alias: str, columns: Iterable[str]) -> str:
    """SQL: the columns as parts of a source hash, ``CAST(QUOTE(<alias>.<column>) AS BINARY)``
    each, comma-separated.

    Everything in a hash is cast to BINARY: CAO's latin1 columns against the utf8mb4 format
    parameter would otherwise be an "illegal mix of collations"; QUOTE() keeps NULL and ''
    apart.
    """
    return ", ".join(f"CAST(QUOTE({alias}.{column}) AS BINARY)" for column in columns)


def diff_sql(*, select: str, hashed: str, source: str, key: str, where: str,
             order_by: str | None = None, everything: bool = False) -> str:
    """SQL of one page of a diff against the snapshot: the rows of ``source`` that ``where``
    selects, ``key`` above the page's start, whose source hash (the payload format, then
    ``hashed``) differs from the one last published. Parameters, in order: the payload
    format, the snapshot's entity type, the page's start key, the page size. The result has
    ``select``'s columns, ``h``, ``version`` and ``src_hash`` (``changed_rows``).

    ``everything``: instead of the changed rows, every selected row that is published and not
    deleted, whatever its hash (a full sync, ``EVERYTHING``)."""
    having = (f" AND {EVERYTHING} " if everything
              else " HAVING s.src_hash IS NULL OR s.src_hash <> h ")
    return (f"SELECT {select}, "
            f"UNHEX(MD5(CONCAT_WS(_binary'|', CAST(%s AS BINARY), {hashed}))) AS h, "
            f"s.version, s.src_hash FROM {source} LEFT JOIN {SNAPSHOT_TABLE} s "
            f"ON s.entity_type = %s AND s.entity_key = {key} "
            f"WHERE {key} > %s AND {where}{having}ORDER BY {order_by or key} LIMIT %s")


def _now() -> str:
    """``utc_now()`` as DATETIME(6) text, the parameter of a page's every row: PyMySQL formats
    a datetime parameter anew for each row (1.6 us, a third of a snapshot row's escaping);
    text of the same instant costs a fifth of that."""
    return utc_now().isoformat(sep=" ", timespec="microseconds")


def changed_rows(result: Result[Any]) -> list[ChangedRow]:
    """The rows of a diff query against the snapshot (with columns ``h`` and ``version``)."""
    return [(row, bytes(row["h"]), row["version"]) for row in dicts(result)]


class Snapshot:
    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, TABLE)

    def store_published(self, conn: Connection,
                        rows: Sequence[tuple[int, bytes, int, Decimal | None, str | None]],
                        entity_type: str = "product") -> None:
        """(key, src_hash, version, stock, sku) of entities just published."""
        if rows:
            now = _now()
            # deleted: 0 by the column's default for a new row, by the UPDATE for an old one.
            conn.exec_driver_sql(
                f"INSERT INTO {SNAPSHOT_TABLE} (entity_type, entity_key, src_hash, version, "
                f"stock, sku, published_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                f"ON DUPLICATE KEY UPDATE src_hash = VALUES(src_hash), "
                f"version = GREATEST(version, VALUES(version)), stock = VALUES(stock), "
                f"sku = VALUES(sku), deleted = 0, published_at = VALUES(published_at)",
                [(entity_type, key, h, v, stock, sku, now) for key, h, v, stock, sku in rows])

    def store_stock(self, conn: Connection, rows: Sequence[tuple[int, int, Decimal]]) -> None:
        """(REC_ID, version, stock) of articles just published as stock.changed."""
        # INSERT ... ON DUPLICATE KEY UPDATE, not UPDATE: PyMySQL sends executemany of an
        # INSERT as multi-row statements, of an UPDATE as one round trip per row.
        if rows:
            now = _now()
            conn.exec_driver_sql(
                f"INSERT INTO {SNAPSHOT_TABLE} (entity_type, entity_key, version, stock, "
                f"published_at) VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                f"version = GREATEST(version, VALUES(version)), stock = VALUES(stock), "
                f"published_at = VALUES(published_at)",
                [("product", key, v, stock, now) for key, v, stock in rows])

    def store_deleted(self, conn: Connection, rows: Sequence[tuple[int, int]],
                      entity_type: str = "product") -> None:
        """(key, version) of entities just published as deleted; the hash is cleared, so one
        that comes back is published again, with a higher version."""
        if rows:
            now = _now()
            conn.exec_driver_sql(
                f"INSERT INTO {SNAPSHOT_TABLE} (entity_type, entity_key, version, deleted, "
                f"published_at) VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                f"version = GREATEST(version, VALUES(version)), deleted = 1, src_hash = NULL, "
                f"published_at = VALUES(published_at)",
                [(entity_type, key, v, 1, now) for key, v in rows])
