"""What every sink kind's registered object shares (``shopbridge.kinds``): the consume loop
its appliers run in, and, for shops, reaching an image folder. A kind's ``kind.py`` subclasses
``Sink`` or ``ShopSinkParts`` and adds only what is its own."""

from __future__ import annotations

from shopbridge.config import BrokerConfig, FolderConfig
from shopbridge.kinds import Applier
from shopbridge.topology import Target

from .folders import Folder
from .runner import ShopConsumer


class Sink:
    def consumer(self, *, broker: BrokerConfig, target: Target,
                 applier: Applier) -> ShopConsumer:
        return ShopConsumer(broker=broker, target=target, applier=applier)


class ShopSinkParts(Sink):
    def probe_folder(self, folder: FolderConfig) -> object:
        return Folder(folder).probe()
