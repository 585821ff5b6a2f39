"""A shop feed: new rows of one kind in a shop database (orders, accounts) become events for
the ERP, page by page: read a page of ids → load → validate → publish → record.

Each page is published (packed, windowed confirms) and only then recorded in the feed's
``PublishedLog``, so a crash re-publishes rather than loses; the ERP side deduplicates by
``entity_key`` (``<shop>:<shop id>``). A row the schema refuses is not recorded: it is tried
again next cycle (e.g. after a fix). A row that is not final yet (an unpaid order, a
registration still running) is waited for: never read, only counted.

A shop kind supplies its queries and its payload builder by subclassing ``ShopFeed``; the
loop, the publish and the record are the same for every kind.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa

from shopbridge import events as ev
from shopbridge import schemas, topology
from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import create_engine, translated
from shopbridge.errors import PermanentError
from shopbridge.publisher import BrokerSession, pack

from .published import PublishedLog

log = logging.getLogger(__name__)

Loaded = TypeVar("Loaded")   # what a feed's ``_load`` reads per shop id


@dataclass(frozen=True)
class FeedCount:
    new: int        # final and not yet published
    waiting: int    # not final yet: waited for, never published


@dataclass
class FeedReport:
    published: int = 0
    waiting: int = 0
    rejected: list[str] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0


class ShopFeed(ABC, Generic[Loaded]):
    """One shop's feed of one event type to its tenant's ERP queue.

    Args:
        broker: broker settings.
        shop: the shop whose rows are read.
        engine: an engine on the shop database (default: one made from ``shop.db``).
    """

    kind: ClassVar[str]              # the shop kind, e.g. "oscommerce": the events' source
    event_type: ClassVar[str]        # e.g. "order.placed"
    noun: ClassVar[str]              # one row in a message, e.g. "order"
    published_log: ClassVar[PublishedLog]
    waiting_note: ClassVar[str]      # logged after a cycle, e.g. "orders wait for ..."

    def __init__(self, *, broker: BrokerConfig, shop: ShopConfig,
                 engine: sa.Engine | None = None) -> None:
        self.broker = broker
        self.shop = shop
        self.engine = engine or create_engine(shop.db)
        self.what = f"database of shop {shop.name!r} ({shop.db.safe})"
        self.source_name = f"{self.kind}:{shop.name}"
        self.session = BrokerSession(broker, [topology.Target.for_erp(shop.tenant)])
        self.stop_event = threading.Event()

    def close(self) -> None:
        self.session.close()
        self.engine.dispose()

    # -- what a shop kind supplies -----------------------------------------------------------

    @property
    @abstractmethod
    def first_id(self) -> int:
        """Rows below this shop id are never sent (the shop's history before switching over)."""

    @abstractmethod
    def _count(self, conn: sa.Connection, *, published_known: bool) -> FeedCount:
        """New and waiting rows; ``published_known``: the published log exists."""

    @abstractmethod
    def _page(self, conn: sa.Connection, after: int) -> list[int]:
        """The next page of final, unpublished shop ids above ``after``, ascending."""

    @abstractmethod
    def _load(self, conn: sa.Connection, ids: Sequence[int]) -> list[tuple[int, Loaded]]:
        """(shop id, what the payload is built from) of ``ids``, in one read transaction."""

    @abstractmethod
    def _payload(self, loaded: Loaded) -> dict[str, Any]:
        """The event payload (not validated yet).

        Raises:
            PermanentError: the row cannot be sent as it is (reported, not recorded).
        """

    # -- cycles ----------------------------------------------------------------------------

    def prepare(self) -> None:
        with translated(self.what), self.engine.begin() as conn:
            self.published_log.ensure(conn)

    def count(self) -> FeedCount:
        """New (final, unpublished) and waiting (not final yet) rows; read-only."""
        with translated(self.what), self.engine.connect() as conn:
            return self._count(conn, published_known=self.published_log.exists(conn))

    def run_once(self) -> FeedReport:
        """Publish every final row not published yet, page by page, until done or stopped.

        Raises:
            BrokerUnavailable: publishing failed; the page was not recorded (retried next
                cycle), earlier pages stay recorded.
            TargetUnavailable, TransientDatabaseError: the shop database failed.
        """
        started = time.monotonic()
        report = FeedReport()
        with translated(self.what), self.engine.connect() as conn:
            self.published_log.ensure(conn)
            conn.commit()
            after = self.first_id - 1
            while not self.stop_event.is_set():
                ids = self._page(conn, after)
                if not ids:
                    break
                after = ids[-1]
                loaded = self._load(conn, ids)
                conn.commit()  # end the read: the InnoDB snapshot stays short
                self.published_log.record(conn, self._publish(loaded, report))
                conn.commit()
            report.waiting = self._count(conn, published_known=True).waiting
            conn.commit()
        report.seconds = time.monotonic() - started
        if report.waiting:
            log.info("shop %s: %d %s", self.shop.name, report.waiting, self.waiting_note)
        return report

    def _publish(self, page: Sequence[tuple[int, Loaded]],
                 report: FeedReport) -> list[tuple[int, str]]:
        """Validate, pack and publish; returns (shop id, event_id) of what was published."""
        valid: list[tuple[int, dict[str, Any]]] = []
        for shop_id, loaded in page:
            what = f"{self.noun} {shop_id} of shop {self.shop.name}"
            try:
                event = ev.make_event(self.event_type, tenant=self.shop.tenant,
                                      source=self.source_name,
                                      entity_key=f"{self.shop.name}:{shop_id}",
                                      version=ev.next_version(None),
                                      payload=self._payload(loaded))
                schemas.validate(event)
            except PermanentError as err:
                report.rejected.append(f"{what}: {err}")
                log.warning("%s not published: %s", what, err)
                continue
            valid.append((shop_id, event))
        if not valid:
            return []
        messages = pack([event for _, event in valid],
                        exchange=topology.exchange_name(self.broker.namespace),
                        routing_key=topology.routing_key(self.shop.tenant, self.event_type),
                        size=self.broker.pack_size)
        report.messages += self.session.publish(messages)
        report.published += len(valid)
        return [(shop_id, event["event_id"]) for shop_id, event in valid]


class OrderFeed(ShopFeed[dict[str, Any]]):
    """A shop kind's order producer: ``order.placed`` from the shop's
    ``orders.first_order_id`` on; its ``_load`` builds whole pages of payloads (lines and
    totals read per page, not per order)."""

    event_type = "order.placed"
    noun = "order"

    @property
    def first_id(self) -> int:
        return self.shop.orders.first_order_id

    def _payload(self, loaded: dict[str, Any]) -> dict[str, Any]:
        return loaded
