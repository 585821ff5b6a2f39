"""The kind registry: which code serves a shop or ERP kind, found through entry points.

The core never imports a producer or a consumer. Each system kind declares, in
``pyproject.toml``, one object per role it plays; the CLI, ``setup``, ``check`` and ``demo``
ask here for the object of a role and a kind (``shop_sink("oscommerce")``) and use only what
the role's protocol below promises. One entry-point group per role, so that a producer's
declaration never makes a consumer importable from it, and vice versa:

==========================  ============================================  ================
group                       what the object does                          today
==========================  ============================================  ================
``shopbridge.shop_sinks``   applies catalogue events to a shop            oscommerce,
                                                                          virtuemart
``shopbridge.shop_sources`` sends a shop's orders and accounts to the ERP oscommerce
``shopbridge.erp_sources``  publishes the ERP's catalogue                 cao
``shopbridge.erp_sinks``    imports shop orders and accounts into the ERP cao
==========================  ============================================  ================

A shop kind is a registered shop sink (its options parser reads the shop's own section of
the configuration); an ERP kind is a registered ERP source. Model: SQLAlchemy's dialect
registry (``sqlalchemy.dialects`` entry points, loaded by name on first use).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, cast

from .errors import ConfigError, DryRunRefused

if TYPE_CHECKING:
    import sqlalchemy as sa

    from .config import BrokerConfig, FolderConfig, ShopConfig, TenantConfig
    from .drift import Difference
    from .events import Event
    from .history import History, HistoryEntry, HistoryQuery
    from .needs import Needs
    from .owntables import OwnTable
    from .probes import CatalogueLimits, CheckReport, ErpOrderFacts, ShopFacts, ShopOrders
    from .rowdiff import DryRunReport
    from .topology import Target

SHOP_SINKS = "shopbridge.shop_sinks"
SHOP_SOURCES = "shopbridge.shop_sources"
ERP_SOURCES = "shopbridge.erp_sources"
ERP_SINKS = "shopbridge.erp_sinks"
ROLES = {
    SHOP_SINKS: "shop consumer (catalogue into the shop)",
    SHOP_SOURCES: "shop producer (orders and accounts to the ERP)",
    ERP_SOURCES: "ERP producer (catalogue from the ERP)",
    ERP_SINKS: "ERP consumer (orders and accounts into the ERP)",
}


# -- what the core reads back from a kind's objects ------------------------------------------

class Applied(Protocol):
    """The tally of one ``Applier.apply`` call (consumers' ``ApplyResult``)."""

    @property
    def applied(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def notes(self) -> Sequence[str]: ...        # one line per skipped event: why
    @property
    def unsupported(self) -> Mapping[str, int]: ...  # what the shop cannot show -> events
    @property
    def by_type(self) -> Mapping[tuple[str, str], int]: ...  # (type, applied|skipped) -> n


class Applier(Protocol):
    """Applies a target's events to its database (a shop's, or the tenant's ERP). A kind's
    sink makes one; the consume loop (consumers/runner.py) knows nothing else of it."""

    @property
    def what(self) -> str:
        """Names the target database in log lines, e.g. "database of shop 'web' (...)"."""
        ...

    def prepare(self) -> None:
        """Make sure of the own tables and read what applying needs from the target.

        Raises:
            ConfigError: the target lacks what the configuration names.
            TargetUnavailable: the database is away (the consumer waits for it).
        """
        ...

    def apply(self, events: Sequence[Event]) -> Applied:
        """Apply coalesced events (each newest of its entity and aspect).

        Raises:
            ShopbridgeError: the batch failed; the consumer applies it in halves, down to
                the events that fail alone.
        """
        ...

    def superseded(self, events: Sequence[Event]) -> Collection[str]:
        """The ids of ``events`` that would change nothing because a newer version of
        everything they set is applied already (``dlq replay`` leaves them; read only)."""
        ...

    def record_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Keep what became of each event of a batch (``shopbridge history``, B4), in a
        short transaction of its own; may keep nothing. The consumer calls it after each
        batch and only logs what it raises: the batch stands."""
        ...

    def last_applied(self) -> tuple[str, datetime] | None:
        """What the target applied last ("product 4711, event ...") and when (UTC), for
        ``shopbridge status``; None: nothing yet (read only).

        Raises:
            TargetUnavailable: the database is away.
        """
        ...

    def ping(self) -> None:
        """Reach the target database once (``/healthz``).

        Raises:
            TargetUnavailable: it is away or refuses the login.
        """
        ...

    def idle(self) -> None:
        """Time-driven work (specials due, unsent e-mails, changed image files); the
        consumer calls it every few seconds, busy or not. May do nothing."""
        ...

    def close(self) -> None:
        """Release the database connections."""
        ...


class ConsumeStats(Protocol):
    """What one consume run did, as the CLI prints it."""

    @property
    def messages(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def applied(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def retried(self) -> int: ...
    @property
    def dead(self) -> int: ...
    @property
    def unsupported(self) -> Mapping[str, int]: ...


class Consumer(Protocol):
    """The consume loop of one work queue; ``stop_event`` ends it after the current batch."""

    @property
    def stop_event(self) -> threading.Event: ...
    def run(self, *, idle_exit_s: float | None = None) -> ConsumeStats: ...
    # /healthz and /readyz (shopbridge/health.py): each check returns None or why not.
    def health_checks(self) -> Mapping[str, Callable[[], str | None]]: ...
    def ready_check(self, max_lag_s: float) -> Callable[[], str | None]: ...


class Session(Protocol):
    """A producer's broker connection."""

    def connect(self) -> None: ...


class Producer(Protocol):
    """What every producer offers: a stop event, its broker session, prepare and close."""

    @property
    def stop_event(self) -> threading.Event: ...
    @property
    def session(self) -> Session: ...
    def prepare(self) -> None: ...
    def close(self) -> None: ...


class CatalogueReport(Protocol):
    """One cycle of an ERP producer."""

    @property
    def published(self) -> Mapping[str, int]: ...     # event type -> count
    @property
    def messages(self) -> int: ...
    @property
    def rejected(self) -> Sequence[str]: ...
    @property
    def seconds(self) -> float: ...
    @property
    def events(self) -> int: ...


class ResyncScan(Protocol):
    """One scan of a full sync: its name ("product", "category:<mode>"...), the events an
    interrupted earlier run published, and those this run did."""

    @property
    def scan(self) -> str: ...
    @property
    def before(self) -> int: ...
    @property
    def now(self) -> int: ...


class ResyncReport(Protocol):
    @property
    def scans(self) -> Sequence[ResyncScan]: ...
    @property
    def rejected(self) -> Sequence[str]: ...
    @property
    def seconds(self) -> float: ...


class CatalogueProducer(Producer, Protocol):
    def run_once(self) -> CatalogueReport: ...
    def product_payloads(self, *, page: int = ...) -> Iterator[list[dict[str, Any]]]:
        """``shopbridge drift``: the product.upserted payload of every product the producer
        publishes, ``page`` at a time, as it builds them (read only)."""
        ...
    def selected_keys(self, keys: Collection[str]) -> set[str]:
        """``shopbridge drift``: those of these product keys the producer publishes now."""
        ...
    def republish(self, shop: ShopConfig, keys: Collection[str]
                  ) -> tuple[CatalogueReport, Sequence[str]]:
        """``shopbridge drift --repair``: these products (entity keys) again into ``shop``'s
        queue only, as ``resync`` does; returns the report and the keys it could not
        republish (never published or no longer selected: the next regular cycle takes care
        of them)."""
        ...
    def resync(self, shop: ShopConfig, entities: Collection[str],
               on_page: Callable[[str, int, int], None]) -> ResyncReport:
        """Full sync of one shop (``shopbridge sync``): ``entities`` are product, category,
        manufacturer, customer; ``on_page(scan, events so far, total)`` after each page."""
        ...
    def follow(self, *, stock_interval_s: float = ..., full_interval_s: float = ...,
               on_cycle: Callable[[CatalogueReport], None] | None = ..., signal: str = ...,
               signal_interval_s: float = ..., proof_interval_s: float = ...) -> None:
        """Run until stopped; ``signal``: how changes are learnt of (auto, triggers, gate,
        off: docs/configuration.md, "Change signal")."""
        ...


class DriftReader(Protocol):
    """A shop kind's side of ``shopbridge drift`` (B1) for one shop."""

    def compare(self, payloads: Sequence[Mapping[str, Any]]) -> Sequence[Difference]:
        """Map a page of product.upserted payloads as the consumer would and compare the
        result with the shop's rows of those products (read only).

        Raises:
            TargetUnavailable: the shop's database is away.
        """
        ...

    def linked_keys(self, *, after: str, limit: int) -> Sequence[str]:
        """Up to ``limit`` keys of the products the shop has a link to, in key order after
        ``after`` ('' : from the start), to find those the ERP no longer selects."""
        ...

    def compare_withdrawn(self, keys: Sequence[str]) -> Sequence[Difference]:
        """Products the ERP no longer selects (these keys): a difference for each the shop
        still shows."""
        ...

    def close(self) -> None: ...


class OrderCount(Protocol):
    @property
    def new(self) -> int: ...        # final and not yet sent
    @property
    def waiting(self) -> int: ...    # not final yet (e.g. unpaid)


class OrderReport(Protocol):
    @property
    def published(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def rejected(self) -> Sequence[str]: ...


class AccountReport(Protocol):
    @property
    def published(self) -> int: ...
    @property
    def rejected(self) -> Sequence[str]: ...


class OrderProducer(Producer, Protocol):
    def count(self) -> OrderCount: ...
    def run_once(self) -> OrderReport: ...


class AccountProducer(Producer, Protocol):
    def run_once(self) -> AccountReport: ...


class ImportNotes(Protocol):
    """What the ERP recorded about one shop's imported orders (``orders count``)."""

    @property
    def orders(self) -> int: ...
    @property
    def newest(self) -> Sequence[tuple[int, str | None, str]]: ...  # (order id, number, notes)


# -- the four roles ---------------------------------------------------------------------------
# Every role: ``own_tables`` and ``ensure_tables`` (what ``setup`` creates for it, in the order
# it reports them), ``needs`` (its grants and own tables, for ``check``), and ``check``: the
# kind's probe for ``shopbridge check`` (the contracts are in ``shopbridge.probes``).

class ShopSink(Protocol):
    """``shopbridge.shop_sinks``: a shop kind's catalogue consumer."""

    def check(self, conn: sa.Connection, shop: ShopConfig, report: CheckReport, *,
              tax_codes: set[int], currency: str) -> ShopFacts:
        """``shopbridge.probes.ShopSinkProbe``."""
        ...

    def limits(self, shop: ShopConfig) -> CatalogueLimits:
        """What the shop cannot show of the ERP's catalogue (tier prices, customer price
        levels): the ERP's check notes it, in these words, for this shop only."""
        ...

    def probe_folder(self, folder: FolderConfig) -> object:
        """Reach an image folder the consumer copies to or from; raises if it does not
        answer."""
        ...

    def open_orders_deducted(self) -> bool | None:
        """The oversell guard (B3, ``OversellConfig``): whether the shop deducts its own open
        orders from the stock it is sent by itself (VirtueMart's ``product_ordered``), so
        that the guard must leave them out of that shop's stock; False: the stock written is
        what the shop offers, its own open orders must be deducted too (osCommerce, whose
        checkout decrement the next stock write replaces); None: the kind has no guard yet."""
        ...

    def options(self, data: Mapping[str, Any]) -> object:
        """The kind's own settings from the shop's ``[tenants.shops.<kind>]`` section
        (``{}`` where there is none); stored as ``ShopConfig.options``.

        Raises:
            ConfigError: one problem per line (``problems``), without the section's name:
                the reader adds it.
        """
        ...

    def applier(self, shop: ShopConfig) -> Applier: ...
    def consumer(self, *, broker: BrokerConfig, target: Target,
                 applier: Applier) -> Consumer: ...
    def reset(self, shop: ShopConfig, entities: Collection[str]) -> Mapping[str, int]:
        """``shopbridge reset``: forget the links of these entity types (product, category,
        manufacturer, customer); returns how many per type."""
        ...
    def drift(self, shop: ShopConfig) -> DriftReader:
        """``shopbridge drift``: a reader that compares pages of product payloads with the
        shop (read only).

        Raises:
            ConfigError: the kind has no drift report yet, or the shop lacks a configured
                language; TargetUnavailable: the shop's database is away.
        """
        ...
    def history(self, shop: ShopConfig, query: HistoryQuery) -> History:
        """``shopbridge history``: what became of the entity's events, oldest first, and
        its link rows now (read only; empty where the shop keeps none).

        Raises:
            TargetUnavailable: the shop's database is away.
        """
        ...
    def own_tables(self, shop: ShopConfig) -> Sequence[OwnTable]: ...
    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None: ...
    def needs(self, shop: ShopConfig) -> Needs: ...
    def schema(self) -> sa.MetaData:
        """The shop's tables as this kind knows them: ``demo`` creates shop databases
        from them."""
        ...

    # -- ``shopbridge demo``: a shop of this kind, built on this machine -----------------
    def demo_options(self) -> Mapping[str, object]:
        """The demo shop's ``[tenants.shops.<kind>]`` section (``{}``: none), written into
        the demo's configuration; it must fit the database ``schema()`` makes."""
        ...

    def demo_seed(self, conn: sa.Connection, shop: ShopConfig) -> None:
        """Fill a database just made from ``schema()`` with the rows the shop has before
        anything is synced: its ``shop.languages``, currency EUR, and the tax classes (or
        rules) 1 = 19 % and 2 = 7 % that the demo's ``tax_classes`` name."""
        ...

    def demo_counts(self, conn: sa.Connection, shop: ShopConfig) -> Mapping[str, int]:
        """The demo's summary of the shop after a sync, in print order: what (a plural
        noun, e.g. "products", "visible") -> how many."""
        ...


class ShopSource(Protocol):
    """``shopbridge.shop_sources``: a shop kind's order and account producers."""

    def check(self, conn: sa.Connection, shop: ShopConfig, erp: ErpOrderFacts | None, *,
              sample: int) -> ShopOrders:
        """``shopbridge.probes.ShopSourceProbe``."""
        ...

    def order_producer(self, *, broker: BrokerConfig, shop: ShopConfig) -> OrderProducer: ...
    def account_producer(self, *, broker: BrokerConfig,
                         shop: ShopConfig) -> AccountProducer: ...
    def follow(self, orders: OrderProducer, accounts: AccountProducer, *,
               interval_s: float) -> None:
        """Run both every ``interval_s`` until ``orders.stop_event`` is set, riding out
        outages (``orders produce --follow``)."""
        ...

    def own_tables(self, shop: ShopConfig) -> Sequence[OwnTable]: ...
    def ensure_tables(self, conn: sa.Connection, shop: ShopConfig) -> None: ...
    def needs(self, shop: ShopConfig) -> Needs: ...


class ErpSource(Protocol):
    """``shopbridge.erp_sources``: an ERP kind's catalogue producer."""

    def check(self, conn: sa.Connection, tenant: TenantConfig,
              report: CheckReport) -> set[int]:
        """``shopbridge.probes.ErpSourceProbe``."""
        ...

    def producer(self, *, broker: BrokerConfig, tenant: TenantConfig) -> CatalogueProducer: ...
    def warnings(self, report: CatalogueReport) -> list[str]:
        """Lines ``produce`` prints after a cycle: data the ERP should fix (in its words)."""
        ...

    def own_tables(self, tenant: TenantConfig) -> Sequence[OwnTable]: ...
    def ensure_tables(self, conn: sa.Connection, tenant: TenantConfig) -> None: ...
    def needs(self, tenant: TenantConfig) -> Needs: ...
    def schema(self) -> sa.MetaData:
        """The ERP tables this producer reads, for ``demo``'s ERP database."""
        ...

    def capture(self, conn: sa.Connection, tenant: TenantConfig, action: str) -> list[str]:
        """``shopbridge capture``: ``install``, ``remove`` or show (``status``) the ERP's
        change signal; lines to print, the last one the state it is in now."""
        ...

    def capture_complete(self, conn: sa.Connection, tenant: TenantConfig) -> bool | None:
        """Whether the change signal is complete (True), absent (None) or partial (False)."""
        ...


class ErpSink(Protocol):
    """``shopbridge.erp_sinks``: an ERP kind's order and account importer."""

    def check(self, conn: sa.Connection, tenant: TenantConfig) -> ErpOrderFacts:
        """``shopbridge.probes.ErpSinkProbe``."""
        ...

    def applier(self, tenant: TenantConfig) -> Applier: ...
    def consumer(self, *, broker: BrokerConfig, target: Target,
                 applier: Applier) -> Consumer: ...
    def import_notes(self, conn: sa.Connection, shop: str) -> ImportNotes: ...
    def indexes(self, conn: sa.Connection, tenant: TenantConfig, action: str) -> list[str]:
        """``shopbridge erp-indexes``: the indexes the import needs as the ERP grows;
        ``action`` show, add (the missing ones) or remove (shopbridge's own only)."""
        ...
    def own_tables(self, tenant: TenantConfig) -> Sequence[OwnTable]: ...
    def ensure_tables(self, conn: sa.Connection, tenant: TenantConfig) -> None: ...
    def needs(self, tenant: TenantConfig) -> Needs: ...
    def schema(self) -> sa.MetaData:
        """The ERP tables the import writes, for ``demo``'s ERP database."""
        ...


# -- optional abilities of a role's object: a kind without one says so ----------------------

class ShopDryRun(Protocol):
    """A shop sink that can dry-run (B2, ``consume --dry-run``, ``sync --dry-run``)."""

    def dry_run(self, *, broker: BrokerConfig, shop: ShopConfig,
                events: Sequence[Mapping[str, Any]] | None = None, resync: bool = False,
                limit: int = ...) -> DryRunReport:
        """What applying ``events`` (None: the shop's queue, up to ``limit`` messages, left
        there; ``resync``: the events of a full sync) would change in the shop, with nothing
        written.

        Raises:
            DryRunRefused: the shop's database cannot promise to write nothing.
        """
        ...


class ResyncPreview(Protocol):
    """An ERP source that can say what a full sync would republish (``sync --dry-run``)."""

    def resync_preview(self, *, broker: BrokerConfig, tenant: TenantConfig, shop: ShopConfig,
                       entities: Collection[str]
                       ) -> tuple[list[dict[str, Any]], list[str]]: ...


# -- the registry -----------------------------------------------------------------------------

class _EntryPoint(Protocol):
    @property
    def name(self) -> str: ...
    def load(self) -> Any: ...


def _installed(group: str) -> Iterable[_EntryPoint]:
    return entry_points(group=group)


class Registry:
    """Kinds by role, read from entry points once per group; each object loaded once.

    Args:
        find: the entry points of a group (default: the installed distributions'); tests
            pass their own.
    """

    def __init__(self, find: Callable[[str], Iterable[_EntryPoint]] = _installed) -> None:
        self._find = find
        self._points: dict[str, dict[str, _EntryPoint]] = {}
        self._loaded: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()     # consumers in threads may look up concurrently

    def names(self, group: str) -> tuple[str, ...]:
        """The kinds registered for a role, sorted."""
        return tuple(sorted(self._group(group)))

    def all_names(self) -> frozenset[str]:
        """Every kind registered for any role (a config section of one of these names
        belongs to that kind)."""
        return frozenset(name for group in ROLES for name in self._group(group))

    def load(self, group: str, kind: str) -> Any:
        """The object registered for ``kind`` in ``group``.

        Raises:
            ConfigError: no such kind for this role (names the kind, the role and the known
                kinds).
        """
        with self._lock:
            if (group, kind) not in self._loaded:
                points = self._group(group)
                if kind not in points:
                    known = ", ".join(sorted(points)) or (
                        "none (is shopbridge installed? pip install -e .)")
                    raise ConfigError(f"kind {kind!r} has no {ROLES[group]} "
                                      f"(entry-point group {group}); known: {known}")
                self._loaded[group, kind] = points[kind].load()
            return self._loaded[group, kind]

    def _group(self, group: str) -> dict[str, _EntryPoint]:
        if group not in self._points:
            self._points[group] = {point.name: point for point in self._find(group)}
        return self._points[group]


registry = Registry()


def shop_sink(kind: str) -> ShopSink:
    return cast("ShopSink", registry.load(SHOP_SINKS, kind))


def shop_source(kind: str) -> ShopSource:
    return cast("ShopSource", registry.load(SHOP_SOURCES, kind))


def erp_source(kind: str) -> ErpSource:
    return cast("ErpSource", registry.load(ERP_SOURCES, kind))


def erp_sink(kind: str) -> ErpSink:
    return cast("ErpSink", registry.load(ERP_SINKS, kind))


def shop_dry_run(kind: str) -> ShopDryRun:
    """The shop sink of ``kind`` as a dry runner.

    Raises:
        DryRunRefused: the kind has no dry run yet.
    """
    sink = shop_sink(kind)
    if not callable(getattr(sink, "dry_run", None)):
        raise DryRunRefused(f"shop kind {kind!r} has no dry run yet")
    return cast("ShopDryRun", sink)


def resync_preview(kind: str) -> ResyncPreview:
    """The ERP source of ``kind`` as a sync previewer.

    Raises:
        DryRunRefused: the kind cannot preview a sync yet.
    """
    source = erp_source(kind)
    if not callable(getattr(source, "resync_preview", None)):
        raise DryRunRefused(f"ERP kind {kind!r} has no sync dry run yet")
    return cast("ResyncPreview", source)
