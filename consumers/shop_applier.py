"""The catalogue core every shop kind applies events with.

What is the same in every shop: the order in which entity types are applied, one transaction
per writer with its tally, and the product batch: lock the link rows, plan per aspect
(consumers/product_plan.py), check that the products' categories are there, write the rows,
their categories, their images (consumers/imageplan.py) and the kind's own aspects, save the
links, then copy image files after the commit. After a batch's transactions committed, the
kind's ``after_commit`` hooks learn which entity types changed (VirtueMart clears its file
caches there). A batch that fails as a whole is applied in
halves, down to the events that fail alone, by the consumer (consumers/runner.py).

A shop kind subclasses ``ShopApplier``: it reads what its mapping needs in ``read_shop`` and
supplies ``ShopWriters``, its writers and table facts (consumers/oscommerce/applier.py).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge import kinds
from shopbridge.config import ShopConfig
from shopbridge.db import create_engine, has_table, quote_escaping, translated
from shopbridge.errors import (
    DependencyMissing,
    ShopbridgeError,
    TargetRejected,
    TargetUnavailable,
    TransientDatabaseError,
)
from shopbridge.events import Event
from shopbridge.history import HistoryEntry

from . import history
from .applying import ApplyResult
from .binder import LINK_TABLE, Binder, Link
from .catalogue import CATEGORY, keys_below, linked_categories
from .imageplan import ImageColumns, ProductImages, image_files
from .plan import EntityWriter, superseded
from .product_plan import MappedProduct, NewProduct, ProductPlan, ProductPlanner

PRODUCT, MANUFACTURER = "product", "manufacturer"     # the link table's entity types
PRUNE_EVERY_S = 600.0        # how often ``idle`` deletes history older than history_days

# Which writer takes which event types; ``ShopApplier.apply`` runs them in this order.
MANUFACTURER_EVENTS = frozenset({"manufacturer.upserted", "manufacturer.deleted"})
CATEGORY_EVENTS = frozenset({"category.upserted", "category.deleted"})
PRODUCT_EVENTS = frozenset({"product.upserted", "product.deleted", "stock.changed"})
CUSTOMER_EVENTS = frozenset({"customer.upserted"})
ORDER_STATUS_EVENTS = frozenset({"order.status_changed"})

RowT = TypeVar("RowT", bound=MappedProduct)
ISOLATION = "READ COMMITTED"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchFacts:
    """What mapping a product batch needs from the shop, read once per batch."""

    manufacturer_ids: Mapping[str, int]          # ERP manufacturer id -> shop id
    # The category keys the selection filter admits (``catalogue.in_selection``); None:
    # the filter names none, or the batch maps no product.
    filter_categories: AbstractSet[str] | None


class ProductStore(Protocol[RowT]):
    """A shop kind's product rows: the SQL that carries out a ``ProductPlan``."""

    def insert(self, conn: Connection, new: Sequence[NewProduct[RowT]], now: datetime) -> None:
        """Insert new products with their texts; sets each ``NewProduct.target_id``."""
        ...

    def update(self, conn: Connection, rows: Sequence[tuple[int, RowT, int]],
               now: datetime, *, unknown: bool = False) -> None:
        """Rewrite existing products: (shop id, row, quantity). The quantity is for a row the
        shop lost (an admin deleted it) and that is written again. ``unknown``: the rows may
        equal what the shop holds (a full sync, an adoption): keep the timestamps where no
        value differs."""
        ...

    def hide(self, conn: Connection, target_ids: Sequence[int], now: datetime) -> None: ...

    def set_quantities(self, conn: Connection, quantities: Sequence[tuple[int, int]]
                       ) -> None: ...

    def show_if_hidden(self, conn: Connection, target_ids: Sequence[int]) -> None:
        """Show these products again where the shop hid them itself (sold out)."""
        ...

    def set_categories(self, conn: Connection, links: Mapping[int, list[int]]) -> None:
        """Make each product's categories exactly these shop category ids."""
        ...

    def category_tree(self, conn: Connection) -> Iterable[tuple[int, int]]:
        """(category id, parent id) of every category in the shop."""
        ...

    def find_by_sku(self, conn: Connection, skus: Sequence[str]) -> Mapping[str, int]:
        """SKU -> shop id of products the shop holds under these SKUs, where exactly one
        product has the SKU (``ShopApplier`` adopts them)."""
        ...


