"""What every sink kind's registered object shares (``shopbridge.kinds``): the consume loop
its appliers run in, and, for shops, reaching an image folder. A kind's ``kind.py`` subclasses
``Sink`` or ``ShopSinkParts`` and adds only what is its own."""

from __future__ import annotations

from collections.abc import Collection

from shopbridge.config import BrokerConfig, FolderConfig, ShopConfig
from shopbridge.db import create_engine, has_table, translated
from shopbridge.history import History, HistoryQuery
from shopbridge.kinds import Applier
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
