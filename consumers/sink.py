"""What every sink kind's registered object shares (``shopbridge.kinds``): the consume loop
its appliers run in, and, for shops, reaching an image folder. A kind's ``kind.py`` subclasses
``Sink`` or ``ShopSinkParts`` and adds only what is its own."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from shopbridge import events as ev
from shopbridge.config import BrokerConfig, FolderConfig, ShopConfig
from shopbridge.db import create_engine, has_table, translated
from shopbridge.errors import DryRunRefused
from shopbridge.history import History, HistoryQuery
from shopbridge.kinds import Applier
from shopbridge.owntables import OwnTable
from shopbridge.rowdiff import DryRunReport
from shopbridge.topology import Target

from . import history
from .binder import LINK_TABLE, Binder
from .folders import Folder
from .runner import ShopConsumer


class Sink:
    def consumer(self, *, broker: BrokerConfig, target: Target,
                 applier: Applier) -> ShopConsumer:
        return ShopConsumer(broker=broker, target=target, applier=applier)


class ShopSinkParts(Sink):
    def applier(self, shop: ShopConfig) -> Applier:
        raise NotImplementedError     # each kind makes its own

    def own_tables(self, shop: ShopConfig) -> Sequence[OwnTable]:
        raise NotImplementedError

    def dry_run(self, *, broker: BrokerConfig, shop: ShopConfig,
                events: Sequence[Mapping[str, Any]] | None = None, resync: bool = False,
                limit: int = 10_000) -> DryRunReport:
        """B2: what applying would change in the shop, written nowhere (consumers/dryrun.py).
        ``events``: these (``sync --dry-run``: ``resync``, applied even at the version the
        shop has, as a sync's are); None: up to ``limit`` messages of the shop's work queue,
        which stay there (consumers/dryrun_queue.py).

        Raises:
            DryRunRefused: the shop's database cannot promise a rollback, or the kind's
                applier is not the catalogue core's.
            TargetUnavailable, BrokerUnavailable: a server is away.
        """
        if events is None and broker.embedded:
            raise DryRunRefused("consume --dry-run borrows the queue's messages from RabbitMQ; "
                                'it does not run on kind = "embedded" yet (sync --dry-run does)')
        from .dryrun import dry_apply, refuse_unless_safe
        from .dryrun_queue import Borrowed, borrowed
        from .shop_applier import ShopApplier

        applier = self.applier(shop)
        try:
            if not isinstance(applier, ShopApplier):
                raise DryRunRefused(f"shop kind {shop.kind!r} has no dry run yet")
            own = self.own_tables(shop)
            refuse_unless_safe(applier, own)      # before a message is taken
            if events is not None:
                taken = Borrowed(messages=0)
                for raw in events:
                    taken.events.append(ev.parse(raw, resync=resync))
                report = DryRunReport(events=len(taken.events))
                return dry_apply(applier, taken.batches(broker.batch_size),
                                 own_tables=own, report=report)
            with borrowed(broker, Target.for_shop(shop), limit=limit) as taken:
                report = DryRunReport(events=len(taken.events) + len(taken.invalid),
                                      messages=taken.messages,
                                      failed=[f"dead letter: {why}" for why in taken.invalid])
                if taken.messages >= limit:
                    report.notes.append(f"only the first {limit} message(s) of the queue "
                                        f"were read (--limit)")
                return dry_apply(applier, taken.batches(broker.batch_size),
                                 own_tables=own, report=report)
        finally:
            applier.close()
    def open_orders_deducted(self) -> bool | None:
        """A kind that says nothing has no oversell guard (``config`` refuses it, by kind)."""
        return None

    def probe_folder(self, folder: FolderConfig) -> object:
        return Folder(folder).probe()

    def reset(self, shop: ShopConfig, entities: Collection[str]) -> dict[str, int]:
        """Forget the shop's links of these entity types (``shopbridge reset``, P4); returns
        how many per type. The shop's own rows stay: the next sync adopts them by SKU (and
        name, e-mail) instead of creating them twice."""
        engine = create_engine(shop.db)
        try:
            with translated(f"database of shop {shop.name!r} ({shop.db.safe})"), \
                    engine.begin() as conn:
                if not has_table(conn, LINK_TABLE):
                    return dict.fromkeys(entities, 0)
                return {entity: Binder().forget_type(conn, entity) for entity in entities}
        finally:
            engine.dispose()

    def history(self, shop: ShopConfig, query: HistoryQuery) -> History:
        """``shopbridge history``: the entity's events and its link rows (read only).

        Raises:
            TargetUnavailable: the shop's database is away.
        """
        engine = create_engine(shop.db)
        try:
            with translated(f"database of shop {shop.name!r} ({shop.db.safe})"), \
                    engine.connect() as conn:
                return history.read(conn, query)
        finally:
            engine.dispose()