# What only one shop kind writes of a product (Phoenix: specials, variants): called with the
# batch's changed products, shop id -> row, inside the batch's transaction, and the batch's
# time (UTC, naive, whole seconds: every row of a batch carries the same).
ProductAspect = Callable[[Connection, Mapping[int, RowT], datetime], None]
# The stock of variant children that are products of their own (VirtueMart): called with
# parent shop id -> child ERP id -> quantity, after the product aspects made the children.
VariantStock = Callable[[Connection, Mapping[int, Mapping[int, int]]], None]


@dataclass
class ShopWriters(Generic[RowT]):
    """What a shop kind supplies to the core."""

    manufacturers: EntityWriter
    categories: EntityWriter
    customers: EntityWriter
    order_statuses: EntityWriter
    products: ProductStore[RowT]
    # product.upserted -> the kind's row; raises MappingError naming the field.
    map_product: Callable[[Event, BatchFacts], RowT]
    image_columns: ImageColumns
    product_aspects: Sequence[ProductAspect[RowT]] = ()
    # None: the shop keeps no stock per variant child, the master's sum is all (osCommerce).
    variant_stock: VariantStock | None = None
    # Payload field -> what this shop cannot express of it (see ``ProductPlanner``).
    unsupported: Mapping[str, str] = field(default_factory=dict)
    # The kind's own tables (created by ``ensure_tables``) and time-driven work (``idle``).
    own_tables: Sequence[Callable[[Connection], None]] = ()
    idle_work: Sequence[Callable[[], object]] = ()
    # Work outside the database once a batch committed, called with the entity types whose
    # rows changed (MANUFACTURER, CATEGORY, PRODUCT), also when a later writer of the batch
    # failed. A hook must not raise: the rows are committed.
    after_commit: Sequence[Callable[[AbstractSet[str]], None]] = ()


def _named(hook: Callable[..., object]) -> str:
    """An after-commit hook as the dry run names it: "CacheCleaner.after_commit"."""
    return str(getattr(hook, "__qualname__", None) or type(hook).__name__)


def _sku_key(sku: str) -> str:
    """A SKU as a shop's case-insensitive, PAD SPACE collation compares it."""
    return sku.rstrip(" ").casefold()


