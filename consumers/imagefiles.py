"""Image files from the ERP's folder to the shop's, copied only when their content changed (C9).

Files are not transactional, so nothing here runs inside a shop transaction except
``register``: a product apply records the names it needs in ``shopbridge_image`` (InnoDB, in
the shop database) together with the shop rows. The copying happens after the commit
(``copy``) and in the consumer's time-driven hook (``tick``).

CAO overwrites an image file under the same name and sends no event, so ``tick`` lists the
ERP folder in one call every ``scan_s`` seconds and compares size and mtime with what was
copied; where they differ it hashes the file (SHA-256) and copies it only if the bytes
differ from the ones copied last. A file that is missing or a folder that cannot be reached
never blocks the product sync: the row gets status ``missing`` or ``failed`` with the
reason, a warning names the product's SKU and the file, and later ticks try again (backing
off while a folder is unreachable).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.owntables import OwnTable, ensure

from .folders import FileStat, Folder

log = logging.getLogger(__name__)

TABLE = "shopbridge_image"
BACKOFF_S = (10, 30, 60, 120, 300)   # pauses after a folder was unreachable, growing
FLUSH_EVERY = 200                    # outcomes written to the table per transaction

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  name VARCHAR(255) NOT NULL,
  sku VARCHAR(255) NULL,
  status VARCHAR(16) NOT NULL,
  size BIGINT NULL,
  mtime_us BIGINT NULL,
  sha256 CHAR(64) NULL,
  copies INT NOT NULL DEFAULT 0,
  error VARCHAR(255) NULL,
  checked_at DATETIME NULL,
  copied_at DATETIME NULL,
  PRIMARY KEY (name),
  KEY idx_shopbridge_image_status (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""
OWN_TABLE = OwnTable(TABLE, DDL)

PENDING, COPIED, MISSING, FAILED = "pending", "copied", "missing", "failed"


@dataclass
class ImageRow:
    name: str
    sku: str | None
    status: str
    size: int | None
    mtime_us: int | None
    sha256: str | None
    error: str | None

    @property
    def stat(self) -> FileStat | None:
        return None if self.size is None or self.mtime_us is None else (self.size,
                                                                         self.mtime_us)


class FolderUnreachable(Exception):
    """The source or target folder cannot be reached: stop this round, try later."""


class ImageFiles:
    """Args:
        source: the ERP's image folder.
        target: the shop's image folder.
        engine: the shop database (the bookkeeping table lives there).
        scan_s: how often ``tick`` lists the source folder (0: every tick).
        clock: monotonic seconds (tests pass a controllable one).
    """

    def __init__(self, *, source: Folder, target: Folder, engine: sa.Engine, scan_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.target = target
        self.engine = engine
        self.scan_s = scan_s
        self.clock = clock
        self.next_scan = 0.0
        self.paused_until = 0.0
        self._outages = 0
        self._updates: list[tuple[object, ...]] = []

    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, OWN_TABLE)

    def register(self, conn: Connection, names: Mapping[str, str]) -> list[str]:
        """Record the files products need (name -> SKU), in the caller's transaction.

        Returns:
            the names, for ``copy`` after the commit.
        """
        if not names:
            return []
        ordered = sorted(names)          # one lock order for concurrent consumers
        conn.exec_driver_sql(
            f"INSERT INTO {TABLE} (name, sku, status) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE sku = VALUES(sku)",
            [(n, names[n], PENDING) for n in ordered])
        return ordered

    def copy(self, names: Sequence[str]) -> None:
        """After the commit: copy those of ``names`` that are not copied yet. Never raises."""
        if not names or self.clock() < self.paused_until:
            return
        try:
            rows = self._rows("WHERE status <> %s AND name IN "
                              f"({', '.join(['%s'] * len(names))})", (COPIED, *names))
            self._sync(rows, listing=None)
            self._flush()
        except Exception as err:
            self._updates.clear()
            log.warning("image copy failed, retried later: %s: %s", type(err).__name__, err)

    def tick(self) -> int:
        """Time-driven: list the ERP folder and bring changed files over. Returns copies."""
        now = self.clock()
        if now < self.next_scan or now < self.paused_until:
            return 0
        self.next_scan = now + self.scan_s
        try:
            try:
                listing = self.source.listing()
            except Exception as err:
                self._unreachable(self.source, err, self._rows("WHERE status <> %s", (COPIED,)))
                return 0
            return self._sync(self._rows("", ()), listing=listing)
        finally:
            self._flush()

    # -- one round ---------------------------------------------------------------------------

    def _sync(self, rows: Iterable[ImageRow], listing: dict[str, FileStat] | None) -> int:
        copies = 0
        rows = list(rows)
        for index, row in enumerate(rows):
            try:
                copies += self._sync_one(row, listing)
            except FolderUnreachable as err:
                folder = err.args[0]
                self._unreachable(folder, err.__cause__ or err,
                                  [r for r in rows[index:] if r.status != COPIED])
                return copies
        self._outages = 0
        return copies

    def _sync_one(self, row: ImageRow, listing: dict[str, FileStat] | None) -> int:
        """Bring one file up to date; returns 1 if it was copied.

        Raises:
            FolderUnreachable: a folder cannot be reached even on a new connection.
        """
        for attempt in (1, 2):
            try:
                return self._attempt(row, listing if attempt == 1 else None)
            except FileNotFoundError:
                self._record(row, MISSING,
                             error=f"not in the ERP's image folder {self.source.safe}")
                return 0
            except Exception as err:
                # A dropped connection (an SFTP server's idle timeout) heals on the second
                # attempt; a folder that stays gone stops the round.
                for folder in (self.source, self.target):
                    if not folder.reachable():
                        raise FolderUnreachable(folder) from err
                if attempt == 2:
                    self._record(row, FAILED, error=f"{type(err).__name__}: {err}")
        return 0

    def _attempt(self, row: ImageRow, listing: dict[str, FileStat] | None) -> int:
        stat = listing.get(row.name) if listing is not None else self.source.stat(row.name)
        if stat is None:
            raise FileNotFoundError(row.name)
        if row.status == COPIED and stat == row.stat:
            return 0
        if row.sha256 is not None and self.source.sha256(row.name) == row.sha256:
            # Touched, or back after it was missing: the shop has these bytes already.
            self._record(row, COPIED, stat=stat)
            return 0
        digest, _ = self.target.replace(row.name, self.source.chunks(row.name))
        self._record(row, COPIED, stat=stat, sha256=digest)
        log.info("image %s of SKU %s copied to %s", row.name, row.sku, self.target.safe)
        return 1

    def _unreachable(self, folder: Folder, err: BaseException, rows: list[ImageRow]) -> None:
        self.source.reset()
        self.target.reset()
        pause = BACKOFF_S[min(self._outages, len(BACKOFF_S) - 1)]
        self._outages += 1
        self.paused_until = self.clock() + pause
        reason = f"image folder {folder.safe} unreachable ({type(err).__name__})"
        for row in rows:
            self._record(row, FAILED, error=reason, quiet=True)
        waiting = ", ".join(f"SKU {r.sku}: {r.name}" for r in rows[:5])
        log.warning("%s; %d image(s) wait%s; next try in %d s", reason, len(rows),
                    f" ({waiting}{', ...' if len(rows) > 5 else ''})" if rows else "", pause)

    # -- the bookkeeping table ---------------------------------------------------------------

    def _rows(self, where: str, params: tuple[object, ...]) -> list[ImageRow]:
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(
                f"SELECT name, sku, status, size, mtime_us, sha256, error FROM {TABLE} {where} "
                "ORDER BY status = 'failed', name", params)
            return [ImageRow(*r) for r in result]

    def _record(self, row: ImageRow, status: str, *, stat: FileStat | None = None,
                sha256: str | None = None, error: str | None = None, quiet: bool = False) -> None:
        if (stat, sha256, status, error) == (None, None, row.status, row.error):
            return                       # still missing / failing the same way: nothing new
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        size, mtime_us = stat if stat is not None else (row.size, row.mtime_us)
        error = None if error is None else error[:255]
        self._updates.append((status, size, mtime_us, sha256, error, now,
                              int(sha256 is not None), sha256 is not None, now, row.name))
        if len(self._updates) >= FLUSH_EVERY:
            self._flush()
        if not quiet and status in (MISSING, FAILED) and (status, error) != (row.status,
                                                                             row.error):
            log.warning("image %s of SKU %s: %s; retried later", row.name, row.sku, error)
        row.status, row.size, row.mtime_us, row.error = status, size, mtime_us, error
        row.sha256 = sha256 or row.sha256


    def _flush(self) -> None:
        """Write the recorded outcomes in one transaction (a commit per file cost ~5 ms).
        Lost in a crash, a copy is only repeated: the bytes are the same."""
        updates, self._updates = self._updates, []
        if not updates:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                f"UPDATE {TABLE} SET status = %s, size = %s, mtime_us = %s, "
                "sha256 = COALESCE(%s, sha256), error = %s, checked_at = %s, "
                "copies = copies + %s, copied_at = IF(%s, %s, copied_at) WHERE name = %s",
                updates)
