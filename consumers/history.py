"""The history table in the target database: every event a shop's consumer took and what
became of it (B4, ``shopbridge history``).

It lives beside the link table (consumers/binder.py), so that one query answers for an
entity's events and its link row. It is written outside the batch's transactions, once per
batch, with one multi-row INSERT (PyMySQL batches ``executemany`` into one statement when
VALUES holds nothing but placeholders): an initial load of 100,000 articles adds one short
statement per batch. ``Recorder`` writes it on a thread of its own, so that the next batch
does not wait for it. It is bounded by age: ``prune`` deletes rows older than the shop's
``history_days`` in chunks, so that no long DELETE holds locks the consumers wait on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from sqlalchemy.engine import Connection

from shopbridge.db import has_table, marks, sql_datetime, utc_now, without_null_columns
from shopbridge.history import DETAIL_MAX, History, HistoryEntry, HistoryQuery, LinkState
from shopbridge.owntables import OwnTable, ensure

from .binder import LINK_TABLE

log = logging.getLogger(__name__)

HISTORY_TABLE = "shopbridge_history"
PRUNE_CHUNK = 5000          # rows per DELETE: short statements, short locks
SHOWN_MAX = 1000            # entries ``read`` returns at most (the newest of them)

DDL = f"""
CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
  id BIGINT NOT NULL AUTO_INCREMENT,
  entity_type VARCHAR(32) NOT NULL,
  entity_key VARCHAR(64) NOT NULL,
  sku VARCHAR(64) NULL,
  event_id CHAR(36) CHARACTER SET ascii NOT NULL,
  event_type VARCHAR(64) NOT NULL,
  version BIGINT NOT NULL,
  arrived_at DATETIME(6) NOT NULL,
  outcome VARCHAR(20) NOT NULL,
  detail VARCHAR(500) NULL,
  PRIMARY KEY (id),
  KEY idx_shopbridge_history_entity (entity_key, entity_type),
  KEY idx_shopbridge_history_sku (sku),
  KEY idx_shopbridge_history_arrived (arrived_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""
TABLE = OwnTable(HISTORY_TABLE, DDL)

_NAMES = ("entity_type", "entity_key", "sku", "event_id", "event_type", "version",
          "arrived_at", "outcome", "detail")
_COLUMNS = ", ".join(_NAMES)


def ensure_table(conn: Connection) -> None:
    ensure(conn, TABLE)


def record(conn: Connection, entries: Sequence[HistoryEntry]) -> int:
    """Write the entries in one statement; returns how many."""
    # A batch shares one arrival time: formatted once (``sql_datetime``).
    times = {at: sql_datetime(at) for at in {e.arrived_at for e in entries}}
    rows = [(e.entity_type[:32], e.entity_key[:64], (e.sku or None) and e.sku[:64],
             e.event_id[:36], e.event_type[:64], e.version, times[e.arrived_at],
             e.outcome[:20], e.detail[:DETAIL_MAX] or None) for e in entries]
    if rows:
        # Applied events have no detail: the column is left out then (NULL all the same).
        names, values = without_null_columns(_NAMES, rows, ("sku", "detail"))
        conn.exec_driver_sql(
            f"INSERT INTO {HISTORY_TABLE} ({', '.join(names)}) VALUES ({marks(names)})",
            values)
    return len(rows)


class Recorder:
    """Writes the history on a thread of its own: each batch's entries (``put``) and the
    pruning (``later``), in the order they come.

    A consumer applies one batch after another, and what it waits for in between adds up: an
    initial load of 100,000 products spent about 1.5 s of its 18 s in 200 history INSERTs
    (four indexes) and their commits, none of which the next batch needs. At most
    ``backlog`` jobs wait; beyond that ``put`` waits too, so memory stays bounded and the
    history keeps up. A job that raises loses itself alone (the batch stands, whatever its
    history); jobs log their own database errors.

    Args:
        write: records one batch's entries (on the recorder's thread).
        backlog: jobs that may wait.
    """

    def __init__(self, write: Callable[[Sequence[HistoryEntry]], None], *,
                 backlog: int = 4) -> None:
        self._write = write
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue(backlog)
        self._thread: threading.Thread | None = None

    def put(self, entries: Sequence[HistoryEntry]) -> None:
        self.later(lambda: self._write(entries))

    def later(self, job: Callable[[], object]) -> None:
        """Run ``job`` after what waits (pruning: after the entries recorded before it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(self._queue,),
                                            name="history", daemon=True)
            self._thread.start()
        self._queue.put(job)

    @staticmethod
    def _run(waiting: queue.Queue[Callable[[], object] | None]) -> None:
        while (job := waiting.get()) is not None:
            try:
                job()
            except Exception:       # a bug in a job: it is lost, not the next one
                log.exception("history: a write failed")

    def close(self, wait_s: float = 15.0) -> None:
        """Run what waits (for at most ``wait_s``), then end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=wait_s)
            thread.join(wait_s)
        except queue.Full:
            pass
        if thread.is_alive():
            log.warning("history of up to %d batch(es) not recorded: the database did not "
                        "take it within %.0f s", self._queue.maxsize, wait_s)
            self._queue = queue.Queue(self._queue.maxsize)  # the stuck thread keeps its own