class ShopApplier(Generic[RowT]):
    """Applies catalogue, customer and order-status events to one shop (an ``Applier``).

    A subclass calls ``__init__`` and then sets ``writers``.

    Args:
        shop: the shop's configuration.
        engine: optional, for tests that bring their own.
    """

    writers: ShopWriters[RowT]
    # Whether none of the kind's SQL relies on a backslash as an escape character: its
    # connections then escape values by doubling quotes (``db.quote_escaping``), which is much
    # cheaper for long texts. A LIKE pattern then names its escape character (ESCAPE '!').
    quote_escaping = False

    def __init__(self, *, shop: ShopConfig, engine: sa.Engine | None = None) -> None:
        self.shop = shop
        # READ COMMITTED: the link rows are read after they are locked (see Binder.lock), and
        # fewer gap locks mean fewer deadlocks between consumers of one shop. Set once per
        # connection where the engine is the applier's own: as an execution option SQLAlchemy
        # sets it at every checkout and resets it at checkin, two statements per transaction.
        if engine is None:
            engine = create_engine(shop.db, isolation_level=ISOLATION)
            if self.quote_escaping:
                quote_escaping(engine)
        else:       # a caller's (``shopbridge setup``, tests): its other users keep theirs
            if self.quote_escaping:
                quote_escaping(engine)
            engine = engine.execution_options(isolation_level=ISOLATION)
        self.engine = engine
        self.what = f"database of shop {shop.name!r} ({shop.db.safe})"
        self.binder = Binder()
        self.files = image_files(shop, self.engine)
        self._prepared = False
        self._pruned_at: float | None = None     # monotonic; None: not yet in this process
        self._recorder = history.Recorder(self._record_now)
        # Set by a dry run (consumers/dryrun.py): work outside the database (file copies,
        # cache clearing, e-mails) is described here instead of done.
        self.dry_outside: list[str] | None = None

    @cached_property
    def images(self) -> ProductImages:
        """The image plan over the kind's image columns and the shop's file transfer."""
        return ProductImages(self.writers.image_columns, self.files)

    def read_shop(self, conn: Connection) -> None:
        """Read what the mapping needs from the shop (a kind overrides it).

        Raises:
            ConfigError: the shop lacks what the configuration names.
        """

    # -- the Applier protocol ------------------------------------------------------------

    def ensure_tables(self, conn: Connection) -> None:
        """Make sure of the consumer's own tables (``shopbridge setup`` calls this too).

        Raises:
            SetupRequired: one is missing and the database user may not create it.
        """
        self.binder.ensure_table(conn)
        history.ensure_table(conn)
        for ensure in self.writers.own_tables:
            ensure(conn)
        self.images.ensure_table(conn)

    def prepare(self) -> None:
        """Make sure of the own tables and read what the mapping needs from the shop."""
        with translated(self.what), self.engine.begin() as conn:
            self.ensure_tables(conn)
            self.read_shop(conn)
        self._prepared = True

    def last_applied(self) -> tuple[str, datetime] | None:
        with translated(self.what), self.engine.connect() as conn:
            if not has_table(conn, LINK_TABLE):
                return None
            row = conn.exec_driver_sql(
                f"SELECT entity_type, entity_key, event_id, applied_at FROM {LINK_TABLE} "
                f"WHERE applied_at IS NOT NULL ORDER BY applied_at DESC LIMIT 1").first()
        if row is None:
            return None
        return f"{row[0]} {row[1]} (event {row[2]})", row[3]

    def ping(self) -> None:
        with translated(self.what), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def superseded(self, events: Sequence[Event]) -> list[str]:
        with translated(self.what), self.engine.connect() as conn:
            if not has_table(conn, LINK_TABLE):
                return []   # nothing applied yet
            return superseded(conn, self.binder, events)

    def apply(self, events: Sequence[Event]) -> ApplyResult:
        """Apply coalesced events, each entity type in a transaction of its own.

        Raises:
            DependencyMissing: a product's category or a category's parent is not there yet.
            MappingError: an event cannot be expressed in this shop (the caller isolates it).
            TransientDatabaseError, TargetUnavailable, TargetRejected: from the database.
        """
        if not self._prepared:
            self.prepare()
        result = ApplyResult()
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        w = self.writers

        def of(types: frozenset[str]) -> list[Event]:
            return [e for e in events if e.type in types]

        changed: set[str] = set()
        try:
            # Manufacturers and categories before products: a product of this batch may name
            # them. Categories in a transaction of their own: DependencyMissing there must
            # not undo the manufacturers.
            if self._write(w.manufacturers, of(MANUFACTURER_EVENTS), result, now):
                changed.add(MANUFACTURER)
            if self._write(w.categories, of(CATEGORY_EVENTS), result, now):
                changed.add(CATEGORY)
            products = of(PRODUCT_EVENTS)
            if products and self._apply_products(products, result, now):
                changed.add(PRODUCT)
        finally:
            if changed:
                for hook in w.after_commit:
                    self._outside(f"run {_named(hook)} ({', '.join(sorted(changed))} changed)",
                                  functools.partial(hook, changed))
        self._write(w.customers, of(CUSTOMER_EVENTS), result, now)
        statuses = of(ORDER_STATUS_EVENTS)
        self._write(w.order_statuses, statuses, result, now)
        if statuses:
            # The status e-mails go out now, not at the next idle hook.
            self._outside("run the time-driven work now (the status e-mails queued in "
                          "shopbridge_mail_outbox, where mail is configured)", self.idle)
        return result

    def _outside(self, what: str, work: Callable[[], object]) -> None:
        """Work outside the database: done, or in a dry run described."""
        if self.dry_outside is None:
            work()
        else:
            self.dry_outside.append(what)

    def idle(self) -> None:
        """Time-driven work: the kind's own (specials, status e-mails), then image files
        changed in the ERP. The consumer calls it every few seconds; batches with order
        statuses call it too."""
        with translated(self.what):
            for work in self.writers.idle_work:
                work()
            self.images.tick()
            self._prune_history()

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Keep the batch's outcomes in ``shopbridge_history``, one INSERT in a transaction
        of its own (nothing with ``history_days = 0``), written on the recorder's thread
        (``close`` writes what waits). A database error is a warning: the batch is applied,
        and its history is worth less than its retry."""
        if not entries or self.shop.history_days <= 0:
            return
        self._recorder.put(list(entries))

    def _record_now(self, entries: Sequence[HistoryEntry]) -> None:
        try:
            with translated(self.what), self.engine.begin() as conn:
                history.record(conn, entries)
        except ShopbridgeError as err:
            log.warning("history of %d event(s) not recorded: %s", len(entries), err)

    def _prune_history(self) -> None:
        """Delete history older than ``history_days``, at most every ``PRUNE_EVERY_S``
        (the idle hook runs every few seconds; a DELETE by age that often is waste), on the
        recorder's thread."""
        if self._pruned_at is not None and \
                time.monotonic() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        self._recorder.later(self._prune_now)       # after the entries recorded before

    def _prune_now(self) -> None:
        try:
            with translated(self.what), self.engine.connect() as conn:
                if has_table(conn, history.HISTORY_TABLE):
                    conn.commit()   # has_table began a transaction (autobegin); each chunk commits
                    history.prune(conn, self.shop.history_days)
        except ShopbridgeError as err:
            log.warning("old history not pruned: %s", err)

    def close(self) -> None:
        self._recorder.close()
        self.engine.dispose()

    # -- one batch -----------------------------------------------------------------------

    def _write(self, writer: EntityWriter, events: list[Event], result: ApplyResult,
               now: datetime) -> bool:
        """Apply one writer's events in a transaction of their own and count the outcome.

        Returns:
            whether an event was applied (not every one skipped).
        """
        if not events:
            return False
        with translated(self.what), self.engine.begin() as conn:
            notes = writer.apply(conn, events, now)
        result.count_batch(events, notes)
        return len(notes) < len(events)

    @cached_property
    def _resync_stock(self) -> bool:
        """A full sync rewrites the quantity where the shop's holds no unbooked checkout
        decrements: its open orders counted apart (VirtueMart) or guarded (B3)."""
        return self.shop.oversell.enabled or bool(
            kinds.shop_sink(self.shop.kind).open_orders_deducted())

    def _apply_products(self, events: list[Event], result: ApplyResult,
                        now: datetime) -> bool:
        """Returns: whether product rows were written or hidden (stock alone is not)."""
        # Product state first, then stock, so a stock event in the same batch lands on a
        # product created by it; events of one entity in version order.
        ordered = sorted(events, key=lambda e: (e.aspect != "product", len(e.entity_key),
                                                e.entity_key, e.version))
        links: dict[str, Link] = {}
        tally = ApplyResult()
        try:
            changed = self._write_products(ordered, tally, now, links)
        except TargetUnavailable:
            raise
        except (TargetRejected, TransientDatabaseError) as err:
            # A duplicate key (the link's, or a shop table's such as VirtueMart's slug), or a
            # deadlock with the consumer that won.
            raced = self._raced(links)
            if not raced:
                raise
            # Rolled back whole; the keys are linked now, so this time every key is locked.
            log.info("%s: product %s linked by another consumer meanwhile (%s): the batch "
                     "again", self.what, ", ".join(raced[:5]), err)
            tally = ApplyResult()
            changed = self._write_products(ordered, tally, now, {})
        result.add(tally)
        return changed

    def _raced(self, links: Mapping[str, Link]) -> list[str]:
        """The keys of a batch's optimistic links that another consumer linked since."""
        if not any(link.unheld for link in links.values()):
            return []
        with translated(self.what), self.engine.connect() as conn:
            return self.binder.raced(conn, links.values())

    def _write_products(self, ordered: list[Event], result: ApplyResult, now: datetime,
                        links: dict[str, Link]) -> bool:
        """``_apply_products`` in one transaction; ``links`` receives the batch's links."""
        images = self.images
        with translated(self.what), self.engine.begin() as conn:
            # Optimistic where the batch has no linked key yet (an initial load): see
            # consumers/binder.py; a race fails the batch on a duplicate key (``_raced``).
            links.update(self.binder.lock(conn, PRODUCT, (e.entity_key for e in ordered),
                                          optimistic=True))
            facts = self.batch_facts(conn, ordered)
            planner = ProductPlanner(map_row=lambda e: self.writers.map_product(e, facts),
                                     stock_mode=self.shop.stock_mode,
                                     unsupported=self.writers.unsupported,
                                     variant_stock=self.writers.variant_stock is not None,
                                     shop=self.shop.name, resync_stock=self._resync_stock)
            plan: ProductPlan[RowT] = ProductPlan()
            for event in ordered:
                result.count(event, planner.plan(event, links[event.entity_key], plan))
            result.unsupported.update(plan.unsupported)
            self._adopt(conn, plan, links)
            changed = plan.changed()
            category_ids = self._category_ids(conn, changed)
            self._write_rows(conn, plan, links, planner, now)
            rows = {links[k].target: row for k, row in changed}
            self.writers.products.set_categories(conn, {
                pid: [category_ids[c] for c in row.category_keys] for pid, row in rows.items()})
            for aspect in self.writers.product_aspects:
                aspect(conn, rows, now)
            self._write_variant_stock(conn, plan, links)
            copies = images.write(conn, {pid: (row.sku, row.images)
                                         for pid, row in rows.items()}, now)
            self.binder.save(conn, links.values())
        if copies:                                          # files: after the commit
            self._outside(f"copy {len(copies)} image file(s): {', '.join(copies[:5])}"
                          + (", ..." if len(copies) > 5 else ""),
                          lambda: images.copy(copies))
        return bool(changed or plan.hide)

    def _adopt(self, conn: Connection, plan: ProductPlan[RowT], links: Mapping[str, Link]
               ) -> None:
        """Products the plan would create (shown in this shop, no link: after ``shopbridge
        reset``, or in a shop filled before shopbridge) take over the shop's product of their
        SKU instead, where exactly one has it and no other link points to it (P4); the plan
        then rewrites it as any linked one. SKUs match as the shop compares them (its
        collation: case and trailing spaces ignored)."""
        if not plan.new:
            return
        wanted: dict[str, list[str]] = {}
        for key, item in plan.new.items():
            if item.row.sku:
                wanted.setdefault(_sku_key(item.row.sku), []).append(key)
        found = self.writers.products.find_by_sku(conn, sorted({plan.new[k].row.sku
                                                                for keys in wanted.values()
                                                                for k in keys}))
        claimed = {target for target, _ in
                   self.binder.linked_to(conn, PRODUCT, found.values()).values()}
        for sku, target in found.items():
            keys = wanted.get(_sku_key(sku), [])
            if len(keys) != 1 or target in claimed:
                continue    # two ERP articles with one SKU: which is which cannot be told
            key = keys[0]
            item = plan.new.pop(key)
            link = links[key]
            link.target_id, link.dirty = target, True
            plan.update[key] = item.row
            plan.unknown.add(key)
            plan.quantities[key] = item.quantity
            claimed.add(target)

    def _write_variant_stock(self, conn: Connection, plan: ProductPlan[RowT],
                             links: Mapping[str, Link]) -> None:
        """The children's stock, after the product aspects: children that this batch makes
        exist by then, and the batch's newest stock is what stays."""
        write = self.writers.variant_stock
        quantities = {links[k].target: children
                      for k, children in sorted(plan.variant_quantities.items())
                      if links[k].target_id is not None}
        if write is not None and quantities:
            write(conn, quantities)

    def batch_facts(self, conn: Connection, events: Sequence[Event]) -> BatchFacts:
        """What mapping ``events`` needs from the shop (also ``shopbridge drift``'s pages)."""
        upserts = [e for e in events if e.type == "product.upserted"]
        roots = self.shop.filter.categories
        return BatchFacts(
            manufacturer_ids=self.binder.targets(
                conn, MANUFACTURER, {str(e.payload.get("manufacturer_id")) for e in upserts}),
            # Only product states are mapped; stock-only batches (every second) skip the tree.
            filter_categories=keys_below(
                roots, linked=linked_categories(conn),
                tree=self.writers.products.category_tree(conn)) if roots and upserts else None)

    def _category_ids(self, conn: Connection, changed: Sequence[tuple[str, RowT]]
                      ) -> dict[str, int]:
        """Shop ids of the changed products' categories.

        Raises:
            DependencyMissing: a category is not in the shop yet (it may arrive later).
        """
        ids = self.binder.targets(conn, CATEGORY,
                                  {c for _, row in changed for c in row.category_keys})
        for key, row in changed:
            missing = [c for c in row.category_keys if c not in ids]
            if missing:
                raise DependencyMissing(f"product {key} (SKU {row.sku}): category "
                                        f"{', '.join(missing)} is not in the shop yet")
        return ids

    def _write_rows(self, conn: Connection, plan: ProductPlan[RowT], links: Mapping[str, Link],
                    planner: ProductPlanner[RowT], now: datetime) -> None:
        store = self.writers.products
        if plan.new:
            store.insert(conn, list(plan.new.values()), now)
            for key, item in plan.new.items():
                links[key].target_id = item.target_id
        for unknown in (False, True):
            rows = [(links[k].target, row, planner.quantity(links[k]))
                    for k, row in plan.update.items() if (k in plan.unknown) == unknown]
            if rows:
                store.update(conn, rows, now, unknown=unknown)
        store.hide(conn, [links[k].target for k in sorted(plan.hide)], now)
        store.set_quantities(
            conn, [(links[k].target, q) for k, q in sorted(plan.quantities.items())])
        # A shop may hide a product itself when it sells out (Phoenix with
        # STOCK_ALLOW_CHECKOUT 'false', NOTES 2); the ERP owns visibility, so a restocked
        # product it shows comes back.
        store.show_if_hidden(conn, [
            links[k].target for k, q in sorted(plan.quantities.items())
            if q >= 1 and links[k].shown and k not in plan.update and k not in plan.hide])
