"""Shop drivers of the contract suite, by kind. A new shop kind joins the suite here."""

from __future__ import annotations

from collections.abc import Callable

from tests.contract.shop import ShopDriver

from .oscommerce import OscommerceDriver
from .virtuemart import VirtuemartDriver

DRIVERS: dict[str, Callable[[], ShopDriver]] = {
    "oscommerce": OscommerceDriver,
    "virtuemart": VirtuemartDriver,
}
