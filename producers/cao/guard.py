"""The oversell guard (B3): the stock a guarded shop is sent lacks the orders CAO's stock lacks
not yet, and the shop's safety buffer.

CAO's ``MENGE_AKT`` drops only when the CAO user books a document (NOTES 3). Between the shop's
checkout and that booking an order is first on its way (order.placed published, not imported:
in the ERP queue, retried or dead-lettered), then an imported draft (JOURNAL QUELLE 13 or 18)
nobody has booked yet. The ledger ``shopbridge_reservation`` (InnoDB, in the CAO database,
owned here alone) holds one row per order and article:

- recorded from a copy of every order.placed (the queue ``<ns>.<tenant>.erp.reservations``,
  bound like the ERP queue), read before each stock scan: ``INSERT IGNORE`` by (shop, order,
  article), acknowledged only after the commit, so a redelivery, a replay or a restart never
  reserves twice, and a crash before the commit reserves on the next run;
- ``pending`` until the importer's row (``shopbridge_order_import``) is complete, then
  ``imported`` with its JOURNAL id, in one statement, so no order counts twice or not at all;
- ``released`` once that JOURNAL row is no longer a draft (booked: the stock moved) or gone
  (deleted in CAO); a document imported as a booked invoice or an order (QUELLE 3, 8) is
  released on import;
- ``expired`` after the shop's ``oversell.pending_hours`` without reaching CAO (imported
  after all, e.g. a dead letter replayed days later, it counts again as a draft).

A guarded shop g is sent ``max(0, stock - buffer_g - reserved)``, where ``reserved`` leaves
out g's own orders if the shop deducts them itself (VirtueMart's ``product_ordered``,
``ShopSink.open_orders_deducted``). The events carry it as ``shop_stock`` for the shops whose
value differs from the ERP's. ``shopbridge_stock_guard`` keeps, per article, the reservations
its last event was computed with; an article whose reservations changed has its snapshot
stock cleared, so the stock scan publishes it again, variants and version included.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from kombu import Connection

from shopbridge import broker as broker_edge
from shopbridge import events as ev
from shopbridge import kinds, topology
from shopbridge.config import BrokerConfig, TenantConfig
from shopbridge.db import TableNames, has_table, marks, quote_ident, utc_now
from shopbridge.errors import PermanentError
from shopbridge.owntables import OwnTable, ensure

from .snapshot import SNAPSHOT_TABLE
from .statuses import IMPORT_TABLE
from .variants import VARIANT_TABLE, master_stock

log = logging.getLogger(__name__)

LEDGER = "shopbridge_reservation"
GUARD = "shopbridge_stock_guard"
DRAFTS = (13, 18)            # JOURNAL.QUELLE of an invoice or order draft: stock not moved yet
DRAIN_MAX = 1000             # messages per stock scan; the rest waits for the next one
KEEP_DAYS = 7                # released and expired rows, for the operator's questions
OPEN = ("pending", "imported")
FULL_EVERY_S = 10.0          # the full cycle's default period
DEFAULT_PENDING_HOURS = 72   # an order of a shop the configuration no longer has

LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
  shop VARCHAR(40) CHARACTER SET ascii NOT NULL,
  order_id INT NOT NULL,
  erp_id INT NOT NULL,
  quantity DECIMAL(12,3) NOT NULL,
  state VARCHAR(10) CHARACTER SET ascii NOT NULL,
  journal_id INT NULL,
  recorded_at DATETIME(6) NOT NULL,
  released_at DATETIME(6) NULL,
  PRIMARY KEY (shop, order_id, erp_id),
  KEY idx_shopbridge_reservation_state (state, erp_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
GUARD_DDL = f"""
CREATE TABLE IF NOT EXISTS {GUARD} (
  entity_key BIGINT NOT NULL PRIMARY KEY,
  reserved BINARY(16) NOT NULL,
  published_at DATETIME(6) NOT NULL
) ENGINE=InnoDB
"""
TABLES = (OwnTable(LEDGER, LEDGER_DDL), OwnTable(GUARD, GUARD_DDL))

Reserved = dict[str, Decimal]            # shop -> quantity of its open orders


@dataclass(frozen=True)
class GuardedShop:
    name: str
    buffer: Decimal
    own_deducted: bool      # the shop deducts its own open orders itself


def guarded_shops(tenant: TenantConfig) -> list[GuardedShop]:
    return [GuardedShop(s.name, Decimal(s.oversell.buffer),
                        bool(kinds.shop_sink(s.kind).open_orders_deducted()))
            for s in tenant.shops if s.active and s.oversell.enabled]


# The schema versions that have ``shop_stock``: an event without it keeps the one before, so
# that a tenant without a guard publishes what it did.
GUARDED_SCHEMAS = {"product.upserted": 3, "stock.changed": 3}


def guarded_schema(event: dict[str, Any]) -> None:
    """Give an event whose payload carries ``shop_stock`` the schema version that has it."""
    if "shop_stock" in event["payload"] and event["type"] in GUARDED_SCHEMAS:
        event["schema_version"] = GUARDED_SCHEMAS[event["type"]]


def _digest(reserved: Mapping[int, Reserved]) -> bytes:
    text = repr(sorted((article, sorted((shop, str(q.normalize())) for shop, q in by.items()))
                       for article, by in reserved.items()))
    return hashlib.md5(text.encode(), usedforsecurity=False).digest()


class StockGuard:
    """One tenant's guard, used by its CAO producer (``CaoProducer``)."""

    def __init__(self, *, broker: BrokerConfig, tenant: TenantConfig) -> None:
        self.broker = broker
        self.tenant = tenant
        self.shops = guarded_shops(tenant)
        self.hours = {s.name: s.oversell.pending_hours for s in tenant.shops}
        self.reserved: dict[int, Reserved] = {}      # article (REC_ID) -> open orders
        self._published: dict[int, bytes | None] = {}   # entity key -> what attach used
        # Master -> its (and its children's) reservations, as _invalidate compared them:
        # attach digests the same set, also children the payload leaves out (SHOP_DEL_FLAG),
        # or the digests would never agree and the stock be republished every refresh.
        self._current: dict[int, dict[int, Reserved]] = {}
        # Entity keys whose stock the last refresh cleared in the snapshot: under the change
        # signal no CAO write names them, so the follow loop scans them (guard_cycle).
        self.stale: list[int] = []
        self._journal: str | None = None
        self._ready = False
        self._imports = False             # the importer's table exists
        self._full_at = -FULL_EVERY_S     # monotonic time of the last full pass
        self._amqp: Connection | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.shops)

    def config_key(self) -> tuple[Any, ...] | None:
        """What every article's guarded stock depends on beyond its reservations (part of
        the producer's fingerprint: a changed buffer republishes every article); None while
        no shop is guarded, so that such tenants keep their fingerprint."""
        return tuple((s.name, str(s.buffer), s.own_deducted) for s in self.shops) or None

    def close(self) -> None:
        if self._amqp is not None:
            broker_edge.release(self._amqp)
            self._amqp = None

    # -- the ledger ----------------------------------------------------------------------

    def refresh(self, conn: sa.Connection, artikel: str) -> None:
        """Record new orders, move reservations on, and clear the snapshot stock of every
        article whose reservations changed since its last event (``artikel``: ARTIKEL's
        quoted name). Runs before each stock scan; does nothing while no shop is guarded.

        Raises:
            BrokerUnavailable: the reservation queue cannot be read (nothing is lost: the
                messages stay until they are recorded).
        """
        if not self.enabled:
            return
        if not self._ready:
            for table in TABLES:
                ensure(conn, table)
            journal = TableNames.read(conn).find("JOURNAL")
            self._journal = quote_ident(journal) if journal else None
            self._ready = True
        # The sums and the comparison only when this process changed the ledger, and at
        # least every FULL_EVERY_S: what another process (a ``sync``) changed, the expiry.
        full = time.monotonic() - self._full_at >= FULL_EVERY_S
        changed = self._drain(conn, artikel) + self._move_on(conn, full=full)
        if changed or full:
            self.reserved = self._open(conn)
            self._invalidate(conn)
        if full:
            self._full_at = time.monotonic()
        conn.commit()

    def read_open(self, conn: sa.Connection) -> None:
        """The open orders as the ledger has them, writing nothing and reading no queue: for
        a preview of the events (``sync --dry-run``) that must change nothing."""
        if self.enabled and has_table(conn, LEDGER):
            self.reserved = self._open(conn)

    def _drain(self, conn: sa.Connection, artikel: str) -> int:
        """Record what waits in the reservation queue; returns the new ledger rows."""
        queue = topology.work_queue(self.broker.namespace, self.tenant.name,
                                    topology.RESERVATIONS)
        try:
            with broker_edge.translated(self.broker):
                if self._amqp is None:
                    self._amqp = broker_edge.connect(
                        self.broker, retries=0,
                        targets=[topology.Target.for_reservations(self.tenant.name)])
                channel = self._amqp.default_channel
                last, added = None, 0
                rows: list[tuple[Any, ...]] = []
                for _ in range(DRAIN_MAX):
                    message = channel.basic_get(queue, no_ack=False)
                    if message is None:
                        break
                    last = message.delivery_info["delivery_tag"]
                    rows += self._lines(conn, artikel, message.body)
                if rows:
                    added = conn.exec_driver_sql(
                        f"INSERT IGNORE INTO {LEDGER} (shop, order_id, erp_id, quantity, state, "
                        f"recorded_at) VALUES (%s, %s, %s, %s, %s, %s)", rows).rowcount
                conn.commit()
                if last is not None:      # only once the rows are committed
                    channel.basic_ack(last, multiple=True)
                return max(added, 0)
        except BaseException:
            self.close()       # a fresh connection next time; unacked messages come again
            raise

    def _lines(self, conn: sa.Connection, artikel: str, body: bytes) -> list[tuple[Any, ...]]:
        """Ledger rows of one message's orders: per order and article, the quantity."""
        try:
            raws = ev.decode(body)
        except PermanentError as err:
            log.warning("oversell guard: a message of the reservation queue is not "
                        "recorded: %s", err)
            return []
        now, rows = utc_now(), []
        for raw in raws:
            try:
                event = ev.parse(raw)
            except PermanentError as err:
                # The ERP queue dead-letters the same event; it never reaches CAO either.
                log.warning("oversell guard: not reserved: %s", err)
                continue
            if event.type != "order.placed":
                continue
            quantities: dict[int, Decimal] = {}
            for item in event.payload["items"]:
                erp_id = (item.get("variant") or {}).get("erp_id") or item.get("erp_id")
                if erp_id is None and item.get("sku"):
                    erp_id = self._by_sku(conn, artikel, str(item["sku"]))
                if erp_id:
                    quantities[int(erp_id)] = (quantities.get(int(erp_id), Decimal(0))
                                               + Decimal(item["quantity"]))
            rows += [(event.payload["shop"], int(event.payload["order_id"]), erp_id, quantity,
                      "pending", now) for erp_id, quantity in quantities.items()]
        return rows

    def _by_sku(self, conn: sa.Connection, artikel: str, sku: str) -> int | None:
        """The article with this ARTNUM, where exactly one has it (as the importer books)."""
        ids = conn.exec_driver_sql(f"SELECT REC_ID FROM {artikel} WHERE ARTNUM = %s LIMIT 2",
                                   (sku,)).scalars().all()
        return int(ids[0]) if len(ids) == 1 else None

    def _move_on(self, conn: sa.Connection, *, full: bool) -> int:
        """Imported, released (and, in a full pass, expired); returns the rows moved on."""
        now, moved = utc_now(), 0
        if not self._imports:        # the importer makes it with its first order
            self._imports = has_table(conn, IMPORT_TABLE)
        if self._imports:
            moved += conn.exec_driver_sql(
                f"UPDATE {LEDGER} r JOIN {IMPORT_TABLE} i ON i.shop = r.shop "
                f"AND i.order_id = r.order_id SET r.state = 'imported', "
                f"r.journal_id = i.journal_id WHERE r.state IN ('pending', 'expired') "
                f"AND i.state = 'complete'").rowcount
        if self._journal is not None:
            moved += conn.exec_driver_sql(
                f"UPDATE {LEDGER} r LEFT JOIN {self._journal} j ON j.REC_ID = r.journal_id "
                f"AND j.QUELLE IN ({marks(DRAFTS)}) SET r.state = 'released', "
                f"r.released_at = %s WHERE r.state = 'imported' AND j.REC_ID IS NULL",
                (*DRAFTS, now)).rowcount
        if not full:
            return moved
        for shop, hours in self.hours.items():
            moved += conn.exec_driver_sql(
                f"UPDATE {LEDGER} SET state = 'expired', released_at = %s WHERE "
                f"state = 'pending' AND shop = %s AND recorded_at < %s",
                (now, shop, now - timedelta(hours=hours))).rowcount
        known = list(self.hours)
        moved += conn.exec_driver_sql(
            f"UPDATE {LEDGER} SET state = 'expired', released_at = %s WHERE state = 'pending' "
            f"AND shop NOT IN ({marks(known)}) AND recorded_at < %s",
            (now, *known, now - timedelta(hours=DEFAULT_PENDING_HOURS))).rowcount
        conn.exec_driver_sql(
            f"DELETE FROM {LEDGER} WHERE state IN ('released', 'expired') AND released_at < %s "
            f"LIMIT 1000", (now - timedelta(days=KEEP_DAYS),))
        return moved

    def _open(self, conn: sa.Connection) -> dict[int, Reserved]:
        reserved: dict[int, Reserved] = {}
        for erp_id, shop, quantity in conn.exec_driver_sql(
                f"SELECT erp_id, shop, SUM(quantity) FROM {LEDGER} WHERE state IN "
                f"({marks(OPEN)}) GROUP BY erp_id, shop", OPEN):
            reserved.setdefault(int(erp_id), {})[str(shop)] = Decimal(quantity)
        return reserved

    def _masters(self, conn: sa.Connection, articles: Iterable[int]) -> dict[int, int]:
        """Variant child -> its master (the snapshot's entity), for the children given."""
        ids = sorted(articles)
        if not ids or not has_table(conn, VARIANT_TABLE):
            return {}
        return {int(c): int(m) for c, m in conn.exec_driver_sql(
            f"SELECT child_id, master_id FROM {VARIANT_TABLE} WHERE child_id IN ({marks(ids)})",
            tuple(ids))}

    def _invalidate(self, conn: sa.Connection) -> None:
        stored = {int(k): bytes(h) for k, h in conn.exec_driver_sql(
            f"SELECT entity_key, reserved FROM {GUARD}")}
        masters = self._masters(conn, self.reserved)
        current: dict[int, dict[int, Reserved]] = {}
        for article, by_shop in self.reserved.items():
            current.setdefault(masters.get(article, article), {})[article] = by_shop
        stale = sorted(key for key in set(current) | set(stored)
                       if (_digest(current[key]) if key in current else None) != stored.get(key))
        self._current = current
        self.stale = stale
        if stale:
            conn.exec_driver_sql(
                f"UPDATE {SNAPSHOT_TABLE} SET stock = NULL WHERE entity_type = 'product' "
                f"AND deleted = 0 AND entity_key IN ({marks(stale)})", tuple(stale))

    # -- the stock sent ------------------------------------------------------------------

    def _guarded(self, article: int, stock: Decimal, *, buffer: bool = True) -> dict[str, str]:
        """Shop -> guarded stock of one article, for the shops where it differs."""
        reserved = self.reserved.get(article, {})
        total = sum(reserved.values(), Decimal(0))
        out: dict[str, str] = {}
        for shop in self.shops:
            deduct = (shop.buffer if buffer else Decimal(0)) + total - (
                reserved.get(shop.name, Decimal(0)) if shop.own_deducted else Decimal(0))
            if deduct > 0:
                out[shop.name] = str(max(Decimal(0), stock - deduct))
        return out

    def attach(self, key: int, body: dict[str, Any]) -> None:
        """Add ``shop_stock`` to a product.upserted or stock.changed payload (in place) and to
        each of its variants; remembered for ``store`` once published."""
        if not self.enabled:
            return
        children: Sequence[dict[str, Any]] = body.get("variants") or []
        used = {article: self.reserved[article]
                for article in (key, *(int(c["erp_id"]) for c in children))
                if article in self.reserved}
        used.update(self._current.get(key, {}))
        self._published[key] = _digest(used) if used else None
        if not children:
            guarded = self._guarded(key, Decimal(body["stock"]))
        else:
            for child in children:
                child_guarded = self._guarded(int(child["erp_id"]), Decimal(child["stock"]))
                if child_guarded:
                    child["shop_stock"] = child_guarded
            # The master's own reservations (a line booked on the master) come off its sum.
            guarded = {}
            for shop in self.shops:
                total = master_stock(Decimal(c.get("shop_stock", {}).get(shop.name, c["stock"]))
                                     for c in children) - self._deduction(key, shop)
                total = max(Decimal(0), total)
                if total != Decimal(body["stock"]):
                    guarded[shop.name] = str(total)
        if guarded or any("shop_stock" in c for c in children):
            body["shop_stock"] = guarded      # also empty: it marks the schema (v3)

    def _deduction(self, article: int, shop: GuardedShop) -> Decimal:
        reserved = self.reserved.get(article, {})
        return sum(reserved.values(), Decimal(0)) - (
            reserved.get(shop.name, Decimal(0)) if shop.own_deducted else Decimal(0))

    def store(self, conn: sa.Connection, keys: Iterable[int]) -> None:
        """After the events of ``keys`` were published: what their stock was computed with."""
        if not self.enabled:
            return
        now = utc_now()
        done = [(key, self._published.pop(key)) for key in keys if key in self._published]
        rows = [(key, digest, now) for key, digest in done if digest is not None]
        gone = [key for key, digest in done if digest is None]
        if rows:
            conn.exec_driver_sql(
                f"INSERT INTO {GUARD} (entity_key, reserved, published_at) VALUES (%s, %s, %s) "
                f"ON DUPLICATE KEY UPDATE reserved = VALUES(reserved), "
                f"published_at = VALUES(published_at)", rows)
        if gone:
            conn.exec_driver_sql(f"DELETE FROM {GUARD} WHERE entity_key IN ({marks(gone)})",
                                 tuple(gone))
