"""One tenant's CAO producer: article snapshot diff, deletions, and the cheap stock scan.

Each page of changes is published (packed, windowed confirms) and only then stored in the
snapshot, so a crash re-publishes rather than loses (DESIGN 4).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from shopbridge import events as ev
from shopbridge import schemas, topology
from shopbridge.config import BrokerConfig, ShopConfig, TenantConfig
from shopbridge.db import create_engine, translated
from shopbridge.errors import ConfigError, PermanentError, TargetLocked
from shopbridge.outage import AWAY, Outages, ride_out
from shopbridge.owntables import ensure
from shopbridge.publisher import BrokerSession, OutMessage, pack
from shopbridge.settle import H_RESYNC, REPAIR

from . import capture, variants
from . import categories as cats
from .articles import build_payloads
from .customers import ENTITY as CUSTOMER_ENTITY
from .customers import CustomerSource
from .customers import payload as customer_payload
from .guard import StockGuard, guarded_schema
from .manufacturers import ENTITY as MANUFACTURER_ENTITY
from .manufacturers import ManufacturerSource
from .manufacturers import payload as manufacturer_payload
from .resync import TABLE as RESYNC_TABLE_DEF
from .resync import ResyncProgress, ScanProgress
from .snapshot import SNAPSHOT_TABLE, ChangedRow, Snapshot
from .source import CaoSource, fingerprint_of
from .statuses import ENTITY as STATUS_ENTITY
from .statuses import StatusChange, StatusSource

log = logging.getLogger(__name__)

LOCK_WAIT_S = 120             # a full cycle of 100,000 articles takes tens of seconds
PAGE = 2000                   # articles per change page (also the MyISAM lock granularity)
# Bump when payload.build changes: republishes every article. 5: once more after the shop
# consumers learnt to link a master's children (ordered variants book the child, issue 8);
# without it a master that never changes would keep its variants unlinked.
PAYLOAD_FORMAT = 5
# How follow mode learns of changes (issue 14): "triggers" (the change table capture.py's
# triggers fill), "gate" (MyISAM's UPDATE_TIME decides whether the scans run), "off" (the
# scans on their periods, as before); "auto": triggers where complete, else the gate.
SIGNALS = ("auto", "triggers", "gate", "off")

Change = TypeVar("Change")
Change_co = TypeVar("Change_co", covariant=True)
Stored = TypeVar("Stored")
# What the snapshot keeps of a published upsert: (key, src_hash, version, stock, sku).
Published = tuple[int, bytes, int, Decimal | None, str | None]
Deleted = tuple[int, int]         # (key, version) of a published deletion
ChildStocks = list[tuple[int, Decimal]]   # (child REC_ID, stock) a master's event carried
StockPublished = tuple[int, int, Decimal, ChildStocks]    # (key, version, stock, children)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while one page is read, built, published and stored,
    and its objects freed.

    A page of 2,000 articles allocates some 100,000 dicts and lists that live until the page
    is stored: the collector would pass over them again and again and move them to the old
    generation, whose full passes then walk the whole heap (1.3 s of CPU per 100,000
    articles, 13 % of the initial load). They hold no reference cycles: reference counting
    frees them either way. Freed before the collector is on again, they are not counted for
    its next pass either.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Read(Protocol[Change_co]):
    """A source's page of changes after a paging key (empty when there are no more)."""

    def __call__(self, conn: sa.Connection, *, after: int, limit: int
                 ) -> Sequence[Change_co]: ...


@dataclass
class CycleReport:
    published: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    rejected: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)
    without_sku: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: CycleReport) -> None:
        self.published.update(other.published)
        self.messages += other.messages
        self.rejected += other.rejected
        self.seconds += other.seconds

    @property
    def events(self) -> int:
        return sum(self.published.values())


@dataclass
class ResyncRun:
    """A full sync under way (``CaoProducer.resync``): which shop queue, which scans."""

    queue: str                          # the shop's work queue
    entities: frozenset[str]            # snapshot entity types taken: product, category...
    progress: ResyncProgress
    totals: dict[str, int]              # entity type -> published rows (the bar's 100 %)
    on_page: Callable[[str, int, int], None]   # (scan, events so far, total)
    repair: bool = False                # drift --repair: the stock is rewritten everywhere

    def page_done(self, scan: str) -> None:
        done = self.progress.scans[scan]
        self.on_page(scan, done.before + done.now, self.totals.get(scan.split(":", 1)[0], 0))


@dataclass
class ResyncReport:
    scans: list[ScanProgress]
    cycle: CycleReport                  # the regular cycle run first
    rejected: list[str]
    seconds: float = 0.0

    @property
    def published(self) -> int:
        return sum(s.now for s in self.scans)

    @property
    def before(self) -> int:
        return sum(s.before for s in self.scans)


