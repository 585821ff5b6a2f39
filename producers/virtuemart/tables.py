"""The VirtueMart (and Joomla) tables the order and account producers read, under the shop's
Joomla prefix.

The prefix is the ``[tenants.shops.virtuemart]`` option the catalogue consumer parses (a letter,
then letters, digits and '_'); a producer never imports a consumer, so it is read off the
parsed options by name and checked again before it becomes part of table names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from shopbridge.config import ShopConfig
from shopbridge.db import has_table
from shopbridge.errors import ConfigError
from systems.virtuemart.config import active_language_tags

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# The tables ``check`` requires: without them no order can be read.
ORDER_TABLES = ("orders", "order_items", "order_userinfos", "order_calc_rules", "countries",
                "states", "currencies", "paymentmethods", "shipmentmethods", "configs")
# ... and the account producer: without them no account can be read (Joomla's users apart).
ACCOUNT_TABLES = ("vmusers", "userinfos", "countries", "states")


@dataclass(frozen=True)
class VmTables:
    prefix: str

    @classmethod
    def of(cls, shop: ShopConfig) -> VmTables:
        """Raises:
            ConfigError: the shop has no usable [virtuemart] prefix."""
        prefix = getattr(shop.options, "prefix", None)
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ConfigError(f"shop {shop.name!r}: the [virtuemart] section with the Joomla "
                              "table prefix is missing (prefix = \"jos_\")")
        return cls(prefix)

    def name(self, base: str) -> str:
        return f"{self.prefix}virtuemart_{base}"

    orders = property(lambda self: self.name("orders"))
    order_items = property(lambda self: self.name("order_items"))
    order_userinfos = property(lambda self: self.name("order_userinfos"))
    order_calc_rules = property(lambda self: self.name("order_calc_rules"))
    countries = property(lambda self: self.name("countries"))
    states = property(lambda self: self.name("states"))
    currencies = property(lambda self: self.name("currencies"))
    vmusers = property(lambda self: self.name("vmusers"))
    userinfos = property(lambda self: self.name("userinfos"))

    @property
    def users(self) -> str:
        """Joomla's accounts (``#__users``: the e-mail, the block flag)."""
        return f"{self.prefix}users"

    def methods(self, kind: str) -> str:
        """``payment`` or ``shipment``: the methods table."""
        return self.name(f"{_kind(kind)}methods")

    def methods_lang(self, kind: str, tag: str) -> str:
        """The methods' language table of a Joomla tag ('de-DE' -> ``..._de_de``); tags come
        from ``languages`` (checked there), never from an order row unchecked."""
        return self.name(f"{_kind(kind)}methods_{tag.lower().replace('-', '_')}")

    def languages(self, conn: sa.Connection) -> list[str]:
        """The shop's active language tags (checked: they become table names)."""
        return active_language_tags(conn, self.prefix)

    def has(self, conn: sa.Connection, table: str) -> bool:
        return has_table(conn, table)


def _kind(kind: str) -> str:
    if kind not in ("payment", "shipment"):
        raise ValueError(f"no {kind!r} methods in VirtueMart")
    return kind
