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
    has_table,
    marks,
    quote_ident,
    translated,
    utc_now,
)
from shopbridge.errors import ConfigError, MappingError, TargetLocked
from shopbridge.events import Event
from shopbridge.history import HistoryEntry
from shopbridge.owntables import OwnTable, ensure
from systems.cao import NumberRanges, number_range, resolve, vat_rates

from ..applying import ApplyResult
from .customers import Customers
from .documents import Article, Document, build, required_articles
from .registrations import register_customer
from .text import Fitter

log = logging.getLogger(__name__)

IMPORT_TABLE = "shopbridge_order_import"
LOCK_WAIT_S = 5
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
        for event in events:
            if event.type == "order.placed":
                note = self.import_order(event)
            elif event.type == "customer.registered":
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

    def import_order(self, event: Event) -> str | None:
        """Import one order; returns why nothing was written, or None."""
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
        order_id = int(payload["order_id"])
        with translated(self.what), self.engine.connect() as conn:
            articles, by_sku = self._articles(conn, payload)
            # Refused (MappingError) before the lock and the first write: no trace in CAO.
            document = build(payload, rates=self.rates, settings=settings, what=what,
                             articles=articles, by_sku=by_sku)
            self._lock(conn, f"order:{shop.name}:{order_id}", what)
            try:
                return self._import_locked(conn, event, shop, cao_shop_id, order_id, document,
                                           payment=payment, shipping=shipping, land=land,
                                           delivery_land=delivery_land)
            finally:
                self._unlock(conn, f"order:{shop.name}:{order_id}")
                conn.commit()

    def _articles(self, conn: Connection, payload: Mapping[str, Any]
                  ) -> tuple[dict[int, Article], dict[str, Article]]:
        """The CAO articles the order's lines book (by REC_ID), and those found by the SKU of
        lines without an ERP link (by ARTNUM, where exactly one article has it)."""
        ids, skus = required_articles(payload)
        columns = "REC_ID, ARTNUM, ARTIKELTYP"
        articles: dict[int, Article] = {}
        if ids:
            for rec_id, artnum, typ in conn.exec_driver_sql(
                    f"SELECT {columns} FROM {self.t['ARTIKEL']} WHERE REC_ID IN "
                    f"({', '.join(['%s'] * len(ids))})", tuple(sorted(ids))):
                articles[int(rec_id)] = Article(int(rec_id), artnum, typ or "N")
        by_sku: dict[str, Article] = {}
        if skus:
            found: dict[str, list[Article]] = {}
            for rec_id, artnum, typ in conn.exec_driver_sql(
                    f"SELECT {columns} FROM {self.t['ARTIKEL']} WHERE ARTNUM IN "
                    f"({', '.join(['%s'] * len(skus))})", tuple(sorted(skus))):
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

    def _import_locked(self, conn: Connection, event: Event, shop: ShopConfig,
                       cao_shop_id: int, order_id: int, document: Document, *, payment: int,
                       shipping: int, land: str, delivery_land: str) -> str | None:
        payload = event.payload
        row = conn.exec_driver_sql(
            f"SELECT state, vrenum, journal_id FROM {IMPORT_TABLE} WHERE shop = %s AND "
            f"order_id = %s", (shop.name, order_id)).first()
        if row is not None and row[0] == "complete":
            return f"already imported (JOURNAL {row[2]}, number {row[1]})"
        existing = conn.exec_driver_sql(
            f"SELECT REC_ID FROM {self.t['JOURNAL']} WHERE SHOP_ID = %s AND SHOP_ORDERID = %s",
            (cao_shop_id, order_id)).scalars().all()
        if row is None and existing:
            return f"already in CAO (JOURNAL {existing[0]}), imported by something else"
        quelle = shop.orders.quelle
        numbers = NumberRanges(self.t)
        if row is None:
            vrenum = numbers.next_formatted(conn, number_range(quelle), "sales document")
            conn.exec_driver_sql(
                f"INSERT INTO {IMPORT_TABLE} (shop, order_id, state, vrenum, event_id, "
                f"started_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (shop.name, order_id, "started", vrenum, event.event_id, utc_now()))
            conn.commit()
        else:
            vrenum = row[1]
            log.warning("%s: completing an import that was cut off (number %s)", event, vrenum)
            for journal_id in existing:
                conn.exec_driver_sql(f"DELETE FROM {self.t['JOURNALPOS']} WHERE JOURNAL_ID = %s",
                                     (journal_id,))
                conn.exec_driver_sql(f"DELETE FROM {self.t['JOURNAL']} WHERE REC_ID = %s",
                                     (journal_id,))
        fit = self.fitter()
        with self.customer_lock(conn, payload["customer"]["email"], str(event)):
            customer = self.customers().find_or_create(
                conn, payload, cao_shop_id=cao_shop_id, land=land, delivery_land=delivery_land,
                price_level=shop.price_level, fit=fit)
        journal_id = self._write_header(conn, payload, document, fit, shop=shop, quelle=quelle,
                                        vrenum=vrenum, cao_shop_id=cao_shop_id,
                                        customer=customer, payment=payment, shipping=shipping,
                                        land=land, price_level=shop.price_level)
        conn.exec_driver_sql(f"UPDATE {IMPORT_TABLE} SET journal_id = %s, addr_id = %s "
                             f"WHERE shop = %s AND order_id = %s",
                             (journal_id, customer.addr_id, shop.name, order_id))
        conn.commit()
        self._write_positions(conn, document, fit, journal_id=journal_id, quelle=quelle,
                              vrenum=vrenum, addr_id=customer.addr_id)
        notes = document.notes + fit.notes
        conn.exec_driver_sql(
            f"UPDATE {IMPORT_TABLE} SET state = 'complete', completed_at = %s, notes = %s "
            f"WHERE shop = %s AND order_id = %s",
            (utc_now(), "\n".join(notes) or None, shop.name, order_id))
        conn.commit()
        for note in notes:
            log.warning("%s imported with a change: %s", event, note)
        return None

    def _write_header(self, conn: Connection, payload: Mapping[str, Any], document: Document,
                      fit: Fitter, *, shop: ShopConfig, quelle: int, vrenum: str,
                      cao_shop_id: int,
                      customer: Any, payment: int, shipping: int, land: str,
                      price_level: int) -> int:
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
        result = conn.exec_driver_sql(
            f"INSERT INTO {self.t['JOURNAL']} ({', '.join(values)}) "
            f"VALUES ({', '.join(['%s'] * len(values))})", tuple(values.values()))
        return int(result.lastrowid)

    def _write_positions(self, conn: Connection, document: Document, fit: Fitter, *,
                         journal_id: int, quelle: int, vrenum: str, addr_id: int) -> None:
        rows = []
        brutto = "Y" if document.gross_prices else "N"
        for number, position in enumerate(document.positions, start=1):
            rows.append((
                quelle, 0, journal_id, position.typ, position.artikel_id,
                addr_id, vrenum, number, str(number),
                fit("JOURNALPOS.ARTNUM", position.artnum, label=f"position {number} SKU"),
                fit("JOURNALPOS.BEZEICHNUNG", position.text), position.quantity,
                position.unit_price, position.total, position.tax_code, brutto, "N"))
        conn.exec_driver_sql(
            f"INSERT INTO {self.t['JOURNALPOS']} (QUELLE, QUELLE_SUB, JOURNAL_ID, ARTIKELTYP, "
            f"ARTIKEL_ID, ADDR_ID, VRENUM, POSITION, VIEW_POS, ARTNUM, BEZEICHNUNG, MENGE, "
            f"EPREIS, GPREIS, STEUER_CODE, BRUTTO_FLAG, GEBUCHT) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)

