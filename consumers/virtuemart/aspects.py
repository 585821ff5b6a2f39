"""The slot where what only VirtueMart writes of a product plugs in: its price rows per
shopper group (prices.py, C4-C7) and its generated variant fields (variants.py, C8).

An aspect maps a payload to data of its own (``map``: pure, JSON-serialisable, so that it is
part of the product's content hash and an unchanged product costs nothing) and writes that
data for the batch's changed products (``write``, inside the batch's transaction, after the
product rows, their language rows and categories exist). The applier lists its aspects in one
place (``applier.VirtueMartApplier.aspects``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig

from .images import DEFAULT_FOLDER
from .options import VirtueMartOptions
from .prices import PriceSettings
from .shop import Language, Tables


@dataclass
class ShopFacts:
    """What the applier read from the shop (``read_shop``); shared by its writers."""

    shop: ShopConfig
    options: VirtueMartOptions
    tables: Tables
    languages: list[Language] = field(default_factory=list)
    currency_id: int | None = None          # the vendor's currency: prices are in it
    media_folder: str = DEFAULT_FOLDER      # config media_product_path (images.py)
    prices: PriceSettings | None = None     # built from the above (price_aspect.py)


@dataclass(frozen=True)
class MapContext:
    """What an aspect's ``map`` gets besides the payload."""

    what: str                # how errors name the event: 'product.upserted 12 (SKU AB-1)'
    tax_id: int              # the calc rule the product's CAO tax code maps to
    facts: ShopFacts


class VmAspect(Protocol):
    """What only VirtueMart writes of a product (see the module docstring); the applier
    adapts each to the core's ``shop_applier.ProductAspect`` callable."""

    name: str

    def map(self, payload: Mapping[str, Any], context: MapContext) -> Any:
        """The aspect's data for one product (JSON-serialisable; Decimals as strings).

        Raises:
            MappingError: naming the payload field the shop cannot express.
        """
        ...

    def write(self, conn: Connection, data: Mapping[int, Any], now: datetime) -> None:
        """Make each product's rows of this aspect exactly ``data`` (shop id -> mapped)."""
        ...
