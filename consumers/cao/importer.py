"""Imports shop orders into CAO-Faktura as sales documents, each exactly once (O1, K3, K4).

CAO's tables are MyISAM: no transaction can make header, positions and customer atomic. So
(DESIGN 3) each order is imported under an advisory lock (GET_LOCK) and tracked in our own
InnoDB table ``shopbridge_order_import``: a row is written as 'started', with the document
number already drawn, before the first CAO row; it becomes 'complete' after the last one. A
redelivered order finds 'complete' and is skipped. An order found 'started' was cut off half
way (a crash, a killed process): whatever it left in JOURNAL/JOURNALPOS is removed and the
document is written again under the same number. An order already in JOURNAL (SHOP_ID,
SHOP_ORDERID) without our row was imported by someone else (CAO's own shop transfer) and is
left alone.

Everything that can be refused (mappings, tax rates) is checked before the first write, so a
refused order leaves no trace in CAO and is dead-lettered naming the value.

A batch of orders (the consumer's batch, issue 14) goes through these steps together, each
in one or a few statements for the whole batch instead of one per order: the locks, the
lookup of import rows and of JOURNAL, one number reservation per number range, the
'started' rows, the customers (read at once, see customers.Known), multi-row INSERTs of the
headers and of the positions, and the 'complete' marks. The guarantees are per order as
before: a batch cut off half way leaves its orders 'started', and each is completed on
redelivery. A refused order makes the batch fail before its first write; the consumer then
applies the batch in halves, down to that order alone, which is dead-lettered.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig, TenantConfig
from shopbridge.db import (
    TableNames,
    create_engine,
    delete_in,
    has_table,
    marks,
    quote_ident,
    translated,
    utc_now,
)
from shopbridge.errors import ConfigError, MappingError, TargetLocked, TransientDatabaseError
from shopbridge.events import Event
from shopbridge.history import HistoryEntry
from shopbridge.owntables import OwnTable, ensure
from systems.cao import NumberRanges, number_range, resolve, vat_rates

from ..applying import ApplyResult
from .customers import Customer, Customers, Known
from .documents import Article, Document, build, required_articles
from .registrations import register_customer
from .text import Fitter

log = logging.getLogger(__name__)

IMPORT_TABLE = "shopbridge_order_import"
LOCK_WAIT_S = 5
HEADER_ROWS = 200            # JOURNAL rows per INSERT statement (about 60 values each)
# Orders imported together at most: bounds the locks held at once and how long a batch's
# headers stand without their positions (a consumer's batch can hold thousands).
INVOICE = 3                   # JOURNAL.QUELLE of a finished invoice
ORDER_BATCH = 500
TABLES = ("JOURNAL", "JOURNALPOS", "ADRESSEN", "ADRESSEN_ASP", "ADRESSEN_LIEF", "REGISTRY",
          "LAND", "ARTIKEL")
# What the import writes (it reads every table of TABLES): table -> privileges, for check
# (tests/unit/test_grants.py keeps it true).
WRITES: dict[str, tuple[str, ...]] = {
    "JOURNAL": ("INSERT", "DELETE"),        # DELETE: the rows of a cut-off import
    "JOURNALPOS": ("INSERT", "DELETE"),
    "ADRESSEN": ("INSERT", "UPDATE"),
    "ADRESSEN_ASP": ("INSERT",),
    "ADRESSEN_LIEF": ("INSERT",),
    "REGISTRY": ("UPDATE",),                # number ranges
}

DDL = f"""
CREATE TABLE IF NOT EXISTS {IMPORT_TABLE} (
  shop VARCHAR(40) CHARACTER SET ascii NOT NULL,
  order_id INT NOT NULL,
  state VARCHAR(10) CHARACTER SET ascii NOT NULL,
  vrenum VARCHAR(20) NULL,
  journal_id INT NULL,
  addr_id INT NULL,
  event_id CHAR(36) CHARACTER SET ascii NULL,
  notes TEXT NULL,
  started_at DATETIME(6) NOT NULL,
  completed_at DATETIME(6) NULL,
  PRIMARY KEY (shop, order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
TABLE = OwnTable(IMPORT_TABLE, DDL)


@dataclass(frozen=True)
class ImportNotes:
    """Imported orders of one shop that carry notes (free-text positions, fitted text,
    a variant without its own article, a total that differs): the operator should look."""

    orders: int
    newest: list[tuple[int, str | None, str]]      # (shop order id, CAO number, notes)


def read_import_notes(conn: Connection, shop: str, *, newest: int = 3) -> ImportNotes:
    """The notes of ``shop``'s imports in this CAO database (read-only; none before the
    first import)."""
    if not has_table(conn, IMPORT_TABLE):
        return ImportNotes(0, [])
    count = conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM {IMPORT_TABLE} WHERE shop = %s AND state = 'complete' "
        "AND notes IS NOT NULL", (shop,)).scalar()
    rows = conn.exec_driver_sql(
        f"SELECT order_id, vrenum, notes FROM {IMPORT_TABLE} WHERE shop = %s "
        "AND state = 'complete' AND notes IS NOT NULL ORDER BY completed_at DESC LIMIT %s",
        (shop, newest)).all()
    return ImportNotes(int(count or 0), [(int(o), v, n) for o, v, n in rows])


@dataclass(eq=False)
class Planned:
    """One order of a batch: what it becomes in CAO, filled in as the import goes."""

    event: Event
    shop: ShopConfig
    cao_shop_id: int
    order_id: int
    document: Document
    payment: int
    shipping: int
    land: str
    delivery_land: str
    fit: Fitter
    index: int = 0                          # in the batch
    vrenum: str = ""                        # drawn, or of the cut-off import
    cut_off: list[int] | None = None        # JOURNAL rows a cut-off import left
    customer: Customer | None = None
    journal_id: int = 0


class CaoOrderApplier:
    """Applies order.placed events of one tenant to its CAO database."""

    def __init__(self, *, tenant: TenantConfig, engine: sa.Engine | None = None) -> None:
        self.tenant = tenant
        self.engine = engine or create_engine(tenant.erp.db)
        self.what = f"CAO database of tenant {tenant.name!r} ({tenant.erp.db.safe})"
        self.t: dict[str, str] = {}
        self.lengths: dict[str, int] = {}
        self.rates: dict[int, Decimal] = {}
        self.lands: set[str] = set()

    def prepare(self) -> None:
        with translated(self.what), self.engine.begin() as conn:
            resolved, missing = resolve(TableNames.read(conn), TABLES, self.tenant.erp)
            if missing:
                raise ConfigError(f"{self.what}: table(s) {', '.join(missing)} not found")
            self.t = {k: quote_ident(v) for k, v in resolved.items()}
            for logical, real in resolved.items():
                rows = conn.exec_driver_sql(
                    "SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (real,))
                for column, length in rows:
                    if length is not None and length < 65535:
                        self.lengths[f"{logical}.{column.upper()}"] = int(length)
            ensure(conn, TABLE)
            self.rates = vat_rates(conn, self.t["REGISTRY"])
            self.lands = {str(r[0]) for r in conn.exec_driver_sql(
                f"SELECT ID FROM {self.t['LAND']}")}

    def close(self) -> None:
        self.engine.dispose()

    def last_applied(self) -> tuple[str, datetime] | None:
        with translated(self.what), self.engine.connect() as conn:
            if not has_table(conn, IMPORT_TABLE):
                return None
            row = conn.exec_driver_sql(
                f"SELECT shop, order_id, vrenum, completed_at FROM {IMPORT_TABLE} "
                f"WHERE completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT 1").first()
        if row is None:
            return None
        return f"order {row[0]}:{row[1]} (CAO number {row[2]})", row[3]

    def ping(self) -> None:
        with translated(self.what), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        """The ERP side keeps no history (B4 is the shops'): the import table and the
        dead letters say what became of an order."""

    def superseded(self, events: Sequence[Event]) -> list[str]:
        """Orders whose import is complete (a replay would find them "already imported");
        accounts are judged by the importer's own rules when they arrive."""
        orders = [((str(e.payload.get("shop")), int(e.payload.get("order_id") or 0)), e.event_id)
                  for e in events if e.type == "order.placed"]
        if not orders:
            return []
        with translated(self.what), self.engine.connect() as conn:
            if not has_table(conn, IMPORT_TABLE):
                return []
            done: set[tuple[str, int]] = set()
            for shop in {shop for (shop, _), _ in orders}:
                ids = sorted({order_id for (s, order_id), _ in orders if s == shop})
                done |= {(shop, int(r[0])) for r in conn.exec_driver_sql(
                    f"SELECT order_id FROM {IMPORT_TABLE} WHERE state = 'complete' AND "
                    f"shop = %s AND order_id IN ({marks(ids)})", (shop, *ids))}
        return [event_id for key, event_id in orders if key in done]

    # -- applying --------------------------------------------------------------------------

    def apply(self, events: Sequence[Event]) -> ApplyResult:
        if not self.t:
            self.prepare()
        result = ApplyResult()
        # Every order is checked before the first is written: a refused one fails the call
        # with nothing of it in CAO (the consumer then applies the batch in halves).
        plans = {id(p.event): p for p in self.plan_orders(
            [e for e in events if e.type == "order.placed"])}
        orders: list[Planned] = []
        # Consecutive orders are imported together; an account event in between keeps its
        # place (its customer may be the one a later order finds).
        for event in [*events, None]:
            if event is not None and event.type == "order.placed":
                orders.append(plans[id(event)])
                continue
            # Invoice numbers (QUELLE 3) must have no gaps: a crash between drawing a batch's
            # numbers (REGISTRY, MyISAM) and recording them would lose up to a batch of
            # them, so invoices are drawn one order at a time (review).
            size = 1 if any(p.shop.orders.quelle == INVOICE for p in orders) else ORDER_BATCH
            for start in range(0, len(orders), size):
                chunk = orders[start:start + size]
                for plan, note in zip(chunk, self.import_orders(chunk), strict=True):
                    result.count(plan.event, note)
            orders = []
            if event is None:
                break
            if event.type == "customer.registered":
                with translated(self.what), self.engine.connect() as conn:
                    note = register_customer(self, conn, event)
            else:
                note = "not for the ERP (ignored)"
            result.count(event, note)
        return result

    def idle(self) -> None:
        """No time-driven work on the ERP side (the ``Applier`` protocol's hook)."""

    # -- what registering a customer uses too (registrations.CustomerTarget) --------------

    def tables(self) -> Mapping[str, str]:
        """Logical CAO table -> quoted real name, read on first use."""
        if not self.t:
            self.prepare()
        return self.t

    def fitter(self) -> Fitter:
        """A fresh fitter for this CAO database's column lengths (collects its notes)."""
        return Fitter(self.lengths)

    def customers(self) -> Customers:
        """Finds or creates CAO customers, drawing their numbers from this database."""
        return Customers(t=self.t, numbers=NumberRanges(self.t))

    @contextmanager
    def customer_lock(self, conn: Connection, email: str, what: str) -> Iterator[None]:
        """Hold the lock of one customer e-mail address (GET_LOCK) on ``conn``.

        Two orders of one (guest) customer, or an account and its orders, in two consumers
        must not create two addresses.

        Raises:
            TargetLocked: another consumer holds it (retry later).
        """
        key = f"customer:{email.strip().lower()}"
        self._lock(conn, key, what)
        try:
            yield
        finally:
            self._unlock(conn, key)

    def shop_of(self, payload: Mapping[str, Any], what: str) -> ShopConfig:
        """The tenant's shop the payload names.

        Raises:
            MappingError: the tenant has no such shop.
        """
        try:
            return self.tenant.shop(payload["shop"])
        except ConfigError:
            raise MappingError(f"{what}: field payload.shop: shop {payload['shop']!r} is not "
                               f"configured for tenant {self.tenant.name!r}") from None

    def land_of(self, shop: ShopConfig, address: Mapping[str, Any], what: str, field: str
                ) -> str:
        """The CAO country (LAND.ID) of an address: the shop's orders.countries, else the
        ISO code where CAO has it.

        Raises:
            MappingError: neither; ``field`` names the address in the message.
        """
        iso2 = address.get("country_iso2")
        mapped = shop.orders.countries.get(iso2 or "")
        if mapped:
            return mapped
        if iso2 and iso2 in self.lands:
            return iso2
        raise MappingError(f"{what}: field payload.addresses.{field}.country_iso2: country "
                           f"{iso2 or address.get('country')!r} has no CAO country code (add it "
                           f"to the shop's orders.countries)")

    def plan_orders(self, events: Sequence[Event]) -> list[Planned]:
        """What each order becomes in CAO (reads the articles, writes nothing).

        Raises:
            MappingError: an order is refused (the first one): the consumer then applies the
                batch in halves, so the refused order is dead-lettered alone and the others
                are imported.
        """
        plans: list[Planned] = []
        if not events:
            return plans
        with translated(self.what), self.engine.connect() as conn:
            for start in range(0, len(events), ORDER_BATCH):
                chunk = events[start:start + ORDER_BATCH]
                articles, by_sku = self._articles(conn, [e.payload for e in chunk])
                plans += [self._plan(event, articles, by_sku) for event in chunk]
        return plans

    def import_orders(self, plans: Sequence[Planned]) -> list[str | None]:
        """Import a batch of planned orders; per order, why nothing was written, or None.

        Raises:
            TargetLocked: another consumer holds an order's or a customer's lock.
        """
        with translated(self.what), self.engine.connect() as conn:
            keys = sorted({f"order:{p.shop.name}:{p.order_id}" for p in plans})
            keys += sorted({f"customer:{p.event.payload['customer']['email'].strip().lower()}"
                            for p in plans})
            what = str(plans[0].event) if len(plans) == 1 else f"{len(plans)} orders"
            self._lock_all(conn, keys, what, wait=len(plans) == 1)
            try:
                return self._import_locked(conn, plans)
            finally:
                self._unlock_all(conn, keys)
                conn.commit()

    def _plan(self, event: Event, articles: Mapping[int, Article],
              by_sku: Mapping[str, Article]) -> Planned:
        """What one order becomes in CAO, with every mapping resolved (no SQL).

        Raises:
            MappingError: a value of the order has no CAO counterpart.
        """
        payload, what = event.payload, str(event)
        shop = self.shop_of(payload, what)
        cao_shop_id = shop.filter.cao_shop_id
        if cao_shop_id is None:
            raise MappingError(f"{what}: shop {shop.name!r} has no filter.cao_shop_id: CAO "
                               "needs it to tag the order (JOURNAL.SHOP_ID)")
        settings = shop.orders
        payment = settings.payment_methods.get(payload["payment_method"])
        if payment is None:
            raise MappingError(f"{what}: field payload.payment_method: payment method "
                               f"{payload['payment_method']!r} has no entry in shop "
                               f"{shop.name!r} orders.payment_methods")
        shipping_title = payload.get("shipping_method")
        shipping = -1
        if shipping_title:
            mapped = settings.shipping_methods.get(shipping_title)
            if mapped is None:
                raise MappingError(f"{what}: field payload.shipping_method: shipping method "
                                   f"{shipping_title!r} has no entry in shop {shop.name!r} "
                                   "orders.shipping_methods")
            shipping = mapped
        land = self.land_of(shop, payload["addresses"]["billing"], what, "billing")
        delivery_land = self.land_of(shop, payload["addresses"]["delivery"], what, "delivery")
        document = build(payload, rates=self.rates, settings=settings, what=what,
                         articles=articles, by_sku=by_sku)
        return Planned(event=event, shop=shop, cao_shop_id=cao_shop_id,
                       order_id=int(payload["order_id"]), document=document, payment=payment,
                       shipping=shipping, land=land, delivery_land=delivery_land,
                       fit=self.fitter())

    def _articles(self, conn: Connection, payloads: Sequence[Mapping[str, Any]]
                  ) -> tuple[dict[int, Article], dict[str, Article]]:
        """The CAO articles the orders' lines book (by REC_ID), and those found by the SKU of
        lines without an ERP link (by ARTNUM, where exactly one article has it)."""
        ids: set[int] = set()
        skus: set[str] = set()
        for payload in payloads:
            more_ids, more_skus = required_articles(payload)
            ids |= more_ids
            skus |= more_skus
        columns = "REC_ID, ARTNUM, ARTIKELTYP"
        articles: dict[int, Article] = {}
        if ids:
            for rec_id, artnum, typ in conn.exec_driver_sql(
                    f"SELECT {columns} FROM {self.t['ARTIKEL']} WHERE REC_ID IN "
                    f"({marks(ids)})", tuple(sorted(ids))):
                articles[int(rec_id)] = Article(int(rec_id), artnum, typ or "N")
        by_sku: dict[str, Article] = {}
        if skus:
            found: dict[str, list[Article]] = {}
            for rec_id, artnum, typ in conn.exec_driver_sql(
                    f"SELECT {columns} FROM {self.t['ARTIKEL']} WHERE ARTNUM IN "
                    f"({marks(skus)})", tuple(sorted(skus))):
                found.setdefault(artnum, []).append(Article(int(rec_id), artnum, typ or "N"))
            by_sku = {sku: hits[0] for sku, hits in found.items() if len(hits) == 1}
        return articles, by_sku

    def _lock_name(self, key: str) -> str:
        # GET_LOCK names are server-wide and at most 64 characters.
        digest = hashlib.sha1(f"{self.engine.url.database}:{key}".encode(),
                              usedforsecurity=False).hexdigest()
        return f"shopbridge:{digest}"

    def _lock(self, conn: Connection, key: str, what: str) -> None:
        got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)",
                                   (self._lock_name(key), LOCK_WAIT_S)).scalar()
        if got != 1:
            raise TargetLocked(f"{what}: another consumer is importing it", delay_s=2,
                               counts_as_attempt=False)

    def _unlock(self, conn: Connection, key: str) -> None:
        conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (self._lock_name(key),))

    def _lock_all(self, conn: Connection, keys: Sequence[str], what: str, *,
                  wait: bool) -> None:
        """Take every lock of a batch in one statement (orders first, then customers, each
        sorted: the order in which a single import takes them too); all or none.

        Args:
            wait: wait up to LOCK_WAIT_S for each busy lock (one order: at most two). A
                batch does not wait: its statement could wait that long for every lock, so
                it gives up at once (``TargetLocked``), and the consumer applies its orders
                one by one (``apply_in_halves`` does not halve for a lock).
        Raises:
            TargetLocked: one is held elsewhere.
        """
        calls = ", ".join(["GET_LOCK(%s, %s)"] * len(keys))
        params: list[Any] = []
        for key in keys:
            params += [self._lock_name(key), LOCK_WAIT_S if wait else 0]
        got = conn.exec_driver_sql(f"SELECT {calls}", tuple(params)).one()
        if all(g == 1 for g in got):
            return
        self._unlock_all(conn, [k for k, g in zip(keys, got, strict=True) if g == 1])
        raise TargetLocked(f"{what}: another consumer is importing it", delay_s=2,
                           counts_as_attempt=False)

    def _unlock_all(self, conn: Connection, keys: Sequence[str]) -> None:
        if keys:
            conn.exec_driver_sql(f"SELECT {', '.join(['RELEASE_LOCK(%s)'] * len(keys))}",
                                 tuple(self._lock_name(k) for k in keys))

    def _import_locked(self, conn: Connection, plans: Sequence[Planned]) -> list[str | None]:
        """The batch's orders, their locks held: skip what is imported, complete what was
        cut off, write the rest together."""
        notes: dict[int, str | None] = {}
        states = self._states(conn, plans)
        existing = self._existing(conn, plans)
        owners = self._owners(conn, [j for js in existing.values() for j in js])
        seen: set[tuple[str, int]] = set()
        in_cao: dict[tuple[int, int], str] = {}
        todo: list[Planned] = []
        for index, plan in enumerate(plans):
            key = (plan.shop.name, plan.order_id)
            state = states.get(key)
            journals = existing.get((plan.cao_shop_id, plan.order_id), [])
            # CAO tells orders apart by SHOP_ID and SHOP_ORDERID only: another shop's order
            # under the same cao_shop_id must be neither skipped nor "repaired" (deleted).
            other = in_cao.setdefault((plan.cao_shop_id, plan.order_id), plan.shop.name)
            taken = sorted({owners[j] for j in journals
                            if owners.get(j) not in (None, plan.shop.name)})
            if key not in seen and (other != plan.shop.name or taken):
                raise MappingError(
                    f"{plan.event}: field payload.order_id: order {plan.order_id} of shop "
                    f"{plan.shop.name!r} and the same order id of shop "
                    f"{(taken or [other])[0]!r} share CAO's SHOP_ID {plan.cao_shop_id} "
                    f"(filter.cao_shop_id): CAO tells orders apart by SHOP_ID and "
                    f"SHOP_ORDERID only; give each shop that imports orders its own "
                    f"cao_shop_id, then replay this letter")
            if key in seen:
                notes[index] = "already imported (twice in one batch)"
            elif state is not None and state[0] == "complete":
                notes[index] = f"already imported (JOURNAL {state[2]}, number {state[1]})"
            elif state is None and journals:
                notes[index] = (f"already in CAO (JOURNAL {journals[0]}), imported by "
                                "something else")
            else:
                todo.append(plan)
                plan.index = index
                if state is not None:
                    plan.vrenum = str(state[1])
                    plan.cut_off = journals
            seen.add(key)
        if todo:
            self._start(conn, [p for p in todo if not p.vrenum])
            self._repair(conn, [p for p in todo if p.cut_off is not None])
            self._find_customers(conn, todo)
            self._write_headers(conn, todo)
            self._write_positions(conn, todo)
            self._complete(conn, todo)
        for plan in todo:
            notes[plan.index] = None
            for note in plan.document.notes + plan.fit.notes:
                log.warning("%s imported with a change: %s", plan.event, note)
        return [notes[i] for i in range(len(plans))]

    def _states(self, conn: Connection, plans: Sequence[Planned]
                ) -> dict[tuple[str, int], tuple[str, str | None, int | None]]:
        """(shop, order id) -> (state, number, journal) of our import rows."""
        out = {}
        for shop in sorted({p.shop.name for p in plans}):
            ids = sorted({p.order_id for p in plans if p.shop.name == shop})
            for order_id, state, vrenum, journal_id in conn.exec_driver_sql(
                    f"SELECT order_id, state, vrenum, journal_id FROM {IMPORT_TABLE} "
                    f"WHERE shop = %s AND order_id IN ({marks(ids)})", (shop, *ids)):
                out[(shop, int(order_id))] = (str(state), vrenum, journal_id)
        return out

    def _owners(self, conn: Connection, journal_ids: Sequence[int]) -> dict[int, str]:
        """JOURNAL REC_ID -> the shop whose finished import wrote it."""
        if not journal_ids:
            return {}
        ids = sorted(set(journal_ids))
        return {int(j): str(shop) for shop, j in conn.exec_driver_sql(
            f"SELECT shop, journal_id FROM {IMPORT_TABLE} WHERE journal_id IN ({marks(ids)})",
            tuple(ids))}

    def _existing(self, conn: Connection, plans: Sequence[Planned]
                  ) -> dict[tuple[int, int], list[int]]:
        """(SHOP_ID, SHOP_ORDERID) -> JOURNAL rows already there: one statement per shop
        for the batch (without the erp-indexes index each is a scan of JOURNAL)."""
        out: dict[tuple[int, int], list[int]] = {}
        for shop_id in sorted({p.cao_shop_id for p in plans}):
            ids = sorted({p.order_id for p in plans if p.cao_shop_id == shop_id})
            for order_id, rec_id in conn.exec_driver_sql(
                    f"SELECT SHOP_ORDERID, REC_ID FROM {self.t['JOURNAL']} WHERE SHOP_ID = %s "
                    f"AND SHOP_ORDERID IN ({marks(ids)}) ORDER BY REC_ID", (shop_id, *ids)):
                out.setdefault((shop_id, int(order_id)), []).append(int(rec_id))
        return out

    def _start(self, conn: Connection, plans: Sequence[Planned]) -> None:
        """Draw the new orders' numbers (one reservation per number range) and record them
        'started', committed before the first CAO row."""
        if not plans:
            return
        numbers = NumberRanges(self.t)
        for key in sorted({number_range(p.shop.orders.quelle) for p in plans}):
            group = [p for p in plans if number_range(p.shop.orders.quelle) == key]
            for plan, vrenum in zip(group, numbers.many_formatted(
                    conn, key, len(group), "sales document"), strict=True):
                plan.vrenum = vrenum
        now = utc_now()
        conn.exec_driver_sql(
            f"INSERT INTO {IMPORT_TABLE} (shop, order_id, state, vrenum, event_id, "
            f"started_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(p.shop.name, p.order_id, "started", p.vrenum, p.event.event_id, now)
             for p in plans])
        conn.commit()

    def _repair(self, conn: Connection, plans: Sequence[Planned]) -> None:
        """Orders cut off half way: remove what they left; they are written again under the
        number they drew."""
        for plan in plans:
            log.warning("%s: completing an import that was cut off (number %s)", plan.event,
                        plan.vrenum)
        journal_ids = [j for p in plans for j in p.cut_off or []]
        delete_in(conn, self.t["JOURNALPOS"], "JOURNAL_ID", journal_ids)
        delete_in(conn, self.t["JOURNAL"], "REC_ID", journal_ids)

    def _find_customers(self, conn: Connection, plans: Sequence[Planned]) -> None:
        """Each order's customer, in the batch's order: a later order of the same customer
        finds the address an earlier one created or updated."""
        payloads = [p.event.payload for p in plans]
        shop_ids = [p.cao_shop_id for p in plans]
        known = Known.read(conn, self.t, payloads, shop_ids)
        customers = self.customers()
        if known is not None:
            customers.reserve(conn, known, payloads, shop_ids)
        for plan in plans:
            plan.customer = customers.find_or_create(
                conn, plan.event.payload, cao_shop_id=plan.cao_shop_id, land=plan.land,
                delivery_land=plan.delivery_land, price_level=plan.shop.price_level,
                fit=plan.fit, known=known)
        if known is not None and known.kunnums:
            log.warning("customer numbers %s reserved but not used (a gap in the range)",
                        ", ".join(known.kunnums))

    def _write_headers(self, conn: Connection, plans: Sequence[Planned]) -> None:
        """The JOURNAL rows of the batch, in multi-row INSERTs; each plan learns its REC_ID
        by its (SHOP_ID, SHOP_ORDERID) among the rows from the first new REC_ID on (no
        assumption about how the server hands out ids)."""
        rows = [self._header(plan) for plan in plans]
        columns = list(rows[0])
        first: int | None = None
        for start in range(0, len(rows), HEADER_ROWS):
            chunk = rows[start:start + HEADER_ROWS]
            one = f"({marks(columns)})"
            result = conn.exec_driver_sql(
                f"INSERT INTO {self.t['JOURNAL']} ({', '.join(columns)}) VALUES "
                f"{', '.join([one] * len(chunk))}",
                tuple(v for row in chunk for v in row.values()))
            first = int(result.lastrowid) if first is None else first
        for shop_id in sorted({p.cao_shop_id for p in plans}):
            group = {p.order_id: p for p in plans if p.cao_shop_id == shop_id}
            for rec_id, order_id in conn.exec_driver_sql(
                    f"SELECT REC_ID, SHOP_ORDERID FROM {self.t['JOURNAL']} WHERE REC_ID >= %s "
                    f"AND SHOP_ID = %s AND SHOP_ORDERID IN ({marks(group)}) ORDER BY REC_ID",
                    (first, shop_id, *sorted(group))):
                plan = group[int(order_id)]
                plan.journal_id = plan.journal_id or int(rec_id)
        lost = [str(p.event) for p in plans if not p.journal_id]
        if lost:    # a row deleted under our lock (two shops' ids are refused before)
            raise TransientDatabaseError(
                f"{self.what}: JOURNAL rows just written are gone: {', '.join(lost)}")

    def _header(self, plan: Planned) -> dict[str, Any]:
        payload, document, fit, shop = plan.event.payload, plan.document, plan.fit, plan.shop
        customer = plan.customer
        assert customer is not None
        quelle, vrenum, price_level = shop.orders.quelle, plan.vrenum, shop.price_level
        payment, shipping, land = plan.payment, plan.shipping, plan.land
        cao_shop_id = plan.cao_shop_id
        billing = payload["addresses"]["billing"]
        company = billing.get("company")
        placed = datetime.fromisoformat(payload["placed_at"][:19])
        values: dict[str, Any] = {
            "QUELLE": quelle, "QUELLE_SUB": 0, "ADDR_ID": customer.addr_id,
            "ASP_ID": customer.asp_id, "LIEF_ADDR_ID": customer.lief_addr_id,
            "ATRNUM": "-1", "VRENUM": vrenum, "VLSNUM": "-1",
            "ADATUM": placed.date(), "RDATUM": utc_now().replace(microsecond=0),
            "PR_EBENE": price_level, "LIEFART": shipping, "ZAHLART": payment,
            "WARE": document.goods_net, "TKOST": document.shipping_net,
            "NSUMME": document.net, "MSUMME": document.vat, "BSUMME": document.gross,
            "WAEHRUNG": fit("JOURNAL.WAEHRUNG", payload.get("currency") or ""),
            "KURS": Decimal(payload.get("currency_value") or "1"),
            "GEGENKONTO": customer.deb_num if customer.deb_num is not None else -1,
            "STADIUM": 0, "ERSTELLT": date.today(), "ERST_NAME": "shopbridge",
            "KUN_NUM": customer.kunnum,
            "KUN_ANREDE": "Firma" if company else None,
            "KUN_NAME1": fit("JOURNAL.KUN_NAME1", company or billing["name"],
                             label="billing name"),
            "KUN_NAME2": fit("JOURNAL.KUN_NAME2", billing["name"] if company else None),
            "KUN_STRASSE": fit("JOURNAL.KUN_STRASSE", billing["street"],
                               label="billing street"),
            "KUN_LAND": land,
            "KUN_PLZ": fit("JOURNAL.KUN_PLZ", billing["postcode"]),
            "KUN_ORT": fit("JOURNAL.KUN_ORT", billing["city"], label="billing city"),
            "PROJEKT": "Shop-Bestellung",
            # The number the customer knows the order by (VirtueMart's order_number), else
            # the shop's id (osCommerce shows that).
            "ORGNUM": fit("JOURNAL.ORGNUM",
                          payload.get("order_number") or str(payload["order_id"])),
            "BEST_NAME": fit("JOURNAL.BEST_NAME", billing["name"]),
            "BEST_DATUM": placed.date(),
            "INFO": fit("JOURNAL.INFO", payload.get("comment") or None, label="comment"),
            "BRUTTO_FLAG": "Y" if document.gross_prices else "N", "MWST_FREI_FLAG": "N",
            "SHOP_ID": cao_shop_id, "SHOP_ORDERID": int(payload["order_id"]),
            # The status the shop shows once CAO has the order (O2); CAO's status scan
            # carries it back to the shop like any later status change (O4).
            "SHOP_STATUS": max(0, min(255, int(shop.orders.imported_status
                                               or payload.get("status_id") or 0))),
            "SHOP_CHANGE_FLAG": "N",
        }
        for code in range(4):
            net, vat, gross = document.by_code.get(code, (Decimal(0), Decimal(0), Decimal(0)))
            values[f"MWST_{code}"] = self.rates.get(code, Decimal(0))
            values[f"NSUMME_{code}"] = net
            values[f"MSUMME_{code}"] = vat
            values[f"BSUMME_{code}"] = gross
        return values

    def _write_positions(self, conn: Connection, plans: Sequence[Planned]) -> None:
        rows = []
        for plan in plans:
            document, fit = plan.document, plan.fit
            assert plan.customer is not None
            brutto = "Y" if document.gross_prices else "N"
            for number, position in enumerate(document.positions, start=1):
                rows.append((
                    plan.shop.orders.quelle, 0, plan.journal_id, position.typ,
                    position.artikel_id, plan.customer.addr_id, plan.vrenum, number,
                    str(number),
                    fit("JOURNALPOS.ARTNUM", position.artnum, label=f"position {number} SKU"),
                    fit("JOURNALPOS.BEZEICHNUNG", position.text), position.quantity,
                    position.unit_price, position.total, position.tax_code, brutto, "N"))
        conn.exec_driver_sql(
            f"INSERT INTO {self.t['JOURNALPOS']} (QUELLE, QUELLE_SUB, JOURNAL_ID, ARTIKELTYP, "
            f"ARTIKEL_ID, ADDR_ID, VRENUM, POSITION, VIEW_POS, ARTNUM, BEZEICHNUNG, MENGE, "
            f"EPREIS, GPREIS, STEUER_CODE, BRUTTO_FLAG, GEBUCHT) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)

    def _complete(self, conn: Connection, plans: Sequence[Planned]) -> None:
        """Mark the batch's orders complete, with their document and customer, in one
        statement (the rows exist: 'started')."""
        now = utc_now()
        conn.exec_driver_sql(
            f"INSERT INTO {IMPORT_TABLE} (shop, order_id, state, journal_id, addr_id, notes, "
            f"started_at, completed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON DUPLICATE KEY UPDATE state = VALUES(state), journal_id = VALUES(journal_id), "
            f"addr_id = VALUES(addr_id), notes = VALUES(notes), "
            f"completed_at = VALUES(completed_at)",
            [(p.shop.name, p.order_id, "complete", p.journal_id,
              p.customer.addr_id if p.customer else None,
              "\n".join(p.document.notes + p.fit.notes) or None, now, now) for p in plans])
        conn.commit()
