"""The link table in the target database: ERP key -> target id, last applied versions, hash.

It lives beside the shop's own tables (InnoDB) so that shop rows and link rows commit in one
transaction (DESIGN 3). ``lock`` serialises consumers per entity and locks exactly the batch's
keys: one multi-row INSERT ... ON DUPLICATE KEY UPDATE creates missing link rows and takes an
exclusive lock on existing ones (a second consumer waits on the primary key), in key order so
that two batches cannot deadlock on each other's rows. The rows are then read with a plain
SELECT: ``SELECT ... FOR UPDATE`` with a long IN list made MariaDB scan and lock every link
row of the entity type, serialising all consumers during an initial load. Under READ
COMMITTED (the applier's isolation level) that plain read sees the latest committed rows.

A batch none of whose keys is linked yet (an initial load) may skip the placeholder rows
(``lock(..., optimistic=True)``): ``save`` then inserts the link rows once, with a plain
INSERT, where updating 100,000 placeholders to their full size cost MariaDB 2.3 s of CPU
against 0.8 s (bench note in docs/architecture.md). Nothing serialises two consumers on such a
key: where another consumer linked one meanwhile, the batch fails on a duplicate key (the
link's or a shop table's unique key) and ``raced`` says so, so that the caller applies it
again; the key is linked then and locked as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import marks, sql_datetime, utc_now
from shopbridge.owntables import OwnTable, ensure

LINK_TABLE = "shopbridge_link"

DDL = f"""
CREATE TABLE IF NOT EXISTS {LINK_TABLE} (
  entity_type VARCHAR(32) NOT NULL,
  entity_key VARCHAR(64) NOT NULL,
  target_id BIGINT NULL,
  version BIGINT NOT NULL DEFAULT 0,
  content_hash CHAR(32) CHARACTER SET ascii NULL,
  stock_version BIGINT NOT NULL DEFAULT 0,
  stock DECIMAL(16,4) NULL,
  event_id CHAR(36) CHARACTER SET ascii NULL,
  applied_at DATETIME(6) NULL,
  shown TINYINT NULL,
  PRIMARY KEY (entity_type, entity_key),
  KEY idx_shopbridge_link_target (entity_type, target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""
# Link tables made before `shown` existed get it.
TABLE = OwnTable(LINK_TABLE, DDL, added={"shown": "TINYINT NULL"})


@dataclass(slots=True)
class Link:
    """One entity's link row; mutated in memory during a batch, then saved."""

    entity_type: str
    entity_key: str
    target_id: int | None = None
    version: int = 0
    content_hash: str | None = None
    stock_version: int = 0
    stock: str | None = None
    event_id: str | None = None
    dirty: bool = False
    # Whether the ERP wants the entity shown in the target (products: in the selection);
    # None: not known yet (a link from before this column).
    shown: bool | None = None
    # No row holds the link yet and none was locked for it (``lock(optimistic=True)``).
    unheld: bool = False

    @property
    def target(self) -> int:
        """``target_id`` where the entity is known to be in the target (planned so, or inserted).

        Raises:
            LookupError: the link has no target id (a planning bug, not a data error).
        """
        if self.target_id is None:
            raise LookupError(f"{self.entity_type} {self.entity_key} has no target id")
        return self.target_id


class Binder:
    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, TABLE)

    def lock(self, conn: Connection, entity_type: str, keys: Iterable[str], *,
             optimistic: bool = False) -> dict[str, Link]:
        """Lock (creating where missing) the link rows of ``keys``; returns them by key.

        ``optimistic``: where no key has a link row yet, none is created or locked; the links
        come back ``unheld`` and ``save`` inserts them (see the module's note, and ``raced``).
        """
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        if optimistic and not _links_where(conn, "entity_key", entity_type, "entity_key",
                                           ordered, limit_one=True):
            return {key: Link(entity_type, key, unheld=True) for key in ordered}
        conn.exec_driver_sql(
            f"INSERT INTO {LINK_TABLE} (entity_type, entity_key) VALUES (%s, %s) "
            f"ON DUPLICATE KEY UPDATE entity_key = VALUES(entity_key)",
            [(entity_type, key) for key in ordered])
        # Only the rows that hold something are read: a row as the INSERT made it reads as
        # ``Link(entity_type, key)``. An initial load reads no row instead of every one
        # (PyMySQL decodes each column in Python).
        held = self._read(conn, entity_type, ordered, also=_NOT_AS_CREATED)
        return {key: held.get(key) or Link(entity_type, key) for key in ordered}

    def peek(self, conn: Connection, entity_type: str, keys: Iterable[str]) -> dict[str, Link]:
        """The link rows of ``keys`` that exist, by key (read only, no lock)."""
        return self._read(conn, entity_type, keys)

    @staticmethod
    def _read(conn: Connection, entity_type: str, keys: Iterable[str], *, also: str = ""
              ) -> dict[str, Link]:
        rows = _links_where(conn, _LINK_COLUMNS, entity_type, "entity_key", keys, also=also)
        return {key: Link(entity_type, key, target_id, version, content_hash, stock_version,
                          None if stock is None else str(stock),
                          shown=None if shown is None else bool(shown))
                for key, target_id, version, content_hash, stock_version, stock, shown in rows}

    def targets(self, conn: Connection, entity_type: str, keys: Iterable[str]) -> dict[str, int]:
        """ERP key -> target id of already linked entities (read only, no lock)."""
        rows = _links_where(conn, "entity_key, target_id", entity_type, "entity_key",
                            (k for k in keys if k not in ("None", "")),
                            also=" AND target_id IS NOT NULL")
        return {key: int(target) for key, target in rows}

    def linked_to(self, conn: Connection, entity_type: str,
                  target_ids: Iterable[int]) -> dict[str, tuple[int, str | None]]:
        """ERP key -> (target id, content hash) of the links pointing at these targets
        (read only, no lock; index idx_shopbridge_link_target)."""
        rows = _links_where(conn, "entity_key, target_id, content_hash", entity_type,
                            "target_id", target_ids)
        return {key: (int(target), content_hash) for key, target, content_hash in rows}

    def forget(self, conn: Connection, entity_type: str, keys: Iterable[str]) -> int:
        """Delete the link rows of ``keys``; returns how many there were."""
        ordered = sorted(set(keys))
        if not ordered:
            return 0
        return conn.exec_driver_sql(
            f"DELETE FROM {LINK_TABLE} WHERE entity_type = %s AND entity_key IN "
            f"({', '.join(['%s'] * len(ordered))})", (entity_type, *ordered)).rowcount

    def forget_type(self, conn: Connection, entity_type: str) -> int:
        """Delete every link row of ``entity_type``; returns how many there were."""
        return conn.exec_driver_sql(f"DELETE FROM {LINK_TABLE} WHERE entity_type = %s",
                                    (entity_type,)).rowcount

    def save(self, conn: Connection, links: Iterable[Link]) -> int:
        """Write back every link that changed in this batch."""
        # The timestamp is a parameter, not NOW(6): PyMySQL batches executemany into one
        # multi-row INSERT only when VALUES holds nothing but placeholders (DESIGN 6).
        now = sql_datetime(utc_now())
        dirty = [lk for lk in links if lk.dirty]
        held: list[tuple[Any, ...]] = []
        unheld: list[tuple[Any, ...]] = []
        for lk in dirty:
            (unheld if lk.unheld else held).append(
                (lk.entity_type, lk.entity_key, lk.target_id, lk.version, lk.content_hash,
                 lk.stock_version, lk.stock, lk.event_id, now, lk.shown))
        if unheld:
            # A plain INSERT: a key another consumer linked meanwhile fails it (``raced``).
            conn.exec_driver_sql(_INSERT, sorted(unheld, key=lambda row: row[1]))
        if held:
            conn.exec_driver_sql(
                f"{_INSERT} ON DUPLICATE KEY UPDATE target_id = VALUES(target_id), "
                f"version = VALUES(version), content_hash = VALUES(content_hash), "
                f"stock_version = VALUES(stock_version), stock = VALUES(stock), "
                f"event_id = VALUES(event_id), applied_at = VALUES(applied_at), "
                f"shown = VALUES(shown)", held)
        for lk in dirty:
            lk.unheld = False
        return len(dirty)

    def raced(self, conn: Connection, links: Iterable[Link]) -> list[str]:
        """The keys of ``unheld`` links that another consumer linked since (read only): where
        a batch of them failed on a duplicate key, applying it again finds them linked."""
        by_type: dict[str, list[str]] = {}
        for lk in links:
            if lk.unheld:
                by_type.setdefault(lk.entity_type, []).append(lk.entity_key)
        return [key for entity_type, keys in by_type.items()
                for key, in _links_where(conn, "entity_key", entity_type, "entity_key", keys)]


_INSERT = (f"INSERT INTO {LINK_TABLE} (entity_type, entity_key, target_id, version, "
           f"content_hash, stock_version, stock, event_id, applied_at, shown) "
           f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
_LINK_COLUMNS = "entity_key, target_id, version, content_hash, stock_version, stock, shown"
# A link row that differs from the one ``lock`` creates (the DDL's defaults).
_NOT_AS_CREATED = (" AND (target_id IS NOT NULL OR version <> 0 OR content_hash IS NOT NULL "
                   "OR stock_version <> 0 OR stock IS NOT NULL OR shown IS NOT NULL)")


def _links_where(conn: Connection, select: str, entity_type: str, column: str,
                 values: Iterable[str] | Iterable[int], *, also: str = "",
                 limit_one: bool = False) -> list[Any]:
    """``select`` of the link rows of ``entity_type`` whose ``column`` is one of ``values``
    (read only, no lock; none: no query). ``select``, ``column`` and ``also`` are ours."""
    wanted: list[Any] = sorted(set(values))
    if not wanted:
        return []
    return list(conn.exec_driver_sql(
        f"SELECT {select} FROM {LINK_TABLE} WHERE entity_type = %s AND {column} IN "
        f"({marks(wanted)}){also}{' LIMIT 1' if limit_one else ''}", (entity_type, *wanted)))