class CaoProducer:
    """Args:
        broker: broker settings.
        tenant: the tenant whose CAO database is read.
    """

    def __init__(self, *, broker: BrokerConfig, tenant: TenantConfig,
                 engine: sa.Engine | None = None) -> None:
        self.broker = broker
        self.tenant = tenant
        self.engine = engine or create_engine(tenant.erp.db)
        self.source = CaoSource(tenant.erp, flag_fields=(
            s.filter.flag[0] for s in tenant.shops if s.active and s.filter.flag))
        self.statuses = StatusSource(tenant.erp)
        self.customers = CustomerSource()
        self.manufacturers = ManufacturerSource()
        used = {s.categories for s in tenant.shops if s.active}
        self.categories = [cats.CategorySource(m) for m in cats.MODES if m in used]
        self.retired_categories = [cats.CategorySource(m) for m in cats.MODES if m not in used]
        self.snapshot = Snapshot()
        self.guard = StockGuard(broker=broker, tenant=tenant)     # B3
        self.what = f"CAO database of tenant {tenant.name!r} ({tenant.erp.db.safe})"
        self.source_name = f"cao:{tenant.erp.db.database}"
        self.session = BrokerSession(broker, [s for s in tenant.shops if s.active])
        self.stop_event = threading.Event()
        self._stock_period_s: float | None = None   # set while following
        self._last_stock = 0.0
        self.signalled = False                      # following on the change table
        self._fingerprint_seen: str | None = None   # of the last article scan
        self._resync: ResyncRun | None = None       # set while a full sync republishes

    def close(self) -> None:
        self.guard.close()
        self.session.close()
        self.engine.dispose()

    def _version(self, last: int | None) -> int:
        """The version of an upsert: the next one; in a full sync the one the shops have
        (``Event.resync`` applies it again), so no other shop misses a version."""
        if self._resync is not None and last is not None:
            return last
        return ev.next_version(last)

    def _publish(self, events: Sequence[dict[str, Any]], report: CycleReport) -> list[int]:
        """Validate, pack and publish; returns the indexes of the events that were published.
        In a full sync, straight into the one shop's work queue, marked (``H_RESYNC``)."""
        valid: list[tuple[int, dict[str, Any]]] = []
        for i, event in enumerate(events):
            try:
                schemas.validate(event)
            except PermanentError as err:
                report.rejected.append(str(err))
                log.warning("not published: %s", err)
                continue
            valid.append((i, event))
        messages: list[OutMessage] = []
        if self._resync is not None:
            ordered, size = [event for _, event in valid], self.broker.pack_size
            messages = [OutMessage(routing_key=self._resync.queue,
                                   body=ev.encode(ordered[i:i + size]),
                                   headers={H_RESYNC: REPAIR if self._resync.repair else 1})
                        for i in range(0, len(ordered), size)]
        else:
            by_key: dict[str, list[dict[str, Any]]] = {}
            for _, event in valid:
                # Order status changes go to the one shop the order came from.
                shop = (event["payload"].get("shop") if event["type"].startswith("order.")
                        else None)
                key = topology.routing_key(self.tenant.name, event["type"], shop)
                by_key.setdefault(key, []).append(event)
            for key, items in by_key.items():
                messages += pack(items, exchange=topology.exchange_name(self.broker.namespace),
                                 routing_key=key, size=self.broker.pack_size)
        if messages:
            report.messages += self.session.publish(messages)
        for _, event in valid:
            report.published[event["type"]] += 1
        return [i for i, _ in valid]

    # -- cycles ----------------------------------------------------------------------------

    def _make(self, type_: str, key: int | str, version: int, body: dict[str, Any]
              ) -> dict[str, Any]:
        event = ev.make_event(type_, tenant=self.tenant.name, source=self.source_name,
                              entity_key=str(key), version=version, payload=body)
        guarded_schema(event)       # B3: the schema that has ``shop_stock``, only where used
        return event

    def prepare(self) -> None:
        with translated(self.what), self.engine.begin() as conn:
            self.source.resolve(conn)
            self.snapshot.ensure_table(conn)
            self.source.variants.ensure_table(conn)

    def run_once(self, *, lock_wait_s: float = LOCK_WAIT_S, articles: bool = True
                 ) -> CycleReport:
        """A full cycle: changed and new articles, then deletions, then stock.

        One full cycle per CAO database at a time (an advisory lock): a ``sync`` runs one
        while ``produce --follow`` may run its own, and two cycles building versions of one
        article at once could leave the snapshot with one's hash and the other's version.

        Args:
            articles: False: everything but the articles and their stock, which the change
                signal brings (follow mode with triggers); they are scanned all the same
                when what every article's payload depends on (languages, tax rates) changed.

        Raises:
            TargetLocked: another producer's full cycle held the lock for LOCK_WAIT_S.
        """
        started = time.monotonic()
        report = CycleReport()
        with translated(self.what), self.engine.connect() as conn, \
                self._cycle_lock(conn, lock_wait_s):
            self.source.resolve(conn)
            self.snapshot.ensure_table(conn)
            self.source.variants.ensure_table(conn)
            if not articles and self._fingerprint(conn) != self._fingerprint_seen:
                log.info("languages or tax rates changed in CAO: every article is diffed")
                articles = True
            # The change rows this diff covers (written before it reads any article):
            # consumed at its end, so that a one-shot `produce` keeps the table short too.
            covered = capture.present(conn) if articles else ()
            if articles:
                # Who is whose child, before the scans that leave children out (C8).
                self.source.variants.refresh(conn, self.source.t["ARTIKEL"])
                conn.commit()
            self.guard.refresh(conn, self.source.t["ARTIKEL"])   # before the articles' stock
            if articles:
                report.duplicates = self.source.duplicate_skus(conn)
                report.without_sku = self.source.articles_without_sku(conn)
            for sku, ids in report.duplicates:
                log.warning("ARTNUM %r is used by several articles (REC_ID %s): each is "
                            "published under its own REC_ID", sku, ", ".join(map(str, ids)))
            # Manufacturers before the products that name them.
            self._scan_manufacturers(conn, report)
            self._scan_categories(conn, report)   # before the articles that link them
            if articles:
                self._scan_articles(conn, report)
                self._scan_deletions(conn, report)
            self._scan_statuses(conn, report)
            self._scan_customers(conn, report)
        if articles:
            report.merge(self.stock_scan())
        if covered and not self.stop_event.is_set():
            with translated(self.what), self.engine.connect() as conn:
                capture.consume(conn, covered)
        report.seconds = time.monotonic() - started
        return report

    def guard_cycle(self) -> CycleReport:
        """B3 under the change signal: reservations move without a CAO write the triggers or
        the table clock would see, so the follow loop refreshes the guard on the stock period
        and scans the stock of the articles whose reservations changed."""
        report = CycleReport()
        if not self.guard.enabled:
            return report
        with translated(self.what), self.engine.connect() as conn:
            if not self.source.t:
                self.source.resolve(conn)
                self.source.variants.ensure_table(conn)
            self.guard.refresh(conn, self.source.t["ARTIKEL"])
            if self.guard.stale:
                self._stock_scan(conn, report, self.guard.stale)
                self.guard.stale = []
        return report

    def signal_cycle(self) -> CycleReport:
        """The articles the change table names (capture.py): their diff, deletion and stock,
        then the change rows are consumed. Nothing waiting costs one primary-key read.

        While a full cycle holds the lock, only their stock is published; the rows stay for
        the next call.
        """
        started = time.monotonic()
        report = CycleReport()
        with translated(self.what), self.engine.connect() as conn:
            waiting = capture.pending(conn)
            if waiting is None:
                return report
            if not self.source.t:
                self.source.resolve(conn)
                self.source.variants.ensure_table(conn)
            ids = set(waiting.rec_ids)
            variant_source = self.source.variants
            if variant_source.enabled:
                # A child's change is its master's: before and after the rule is applied
                # again (a child may have moved from one master to another).
                ids |= variant_source.masters_of(conn, ids)
                if waiting.tables & {"ARTIKEL", "ARTIKEL_VAR"}:
                    variant_source.refresh(conn, self.source.t["ARTIKEL"])
                    conn.commit()
                    ids |= variant_source.masters_of(conn, ids)
            self._stock_scan(conn, report, ids)
            try:
                with self._cycle_lock(conn, 0):
                    self._scan_articles(conn, report, ids=ids)
                    self._scan_deletions(conn, report, ids=ids)
            except TargetLocked:
                return report       # a full cycle runs: the rows wait for the next call
            if not self.stop_event.is_set():
                capture.consume(conn, waiting.ids)
        report.seconds = time.monotonic() - started
        return report

    @contextmanager
    def _cycle_lock(self, conn: sa.Connection, wait_s: float) -> Iterator[None]:
        name = "shopbridge:produce:" + hashlib.sha1(
            str(self.tenant.erp.db.database).encode(), usedforsecurity=False).hexdigest()
        got = conn.exec_driver_sql("SELECT GET_LOCK(%s, %s)", (name, wait_s)).scalar()
        if got != 1:
            raise TargetLocked(f"{self.what}: another producer's full cycle is running "
                               f"(waited {wait_s:g} s)", delay_s=5)
        try:
            yield
        finally:
            conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))

    def _scan(self, conn: sa.Connection, report: CycleReport, read: _Read[Change],
              key: Callable[[Change], int],
              build: Callable[[Sequence[Change]], list[tuple[dict[str, Any], Stored]]],
              store: Callable[[sa.Connection, list[Stored]], None], *,
              resync: str | None = None) -> None:
        """The paged scan every kind of change goes through: read a page after the last key,
        build its events, publish them, then store in the snapshot what was published (a
        crash in between publishes again, DESIGN 4). Stops between pages when asked to.

        Args:
            read: the page of changes after a key (empty: done).
            key: the paging key of a change.
            build: the page's events, each with its snapshot row; may read more of the page.
            store: writes the snapshot rows of the published events.
            resync: the scan's name in a full sync ("product", "category:<mode>"...): scans
                without one do not take part in it. A full sync reads every published row
                (``everything``), records its progress instead of the snapshot, and starts
                where an interrupted run stopped.
        """
        run = self._resync
        after = 0
        if run is not None:
            if resync is None or resync.split(":", 1)[0] not in run.entities:
                return
            read = functools.partial(read, everything=True)  # type: ignore[call-arg]
            progress = run.progress.start(conn, resync)
            if progress.done:
                return              # finished by the interrupted run this one continues
            after = progress.after
            run.page_done(resync)

        def one_page(after: int) -> int | None:
            """Read, build, publish and store the page after ``after``; its paging key, or
            None when there was none. What the page built dies when this returns."""
            page = read(conn, after=after, limit=PAGE)
            conn.commit()  # end the read: MyISAM read locks and InnoDB snapshots stay short
            if not page:
                if run is not None and resync is not None:
                    run.progress.finish(conn, resync)
                return None
            after = key(page[-1])
            outgoing = build(page)
            conn.commit()
            published = self._publish([event for event, _ in outgoing], report)
            if run is not None and resync is not None:
                run.progress.page(conn, resync, after, len(published))
                run.page_done(resync)
            else:
                store(conn, [outgoing[i][1] for i in published])
                conn.commit()
            return after

        while not self.stop_event.is_set():
            with _collector_paused():
                next_after = one_page(after)
            if next_after is None:
                return
            after = next_after

    def _upserted(self, type_: str, body: dict[str, Any], src_hash: bytes, last: int | None
                  ) -> tuple[dict[str, Any], Published]:
        """The event of a changed entity keyed by its ``erp_id``, with its snapshot row."""
        version = self._version(last)
        return (self._make(type_, body["erp_id"], version, body),
                (body["erp_id"], src_hash, version, None, None))

    def _deleted(self, type_: str, key: int, last: int, body: dict[str, Any], *,
                 entity_key: str | None = None) -> tuple[dict[str, Any], Deleted]:
        """The deletion event of a published entity, with its snapshot row."""
        version = ev.next_version(last)
        return (self._make(type_, entity_key or key, version, body), (key, version))

    def _fingerprint(self, conn: sa.Connection) -> str:
        codes = self.source.language_codes(conn)
        rates = self.source.vat_rates(conn)
        conn.commit()
        return fingerprint_of(codes, rates, self.tenant.erp.default_language, PAYLOAD_FORMAT,
                              variants.config_key(self.tenant.erp.variants),
                              guard=self.guard.config_key())

    def _scan_articles(self, conn: sa.Connection, report: CycleReport,
                       ids: Collection[int] | None = None) -> None:
        """Changed and new articles: all of them, or only those of ``ids``."""
        codes = self.source.language_codes(conn)
        rates = self.source.vat_rates(conn)
        fingerprint = fingerprint_of(codes, rates, self.tenant.erp.default_language,
                                     PAYLOAD_FORMAT,
                                     variants.config_key(self.tenant.erp.variants),
                                     guard=self.guard.config_key())
        if ids is None:
            self._fingerprint_seen = fingerprint

        def build(changed: Sequence[tuple[int, bytes, int | None]]
                  ) -> list[tuple[dict[str, Any], tuple[Published, ChildStocks]]]:
            hashes = {key: (h, version) for key, h, version in changed}
            out: list[tuple[dict[str, Any], tuple[Published, ChildStocks]]] = []
            for built in build_payloads(conn, self.source, self.tenant.erp, list(hashes),
                                        codes=codes, rates=rates):
                body = built.body
                key = int(body["erp_id"])
                h, last = hashes[key]
                self.guard.attach(key, body)
                version = self._version(last)
                out.append((self._make("product.upserted", key, version, body),
                            ((key, h, version, Decimal(body["stock"]), body["sku"]),
                             variants.child_stocks(built.children))))
            return out

        def store(conn: sa.Connection, rows: list[tuple[Published, ChildStocks]]) -> None:
            self.snapshot.store_published(conn, [published for published, _ in rows])
            self.guard.store(conn, [published[0] for published, _ in rows])
            self.source.variants.store_published_stock(
                conn, [child for _, children in rows for child in children])

        read = functools.partial(self.source.changed_articles, fingerprint=fingerprint,
                                 between=self._stock_when_due, ids=ids)
        self._scan(conn, report, read, lambda change: change[0], build, store,
                   resync="product" if ids is None else None)

    def _scan_deletions(self, conn: sa.Connection, report: CycleReport,
                        ids: Collection[int] | None = None) -> None:
        self._scan(conn, report, functools.partial(self.source.vanished, ids=ids),
                   lambda gone: gone[0],
                   lambda gone: [self._deleted("product.deleted", key, last, {
                       "erp_id": key, "sku": sku, "reason": "deselected" if exists else "deleted"})
                       for key, last, sku, exists in gone],
                   self.snapshot.store_deleted)

    def _scan_statuses(self, conn: sa.Connection, report: CycleReport) -> None:
        """Order status changes in CAO -> the shop the order came from (O2, O4)."""
        if not self.statuses.resolve(conn):
            return  # no order imported yet
        conn.commit()
        self._scan(conn, report, self.statuses.changes, lambda change: change.journal_id,
                   self._status_events,
                   functools.partial(self.snapshot.store_published, entity_type=STATUS_ENTITY))

    def _status_events(self, changes: Sequence[StatusChange]
                       ) -> list[tuple[dict[str, Any], Published]]:
        out: list[tuple[dict[str, Any], Published]] = []
        for change in changes:
            shop = next((s for s in self.tenant.shops if s.name == change.shop), None)
            if shop is None:
                log.warning("order %s of shop %r changed in CAO, but that shop is no "
                            "longer configured", change.order_id, change.shop)
                continue
            first = change.last_version is None
            notify = (shop.orders.imported_status_mail
                      if first and change.status_id == shop.orders.imported_status
                      else True)
            version = ev.next_version(change.last_version)
            body = {"shop": change.shop, "order_id": change.order_id,
                    "status_id": change.status_id, "comment": change.comment,
                    "carrier": change.carrier, "tracking_code": change.tracking_code,
                    "notify": notify, "erp_document": change.vrenum, "changed_at": None}
            out.append((self._make("order.status_changed", f"{change.shop}:{change.order_id}",
                                   version, body),
                        (change.journal_id, change.src_hash, version, None, None)))
        return out

    def _scan_customers(self, conn: sa.Connection, report: CycleReport) -> None:
        """ERP customers marked for a shop -> shop accounts (K1)."""
        if not self.customers.resolve(conn):
            return

        def build(changed: Sequence[ChangedRow]) -> list[tuple[dict[str, Any], Published]]:
            contacts = self.customers.contacts(conn, [row for row, _, _ in changed])
            return [self._upserted("customer.upserted", customer_payload(
                row, contacts.get(int(row["REC_ID"]), [])), src_hash, last)
                for row, src_hash, last in changed]

        self._scan(conn, report, self.customers.changed, lambda change: int(change[0]["REC_ID"]),
                   build,
                   functools.partial(self.snapshot.store_published, entity_type=CUSTOMER_ENTITY),
                   resync=CUSTOMER_ENTITY)

    def _scan_manufacturers(self, conn: sa.Connection, report: CycleReport) -> None:
        """ERP manufacturers of a shop -> shop manufacturers (C2), then the vanished ones."""
        if not self.manufacturers.resolve(conn):
            return
        codes = self.manufacturers.language_codes(conn)

        def build(changed: Sequence[ChangedRow]) -> list[tuple[dict[str, Any], Published]]:
            urls = self.manufacturers.urls(conn, [row for row, _, _ in changed])
            return [self._upserted("manufacturer.upserted", manufacturer_payload(
                row, urls.get(int(row["HERSTELLER_ID"]), {}), codes), src_hash, last)
                for row, src_hash, last in changed]

        self._scan(conn, report, self.manufacturers.changed,
                   lambda change: int(change[0]["HERSTELLER_ID"]), build,
                   functools.partial(self.snapshot.store_published,
                                     entity_type=MANUFACTURER_ENTITY),
                   resync=MANUFACTURER_ENTITY)
        self._scan(conn, report, self.manufacturers.vanished, lambda gone: gone[0],
                   lambda gone: [self._deleted("manufacturer.deleted", key, last, {
                       "erp_id": key, "reason": "deselected" if exists else "deleted"})
                       for key, last, exists in gone],
                   functools.partial(self.snapshot.store_deleted, entity_type=MANUFACTURER_ENTITY))

    def _scan_categories(self, conn: sa.Connection, report: CycleReport) -> None:
        """Shop categories or product groups (each source a shop uses) -> shops (C1)."""
        for source in self.categories:
            if not source.resolve(conn):
                continue
            conn.commit()
            self._scan(conn, report, source.changed, lambda change: int(change[0]["SNAP_KEY"]),
                       self._category_events,
                       functools.partial(self.snapshot.store_published, entity_type=cats.ENTITY),
                       resync=f"{cats.ENTITY}:{source.mode}")
            self._publish_category_deletions(conn, report, source.vanished)
        for source in self.retired_categories:          # a source no active shop uses
            self._publish_category_deletions(conn, report, source.retired)

    def _category_events(self, changed: Sequence[ChangedRow]
                         ) -> list[tuple[dict[str, Any], Published]]:
        out: list[tuple[dict[str, Any], Published]] = []
        for row, src_hash, last in changed:
            version = self._version(last)
            body = cats.payload(row)
            out.append((self._make("category.upserted", cats.entity_key(body), version, body),
                        (row["SNAP_KEY"], src_hash, version, None, None)))
        return out

    def _publish_category_deletions(self, conn: sa.Connection, report: CycleReport,
                                    find: _Read[tuple[int, int, dict[str, Any]]]) -> None:
        self._scan(conn, report, find, lambda gone: gone[0],
                   lambda gone: [self._deleted("category.deleted", key, last, body,
                                               entity_key=cats.entity_key(body))
                                 for key, last, body in gone],
                   functools.partial(self.snapshot.store_deleted, entity_type=cats.ENTITY))

    def resync(self, shop: ShopConfig, entities: Collection[str],
               on_page: Callable[[str, int, int], None]) -> ResyncReport:
        """Full sync of one shop (P3): a regular cycle first (every shop gets what changed),
        then every published entity of ``entities`` (snapshot types: product, category,
        manufacturer, customer) again, into that shop's queue only, at the version the shops
        have (``_version``); continues an interrupted run of the same scans.

        Raises:
            ConfigError: the shop is inactive.
        """
        if not shop.active:
            raise ConfigError(f"shop {shop.name!r} is inactive (active = false): make it "
                              f"active, then sync it")
        started = time.monotonic()
        cycle = self.run_once()
        report = ResyncReport(scans=[], cycle=cycle, rejected=[])
        progress = ResyncProgress(shop.name)
        with translated(self.what), self.engine.connect() as conn:
            ensure(conn, RESYNC_TABLE_DEF)
            progress.begin(conn, entities)
            totals = {str(t): int(n) for t, n in conn.exec_driver_sql(
                f"SELECT entity_type, COUNT(*) FROM {SNAPSHOT_TABLE} WHERE deleted = 0 "
                f"GROUP BY entity_type")}
            conn.commit()
            self._resync = ResyncRun(
                queue=topology.work_queue(self.broker.namespace, self.tenant.name, shop.name),
                entities=frozenset(entities), progress=progress, totals=totals,
                on_page=on_page)
            scans = CycleReport()
            try:
                self._scan_manufacturers(conn, scans)
                self._scan_categories(conn, scans)
                self._scan_articles(conn, scans)
                self._scan_customers(conn, scans)
                if not self.stop_event.is_set():
                    progress.end(conn)
            finally:
                self._resync = None
        report.scans = list(progress.scans.values())
        report.rejected = scans.rejected
        report.seconds = time.monotonic() - started
        return report

    # -- shopbridge drift (B1) ---------------------------------------------------------------

    def product_payloads(self, *, page: int = PAGE) -> Iterator[list[dict[str, Any]]]:
        """The product.upserted payload of every selected article, a page of ``page``
        articles at a time, as the article scan builds them (``shopbridge drift``). Read
        only: nothing is published or stored; each page's read ends before it is handed on
        (CAO's MyISAM read locks stay short)."""
        with translated(self.what), self.engine.connect() as conn:
            self.source.resolve(conn)
            self.guard.read_open(conn)     # B3: each shop's stock as a cycle would send it
            codes = self.source.language_codes(conn)
            rates = self.source.vat_rates(conn)
            after = 0
            while not self.stop_event.is_set():
                ids = self.source.selected_ids(conn, after=after, limit=page)
                if not ids:
                    conn.commit()
                    return
                after = ids[-1]
                built = build_payloads(conn, self.source, self.tenant.erp, ids,
                                       codes=codes, rates=rates)
                conn.commit()
                for b in built:
                    key = int(b.body["erp_id"])
                    self.guard.attach(key, b.body)
                    # Nothing is published, so nothing is stored: keep no memory of it.
                    self.guard._published.pop(key, None)
                yield [b.body for b in built]

    def selected_keys(self, keys: Collection[str]) -> set[str]:
        """Those of these product keys that are selected articles (``shopbridge drift``: the
        shop's linked products CAO no longer publishes are the others)."""
        ids = sorted({int(k) for k in keys if str(k).isdigit()})
        with translated(self.what), self.engine.connect() as conn:
            self.source.resolve(conn)
            found = self.source.selected_among(conn, ids)
            conn.commit()
        return {str(k) for k in found}

    def republish(self, shop: ShopConfig, keys: Collection[str]) -> tuple[CycleReport, list[str]]:
        """``shopbridge drift --repair``: the product.upserted of these articles again (or,
        for an article CAO no longer selects, its published product.deleted), into
        ``shop``'s work queue only, marked as a full sync's (``H_RESYNC``) and at the version
        the shops have, as ``resync`` republishes every article: the consumer rewrites them
        even where its link says nothing changed.

        Returns:
            the report, and the keys not republished: never published, withdrawn without
            a published deletion yet, or no article's REC_ID (the next regular cycle
            publishes or withdraws the articles for every shop).
        """
        report = CycleReport()
        wanted = sorted({int(k) for k in keys if str(k).isdigit()})
        if not wanted:
            return report, sorted(set(keys))
        published: list[int] = []
        self._resync = ResyncRun(
            queue=topology.work_queue(self.broker.namespace, self.tenant.name, shop.name),
            entities=frozenset({"product"}), progress=ResyncProgress(shop.name), totals={},
            on_page=lambda scan, done, total: None, repair=True)
        try:
            with translated(self.what), self.engine.connect() as conn:
                self.source.resolve(conn)
                self.guard.refresh(conn, self.source.t["ARTIKEL"])   # B3, as a cycle does
                codes = self.source.language_codes(conn)
                rates = self.source.vat_rates(conn)
                for start in range(0, len(wanted), PAGE):
                    chunk = wanted[start:start + PAGE]
                    snapshot = {int(k): (int(v), bool(d), sku) for k, v, d, sku in
                                conn.exec_driver_sql(
                        f"SELECT entity_key, version, deleted, sku FROM {SNAPSHOT_TABLE} "
                        f"WHERE entity_type = 'product' AND entity_key IN "
                        f"({', '.join(['%s'] * len(chunk))})", tuple(chunk))}
                    selected = self.source.selected_among(conn, chunk)
                    ids = [k for k in chunk if k in selected and k in snapshot
                           and not snapshot[k][1]]
                    built = build_payloads(conn, self.source, self.tenant.erp, ids,
                                           codes=codes, rates=rates)
                    for b in built:
                        self.guard.attach(int(b.body["erp_id"]), b.body)
                    events = [self._make("product.upserted", b.body["erp_id"],
                                         self._version(snapshot[int(b.body["erp_id"])][0]),
                                         b.body) for b in built]
                    # Withdrawn ones whose deletion the snapshot records: that deletion again,
                    # at its version (the shop lost it, or shows the product again).
                    events += [self._make("product.deleted", k, snapshot[k][0], {
                        "erp_id": k, "sku": snapshot[k][2], "reason": "deselected"})
                        for k in chunk if k not in selected and snapshot.get(k, (0, False))[1]]
                    conn.commit()
                    done = self._publish(events, report)
                    published += [int(events[i]["payload"]["erp_id"]) for i in done]
        finally:
            self._resync = None
        sent = {str(k) for k in published}
        return report, sorted(k for k in set(keys) if k not in sent)

    def _stock_when_due(self) -> None:
        """While following, between the pages and windows of a full cycle: the stock scan when
        its period is up. A full cycle over 100,000 articles takes seconds of MariaDB time;
        stock changes must not wait for it (issue 4: p99 <= 1 s)."""
        if (self._stock_period_s is not None
                and time.monotonic() - self._last_stock >= self._stock_period_s):
            events = (self._signalled_stock() if self.signalled else self.stock_scan()).events
            if events:
                log.info("published %d stock change(s) during a full cycle", events)

    def stock_scan(self) -> CycleReport:
        """The cheap, frequent scan: MENGE_AKT against the last published stock."""
        started = self._last_stock = time.monotonic()
        report = CycleReport()
        with translated(self.what), self.engine.connect() as conn:
            if not self.source.t:
                self.source.resolve(conn)
                self.source.variants.ensure_table(conn)
            self.guard.refresh(conn, self.source.t["ARTIKEL"])
            self._stock_scan(conn, report)
        report.seconds = time.monotonic() - started
        return report

    def _stock_scan(self, conn: sa.Connection, report: CycleReport,
                    ids: Collection[int] | None = None) -> None:
        self._scan(conn, report, functools.partial(self.source.stock_changes, ids=ids),
                   lambda change: change[0], functools.partial(self._stock_events, conn),
                   self._store_stock)

    def _signalled_stock(self) -> CycleReport:
        """During a full cycle on the change signal: the stock of the articles the change
        table names, without consuming the rows (the signal cycle after it does), and of
        those whose reservations moved (B3, as ``guard_cycle``: the follow loop's own guard
        refresh waits for the cycle, which may take minutes on a large catalogue)."""
        self._last_stock = time.monotonic()
        report = CycleReport()
        with translated(self.what), self.engine.connect() as conn:
            self.guard.refresh(conn, self.source.t["ARTIKEL"])
            ids = set(self.guard.stale)
            waiting = capture.pending(conn)
            if waiting is not None:
                changed = set(waiting.rec_ids)
                if self.source.variants.enabled:
                    changed |= self.source.variants.masters_of(conn, changed)
                ids |= changed
            if ids:
                self._stock_scan(conn, report, ids)
            self.guard.stale = []
        return report

    def _stock_events(self, conn: sa.Connection,
                      changes: Sequence[tuple[int, Decimal, int, str | None]]
                      ) -> list[tuple[dict[str, Any], StockPublished]]:
        """stock.changed per article; a master's carries every live child's stock
        (``variants``) and their sum, read together, so the event agrees with itself."""
        children = self.source.variants.stocks(conn, self.source.t["ARTIKEL"],
                                               [key for key, _, _, _ in changes])
        out: list[tuple[dict[str, Any], StockPublished]] = []
        for key, stock, last, sku in changes:
            version = ev.next_version(last)
            body: dict[str, Any] = {"erp_id": key, "sku": sku, "stock": str(stock)}
            mine = children.get(key, [])
            if mine:
                stock = variants.master_stock(s for _, s in mine)
                body["stock"] = str(stock)
                body["variants"] = [{"erp_id": child, "stock": str(s)} for child, s in mine]
            self.guard.attach(key, body)
            out.append((self._make("stock.changed", key, version, body),
                        (key, version, stock, mine)))
        return out

    def _store_stock(self, conn: sa.Connection, rows: list[StockPublished]) -> None:
        self.snapshot.store_stock(conn, [(key, version, stock)
                                         for key, version, stock, _ in rows])
        self.guard.store(conn, [key for key, *_ in rows])
        self.source.variants.store_published_stock(
            conn, [child for *_, children in rows for child in children])

    def follow(self, *, stock_interval_s: float = 0.5, full_interval_s: float = 10.0,
               on_cycle: Callable[[CycleReport], None] | None = None, signal: str = "auto",
               signal_interval_s: float = 0.05, proof_interval_s: float = 900.0) -> None:
        """Prepare, then run until stopped, learning of changes as ``signal`` says
        (``SIGNALS``, follow.py): from the triggers' change table, from UPDATE_TIME, or by
        scanning on the periods.

        While the CAO database or the broker is away (also at the start), the cycle waits
        and is tried again with backoff, logged once per outage (``shopbridge.outage``): a
        following producer never exits for an outage. What a failed cycle published without
        storing it is published again (consumers deduplicate by version).
        """
        from .follow import Follow, run

        if signal not in SIGNALS:
            raise ConfigError(f"change signal {signal!r}: one of {', '.join(SIGNALS)}")
        outages = Outages(broker=self.broker.safe, database=self.what, logger=log)

        def ride(fn: Callable[[], Any]) -> Any:
            try:
                return ride_out(fn, outages=outages, stop_event=self.stop_event)
            except AWAY:
                if self.stop_event.is_set():
                    return None        # stopped while waiting: a clean stop
                raise

        ride(self.prepare)
        self._stock_period_s = stock_interval_s
        plan = Follow(self, signal=signal, stock_interval_s=stock_interval_s,
                      full_interval_s=full_interval_s, signal_interval_s=signal_interval_s,
                      proof_interval_s=proof_interval_s)
        run(plan, stop_wait=self.stop_event.wait, ride=ride, on_cycle=on_cycle)
