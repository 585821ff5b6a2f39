"""The shop-neutral language of the contract suite: what a customer sees of an entity.

A driver (tests/contract/drivers/) reads its shop kind's tables and answers in these terms, so
the contract tests never name a table. Every read answers one of three ways:

- ``None``: the shop does not have the entity at all (never created);
- ``HIDDEN``: the shop keeps it, but no customer can find it (hidden, never deleted);
- a value object: the entity as the storefront shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from consumers.runner import Applier
from shopbridge.config import ShopConfig


class _Hidden:
    """The shop keeps the entity (orders and products may reference it) but shows it nowhere."""

    def __repr__(self) -> str:
        return "HIDDEN"


HIDDEN: Final = _Hidden()


@dataclass(frozen=True)
class Product:
    name: str                       # in the shop's first language
    price: Decimal                  # net, at the shop's price level
    quantity: int
    categories: frozenset[str]      # the category keys of the events (kat:1:7)
    manufacturer: str | None        # the manufacturer's name


@dataclass(frozen=True)
class Category:
    name: str                       # in the shop's first language
    parent: str | None              # the parent's category key; None: top level


@dataclass(frozen=True)
class Manufacturer:
    name: str
    url: str                        # in the shop's first language


@dataclass(frozen=True)
class Customer:
    firstname: str
    lastname: str
    street: str
    postcode: str
    city: str
    country_iso3: str


@dataclass(frozen=True)
class Order:
    status: int                               # the shop's status id
    history: tuple[tuple[int, str], ...]      # (status id, comment) of each change shown


Shown = Product | Category | Manufacturer | Customer | Order | _Hidden | None


class ShopDriver(Protocol):
    """One shop kind, for the contract suite: its database, its applier, its read-back."""

    kind: str

    def shop_entry(self) -> dict[str, Any]:
        """The shop's entry in the configuration (``[[tenants.shops]]``), with its kind."""
        ...

    def make_applier(self, shop: ShopConfig) -> Applier:
        """The applier the consumer of this kind runs with (the one place that makes it)."""
        ...

    def place_order(self) -> int:
        """An order placed in the shop, as its checkout writes it, with no status change
        recorded yet; returns the shop's order id."""
        ...

    def product(self, sku: str) -> Product | _Hidden | None: ...

    def category(self, key: str) -> Category | _Hidden | None: ...

    def manufacturer(self, key: str) -> Manufacturer | None: ...

    def customer(self, email: str) -> Customer | None: ...

    def order(self, order_id: int) -> Order | None: ...

    def fingerprint(self) -> Any:
        """A value that changes whenever any row the customer could see changes (the
        kind's own bookkeeping tables aside)."""
        ...

    def close(self) -> None:
        """Drop everything the driver created."""
        ...
