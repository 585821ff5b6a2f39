"""Where a full sync (``shopbridge sync``, P3) of one shop stands, per scan, in its own table
in the CAO database: so that a sync that was interrupted (killed, the broker away) continues
after the last page it published instead of starting over.

A page is recorded only after the broker confirmed its events, so a crash republishes at most
the page in flight (the consumer applies it again: harmless). A finished scan starts over on
the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from shopbridge.db import utc_now
from shopbridge.owntables import OwnTable

RESYNC_TABLE = "shopbridge_resync"

DDL = f"""
CREATE TABLE IF NOT EXISTS {RESYNC_TABLE} (
  shop VARCHAR(40) CHARACTER SET ascii NOT NULL,
  scan VARCHAR(40) CHARACTER SET ascii NOT NULL,
  after_key BIGINT NOT NULL DEFAULT 0,
  published BIGINT NOT NULL DEFAULT 0,
  started_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL,
  PRIMARY KEY (shop, scan)
) ENGINE=InnoDB
"""
TABLE = OwnTable(RESYNC_TABLE, DDL)


@dataclass
class ScanProgress:
    """One scan of one sync: where it starts, what earlier runs published, what this one."""

    scan: str
    after: int = 0                 # the last key published (0: from the start)
    before: int = 0                # events an interrupted earlier run already published
    now: int = 0                   # events this run published


@dataclass
class ResyncProgress:
    shop: str
    scans: dict[str, ScanProgress] = field(default_factory=dict)

    def start(self, conn: Connection, scan: str) -> ScanProgress:
        """Resume ``scan`` where an unfinished run stopped, else start it over."""
        row = conn.exec_driver_sql(
            f"SELECT after_key, published, finished_at FROM {RESYNC_TABLE} "
            f"WHERE shop = %s AND scan = %s", (self.shop, scan)).first()
        if row is not None and row[2] is None:
            progress = ScanProgress(scan, after=int(row[0]), before=int(row[1]))
        else:
            progress = ScanProgress(scan)
            now = utc_now()
            conn.exec_driver_sql(
                f"INSERT INTO {RESYNC_TABLE} (shop, scan, after_key, published, started_at, "
                f"updated_at, finished_at) VALUES (%s, %s, 0, 0, %s, %s, NULL) "
                f"ON DUPLICATE KEY UPDATE after_key = 0, published = 0, "
                f"started_at = VALUES(started_at), updated_at = VALUES(updated_at), "
                f"finished_at = NULL", (self.shop, scan, now, now))
        conn.commit()
        self.scans[scan] = progress
        return progress

    def page(self, conn: Connection, scan: str, after: int, published: int) -> None:
        progress = self.scans[scan]
        progress.after, progress.now = after, progress.now + published
        conn.exec_driver_sql(
            f"UPDATE {RESYNC_TABLE} SET after_key = %s, published = published + %s, "
            f"updated_at = %s WHERE shop = %s AND scan = %s",
            (after, published, utc_now(), self.shop, scan))
        conn.commit()

    def finish(self, conn: Connection, scan: str) -> None:
        conn.exec_driver_sql(
            f"UPDATE {RESYNC_TABLE} SET finished_at = %s WHERE shop = %s AND scan = %s",
            (utc_now(), self.shop, scan))
        conn.commit()
