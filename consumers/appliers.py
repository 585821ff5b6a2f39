"""Which applier serves which kind of shop."""

from __future__ import annotations

from shopbridge.config import ShopConfig
from shopbridge.errors import ConfigError

from .oscommerce import PhoenixApplier


def make_applier(shop: ShopConfig) -> PhoenixApplier:
    if shop.kind == "oscommerce":
        return PhoenixApplier(shop=shop)
    raise ConfigError(f"shop {shop.name!r}: no consumer for kind {shop.kind!r}")
