"""Applies catalogue events to an osCommerce (CE Phoenix) shop database.

One call of ``apply`` is one transaction: lock the link rows, skip what is stale, write the
shop rows in bulk, save the links. Versions are kept per aspect: the product state
(product.upserted / product.deleted) and the stock (stock.changed, and the stock inside a
product.upserted), so a stock event can never make a newer text change look stale.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from shopbridge.config import ShopConfig
from shopbridge.db import create_engine, translated
from shopbridge.errors import ConfigError, DependencyMissing
from shopbridge.events import Event

from ..binder import Binder, Link
from ..catalogue import quantity
from ..mailer import Mailer
from ..plan import STOCK, EntityWriter, mark_applied, stale_note
from .adapter import NewProduct, PhoenixAdapter
from .categories import CategoryWriter, filter_keys
from .customers import CustomerWriter
from .images import ProductImages, image_files
from .manufacturers import ManufacturerWriter
from .mapper import ProductRow, map_product
from .specials import SpecialsScheduler
from .statuses import StatusWriter
from .variants import VariantWriter

log = logging.getLogger(__name__)

ENTITY = "product"


@dataclass
class _Plan:
    new: dict[str, NewProduct] = field(default_factory=dict)
    update: dict[str, ProductRow] = field(default_factory=dict)
    hide: set[str] = field(default_factory=set)
    quantities: dict[str, int] = field(default_factory=dict)


@dataclass
class ApplyResult:
    applied: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    # Parts of the ERP's data this shop cannot express, counted per product event (e.g.
    # 'tier prices'); the consumer reports them, `shopbridge check` explains them.
    unsupported: Counter[str] = field(default_factory=Counter)


# What the Phoenix core has no place for (docs/architecture.md, "Tier and group prices").
UNSUPPORTED = {
    "tiers": "tier prices",
}


class PhoenixApplier:
    """Args:
        shop: the shop's configuration.
        engine: optional, for tests that bring their own.
    """

    def __init__(self, *, shop: ShopConfig, engine: sa.Engine | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.shop = shop
        # READ COMMITTED: the link rows are read after they are locked (see Binder.lock), and
        # fewer gap locks mean fewer deadlocks between consumers of one shop.
        self.engine = (engine or create_engine(shop.db)).execution_options(
            isolation_level="READ COMMITTED")
        self.what = f"database of shop {shop.name!r} ({shop.db.safe})"
        self.binder = Binder()
        self.language_ids: dict[str, int] = {}
        self.adapter = PhoenixAdapter(consecutive_ids=True)
        self._manufacturer_ids: dict[str, int] = {}
        self._filter_categories: set[str] | None = None
        self.statuses = StatusWriter(shop=shop, binder=self.binder)
        self.customers = CustomerWriter(shop=shop, binder=self.binder)
        self.manufacturers = ManufacturerWriter(shop=shop, binder=self.binder, language_ids={})
        self.categories = CategoryWriter(shop=shop, binder=self.binder, language_ids={},
                                         source=shop.categories)
        self.specials = SpecialsScheduler(clock)
        self.images = ProductImages(image_files(shop, self.engine))
        self.variants = VariantWriter(binder=self.binder, language_ids={})
        self.mailer = (Mailer(config=shop.mail, engine=self.engine)
                       if shop.mail is not None else None)

    def ensure_tables(self, conn: sa.Connection) -> None:
        """Make sure of the consumer's own tables (``shopbridge setup`` calls this too).

        Raises:
            SetupRequired: one is missing and the database user may not create it.
        """
        self.binder.ensure_table(conn)
        self.specials.ensure_table(conn)
        self.images.ensure_table(conn)
        if self.mailer is not None:
            self.mailer.ensure_table(conn)

    def prepare(self) -> None:
        """Make sure of the own tables and read what the mapping needs from the shop."""
        with translated(self.what), self.engine.begin() as conn:
            self.ensure_tables(conn)
            available = PhoenixAdapter.language_ids(conn)
            missing = [code for code in self.shop.languages if code not in available]
            if missing:
                raise ConfigError(f"shop {self.shop.name!r}: language(s) {', '.join(missing)} "
                                  "not in the shop's languages table")
            self.language_ids = {code: available[code] for code in self.shop.languages}
            self.manufacturers.language_ids = dict(self.language_ids)
            self.categories.language_ids = dict(self.language_ids)
            self.variants.language_ids = dict(self.language_ids)
            mode = PhoenixAdapter.autoinc_lock_mode(conn)
            self.adapter = PhoenixAdapter(consecutive_ids=mode in (0, 1))

    def apply(self, events: Sequence[Event]) -> ApplyResult:
        """Apply coalesced events: the catalogue in one transaction, order statuses in another.

        Raises:
            MappingError: an event cannot be expressed in this shop (the caller isolates it).
            TransientDatabaseError, TargetUnavailable, TargetRejected: from the database.
        """
        if not self.language_ids:
            self.prepare()
        result = ApplyResult()
        statuses = [e for e in events if e.type == "order.status_changed"]
        customers = [e for e in events if e.type == "customer.upserted"]
        manufacturers = [e for e in events if e.entity == "manufacturer"]
        categories = [e for e in events if e.entity == "category"]
        events = [e for e in events if e.entity == "product"]
        # Product state first, then stock, so a stock event in the same batch lands on a
        # product created by it; events of one entity in version order.
        ordered = sorted(events, key=lambda e: (e.aspect != "product", len(e.entity_key),
                                                e.entity_key, e.version))
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        # Manufacturers before products: a product of this batch may name one.
        self._write(self.manufacturers, manufacturers, result, now)
        # Categories before products too, in their own transaction (DependencyMissing there
        # must not undo the manufacturers).
        self._write(self.categories, categories, result, now)
        if ordered:
            self._apply_catalogue(ordered, result, now)
        self._write(self.customers, customers, result, now)
        self._write(self.statuses, statuses, result, now)
        if statuses:
            self.idle()
        return result

    def _write(self, writer: EntityWriter, events: list[Event], result: ApplyResult,
               now: datetime) -> None:
        """Apply one writer's events in a transaction of their own and count the outcome:
        each note is an event that changed nothing."""
        if not events:
            return
        with translated(self.what), self.engine.begin() as conn:
            notes = writer.apply(conn, events, now)
        result.skipped += len(notes)
        result.applied += len(events) - len(notes)
        result.notes += notes

    def _apply_catalogue(self, ordered: list[Event], result: ApplyResult,
                         now: datetime) -> None:
        with translated(self.what), self.engine.begin() as conn:
            links = self.binder.lock(conn, ENTITY, (e.entity_key for e in ordered))
            self._manufacturer_ids = self.binder.targets(
                conn, "manufacturer", {str(e.payload.get("manufacturer_id")) for e in ordered
                                       if e.type == "product.upserted"})
            # Only product states are mapped; stock-only batches (every second) skip the tree.
            self._filter_categories = (
                filter_keys(conn, self.shop.filter.categories)
                if self.shop.filter.categories and any(
                    e.type == "product.upserted" for e in ordered) else None)
            plan = _Plan()
            for event in ordered:
                link = links[event.entity_key]
                note = self._plan(event, link, plan, result)
                if note is None:
                    result.applied += 1
                else:
                    result.skipped += 1
                    result.notes.append(f"{event}: {note}")
            changed = [*((k, n.row) for k, n in plan.new.items()), *plan.update.items()]
            category_ids = self.binder.targets(
                conn, "category", {c for _, row in changed for c in row.category_keys})
            for key, row in changed:
                missing = [c for c in row.category_keys if c not in category_ids]
                if missing:
                    raise DependencyMissing(f"product {key} (SKU {row.model}): category "
                                            f"{', '.join(missing)} is not in the shop yet")
            self._execute(conn, plan, links, now)
            self.adapter.set_categories(conn, {
                links[k].target: [category_ids[c] for c in row.category_keys]
                for k, row in changed})
            windows = {links[k].target: row.specials for k, row in changed}
            self.specials.set_windows(conn, windows)
            self.specials.reconcile(conn, windows)
            # The ERP owns a product's images only where it names some: a CAO without images
            # must not wipe what the shop's admin keeps (docs/architecture.md, "Images").
            copies = self.images.write(conn, {
                links[k].target: (row.model, row.images)
                for k, row in changed if row.images})
            self.variants.apply(conn, {links[k].target: row.variants
                                       for k, row in changed})
            self.binder.save(conn, links.values())
        self.images.copy(copies)                           # files: after the commit

    def idle(self) -> None:
        """Time-driven work: specials that start or end now, status e-mails still waiting,
        image files changed in the ERP. The consumer calls it while idle; batches with order
        statuses call it too."""
        with translated(self.what):
            self.specials.tick(self.engine)
            if self.mailer is not None:
                self.mailer.flush()
            self.images.tick()

    def _plan(self, event: Event, link: Link, plan: _Plan, result: ApplyResult) -> str | None:
        """Decide what ``event`` changes; returns why it changes nothing, or None."""
        if event.type == "stock.changed":
            return self._plan_stock(event, link, plan, event.payload["stock"])
        stale = stale_note(link, event)
        if stale:
            # Each aspect is judged by its own version: a product.upserted older than a
            # delete still carries the newest stock we have heard of.
            if event.type == "product.upserted":
                self._plan_stock(event, link, plan, event.payload["stock"])
            return stale
        key = event.entity_key
        mark_applied(link, event)
        if event.type == "product.deleted":
            link.content_hash, link.shown = None, False
            if plan.new.pop(key, None) is not None:
                return "created and deleted in the same batch: not created"
            if link.target_id is not None:
                plan.hide.add(key)
                return None
            return "not in the shop; remembered as deleted"
        row = map_product(event.payload, shop=self.shop, language_ids=self.language_ids,
                          what=str(event), manufacturer_ids=self._manufacturer_ids,
                          filter_categories=self._filter_categories)
        if row.status:
            result.unsupported.update(name for field_name, name in UNSUPPORTED.items()
                                      if event.payload.get(field_name))
        link.shown = bool(row.status)
        self._plan_stock(event, link, plan, event.payload["stock"])
        if link.target_id is None:
            if row.status == 0:
                return "not in this shop's selection"
            qty = quantity(link.stock or event.payload["stock"], self.shop.stock_mode)
            plan.new[key] = NewProduct(row=row, quantity=qty)
            plan.quantities.pop(key, None)
            link.content_hash = row.content_hash()
            return None
        new_hash = row.content_hash()
        if new_hash == link.content_hash:
            return None if key in plan.quantities else "unchanged in this shop"
        plan.update[key] = row
        link.content_hash = new_hash
        return None

    def _plan_stock(self, event: Event, link: Link, plan: _Plan, stock: str) -> str | None:
        stale = stale_note(link, event, STOCK)
        if stale:
            return stale
        changed = link.stock is None or Decimal(link.stock) != Decimal(stock)
        link.stock_version, link.stock, link.dirty = event.version, stock, True
        if event.type == "stock.changed":
            link.event_id = event.event_id
        qty = quantity(stock, self.shop.stock_mode)
        if event.entity_key in plan.new:
            plan.new[event.entity_key].quantity = qty
        elif link.target_id is not None and changed:
            plan.quantities[event.entity_key] = qty
        elif not changed:
            return "stock unchanged"
        return None

    def _execute(self, conn: sa.Connection, plan: _Plan, links: dict[str, Link],
                 now: datetime) -> None:
        if plan.new:
            new = list(plan.new.values())
            self.adapter.insert_products(conn, new, now)
            for key, item in plan.new.items():
                links[key].target_id = item.products_id
            self.adapter.upsert_descriptions(
                conn, [(links[key].target, item.row) for key, item in plan.new.items()])
        if plan.update:
            rows = [(links[k].target, row,
                     quantity(links[k].stock or "0", self.shop.stock_mode))
                    for k, row in plan.update.items()]
            self.adapter.update_products(conn, rows, now)
            self.adapter.upsert_descriptions(conn, [(pid, row) for pid, row, _ in rows])
        self.adapter.hide(conn, [links[k].target for k in sorted(plan.hide)], now)
        self.adapter.set_quantities(
            conn, [(links[k].target, q) for k, q in sorted(plan.quantities.items())])
        # With STOCK_ALLOW_CHECKOUT 'false' the shop hides a product itself when it sells out
        # (NOTES 2); the ERP owns visibility, so a restocked product it shows comes back.
        self.adapter.show_if_hidden(conn, [
            links[k].target for k, q in sorted(plan.quantities.items())
            if q >= 1 and links[k].shown and k not in plan.update and k not in plan.hide])

    def close(self) -> None:
        self.engine.dispose()
