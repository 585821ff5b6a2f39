"""Which applier serves which kind of shop: the one its registered shop sink makes."""

from __future__ import annotations

from shopbridge import kinds
from shopbridge.config import ShopConfig


def make_applier(shop: ShopConfig) -> kinds.Applier:
    """The applier of the shop's kind (``kinds.shop_sink``).

    Raises:
        ConfigError: no shop sink is registered for the shop's kind.
    """
    return kinds.shop_sink(shop.kind).applier(shop)