def prune(conn: Connection, days: int, *, chunk: int = PRUNE_CHUNK) -> int:
    """Delete entries that arrived more than ``days`` ago (0: every entry), ``chunk`` rows
    per statement, each committed on its own; returns how many.

    ``conn`` must not be in a transaction of the caller's: each chunk commits.
    """
    before = utc_now() - timedelta(days=days)
    total = 0
    while True:
        with conn.begin():
            deleted = conn.exec_driver_sql(
                f"DELETE FROM {HISTORY_TABLE} WHERE arrived_at < %s ORDER BY arrived_at "
                f"LIMIT {int(chunk)}", (before,)).rowcount
        total += deleted
        if deleted < chunk:
            return total


def read(conn: Connection, query: HistoryQuery) -> History:
    """The entity's entries, oldest first (the newest ``SHOWN_MAX``), and its link rows.

    By SKU: the entries naming the SKU and every entry of the product keys they name (a
    stock event may carry no SKU).
    """
    if not has_table(conn, HISTORY_TABLE):
        return History(entries=(), links=())
    keys: list[tuple[str, str]] = []
    if query.sku is not None:
        keys = [(str(t), str(k)) for t, k in conn.exec_driver_sql(
            f"SELECT DISTINCT entity_type, entity_key FROM {HISTORY_TABLE} WHERE sku = %s",
            (query.sku,))]
    elif query.entity_key is not None:
        types = ([query.entity_type] if query.entity_type else
                 [str(t) for (t,) in conn.exec_driver_sql(
                     f"SELECT DISTINCT entity_type FROM {HISTORY_TABLE} WHERE entity_key = %s",
                     (query.entity_key,))])
        keys = [(t, query.entity_key) for t in types]
    found: list[tuple[int, HistoryEntry]] = []
    for entity_type, wanted in _by_type(keys):
        found += [(int(row_id), HistoryEntry(
                      entity_type=str(t), entity_key=str(k), sku=sku, event_id=str(eid),
                      event_type=str(et), version=int(v), arrived_at=at, outcome=str(o),
                      detail=d or ""))
                  for row_id, t, k, sku, eid, et, v, at, o, d in conn.exec_driver_sql(
                        f"SELECT id, {_COLUMNS} FROM {HISTORY_TABLE} WHERE entity_type = %s "
                        f"AND entity_key IN ({marks(wanted)}) ORDER BY id DESC "
                        f"LIMIT {SHOWN_MAX}", (entity_type, *wanted))]
    # Arrival order; within a batch (one arrival time) the order the consumer wrote them.
    found.sort(key=lambda item: (item[1].arrived_at, item[0]))
    return History(entries=tuple(e for _, e in found[-SHOWN_MAX:]),
                   links=tuple(_links(conn, keys)))


def _by_type(keys: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for entity_type, key in sorted(set(keys)):
        grouped.setdefault(entity_type, []).append(key)
    return sorted(grouped.items())


def _links(conn: Connection, keys: Iterable[tuple[str, str]]) -> list[LinkState]:
    if not has_table(conn, LINK_TABLE):
        return []
    links = []
    for entity_type, wanted in _by_type(keys):
        links += [LinkState(entity_type, str(k), None if t is None else int(t), int(v),
                            int(sv), eid, at)
                  for k, t, v, sv, eid, at in conn.exec_driver_sql(
                      f"SELECT entity_key, target_id, version, stock_version, event_id, "
                      f"applied_at FROM {LINK_TABLE} WHERE entity_type = %s AND entity_key IN "
                      f"({marks(wanted)}) ORDER BY entity_key", (entity_type, *wanted))]
    return links
