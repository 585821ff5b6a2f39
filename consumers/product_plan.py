"""What a batch of product events changes in a shop, decided per aspect before any write.

Shop-neutral: a shop kind maps a payload to its own row type (anything that is a
``MappedProduct``); the plan says which products are new, which rows change, which are
hidden and which quantities change, and records the applied versions in the link rows.
Versions are judged per aspect (consumers/plan.py): the product state (product.upserted /
product.deleted) and the stock (stock.changed, and the stock inside a product.upserted), so a
stock event can never make a newer text change look stale. The stock aspect includes each
variant child's own stock (``variants[].stock`` in both event types) for a shop whose children
are products of their own (VirtueMart); a shop without variant stock (osCommerce) takes the
master's sum alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from shopbridge.events import Event

from .binder import Link
from .catalogue import quantity
from .plan import STOCK, mark_applied, stale_note


class MappedProduct(Protocol):
    """What the core reads of a shop kind's product row (the rest is the kind's own)."""

    @property
    def sku(self) -> str: ...

    @property
    def shown(self) -> bool:
        """In this shop's selection (C11): visible in the shop."""
        ...

    @property
    def category_keys(self) -> tuple[str, ...]: ...

    @property
    def images(self) -> tuple[str, ...]:
        """File names, main image first (C9); empty: the ERP names none."""
        ...

    def content_hash(self) -> str:
        """Fingerprint of everything written for the product but its quantity."""
        ...


RowT = TypeVar("RowT", bound=MappedProduct)


@dataclass(slots=True)
class NewProduct(Generic[RowT]):
    row: RowT
    quantity: int
    target_id: int | None = None        # set by the shop's insert

    @property
    def target(self) -> int:
        """The shop id the insert gave it.

        Raises:
            LookupError: not inserted yet (a bug in the shop's insert, not a data error).
        """
        if self.target_id is None:
            raise LookupError(f"product {self.row.sku} has no shop id yet")
        return self.target_id


@dataclass
class ProductPlan(Generic[RowT]):
    """A batch's product changes by entity key."""

    new: dict[str, NewProduct[RowT]] = field(default_factory=dict)
    update: dict[str, RowT] = field(default_factory=dict)
    hide: set[str] = field(default_factory=set)
    quantities: dict[str, int] = field(default_factory=dict)
    # Entity key -> variant child's ERP id -> its quantity, from the newest stock of the batch.
    variant_quantities: dict[str, dict[int, int]] = field(default_factory=dict)
    unsupported: Counter[str] = field(default_factory=Counter)
    # Updates not known to change anything (a full sync's rewrite, an adopted product): the
    # store keeps their timestamps where no value differs.
    unknown: set[str] = field(default_factory=set)

    def changed(self) -> list[tuple[str, RowT]]:
        """The rows written in full: new products first, then updated ones."""
        return [*((k, n.row) for k, n in self.new.items()), *self.update.items()]


class ProductPlanner(Generic[RowT]):
    """Args:
        map_row: the shop kind's mapping of a product.upserted event to its row.
        stock_mode: the shop's ``stock_mode`` (see ``catalogue.quantity``).
        unsupported: payload field -> what this shop cannot express of it (e.g. 'tiers' ->
            'tier prices'), counted for each shown product whose payload has it.
        variant_stock: whether the shop keeps a stock per variant child (VirtueMart): then
            a newer stock plans every child's quantity, also when the master's sum stayed.
        shop: the shop's name: where the event carries a ``shop_stock`` for it (the oversell
            guard, B3), that is its stock instead of the ERP's.
        resync_stock: whether a full sync's product event writes the quantity again (drift
            ``--repair`` puts a hand-edited stock right). Not where the shop's quantity holds
            its own checkout decrements that CAO has not booked yet (osCommerce without the
            guard): the sync would give those units back and open an oversell window.
    """

    def __init__(self, *, map_row: Callable[[Event], RowT], stock_mode: str,
                 unsupported: Mapping[str, str], variant_stock: bool = False,
                 shop: str | None = None, resync_stock: bool = True) -> None:
        self.map_row = map_row
        self.resync_stock = resync_stock
        self.stock_mode = stock_mode
        self.unsupported = dict(unsupported)
        self.variant_stock = variant_stock
        self.shop = shop

    def stock_of(self, item: Mapping[str, Any]) -> str:
        """The stock of a payload (or of one of its variants) for this shop: the guarded
        one where the producer computed one for it (B3), else the ERP's."""
        guarded: Mapping[str, str] = item.get("shop_stock") or {}
        return guarded.get(self.shop or "", item["stock"])

    def plan(self, event: Event, link: Link, plan: ProductPlan[RowT]) -> str | None:
        """Decide what ``event`` changes; returns why it changes nothing, or None."""
        if event.type == "stock.changed":
            return self.plan_stock(event, link, plan, self.stock_of(event.payload))
        stale = stale_note(link, event)
        if stale:
            # Each aspect is judged by its own version: a product.upserted older than a
            # delete still carries the newest stock we have heard of.
            if event.type == "product.upserted":
                self.plan_stock(event, link, plan, self.stock_of(event.payload))
            return stale
        key = event.entity_key
        mark_applied(link, event)
        if event.type == "product.deleted":
            link.content_hash, link.shown = None, False
            if plan.new.pop(key, None) is not None:
                return "created and deleted in the same batch: not created"
            if link.target_id is not None:
                plan.hide.add(key)
                return None
            return "not in the shop; remembered as deleted"
        row = self.map_row(event)
        if row.shown:
            names = [name for field_name, name in self.unsupported.items()
                     if event.payload.get(field_name)]
            if names:       # most products have none: no Counter.update per event
                plan.unsupported.update(names)
        link.shown = row.shown
        self.plan_stock(event, link, plan, self.stock_of(event.payload))
        if link.target_id is None:
            if not row.shown:
                return "not in this shop's selection"
            qty = quantity(link.stock or self.stock_of(event.payload), self.stock_mode)
            plan.new[key] = NewProduct(row=row, quantity=qty)
            plan.quantities.pop(key, None)
            link.content_hash = row.content_hash()
            return None
        new_hash = row.content_hash()
        if new_hash == link.content_hash and not event.resync:
            return None if key in plan.quantities else "unchanged in this shop"
        plan.update[key] = row
        if link.content_hash is None or new_hash == link.content_hash:
            plan.unknown.add(key)
        link.content_hash = new_hash
        return None

    def plan_stock(self, event: Event, link: Link, plan: ProductPlan[RowT],
                   stock: str) -> str | None:
        """Plan the stock ``event`` carries; returns why it changes nothing, or None."""
        stale = stale_note(link, event, STOCK)
        if stale:
            return stale
        # A full sync's event (``Event.resync``) writes the quantity again: the shop's may
        # have been edited by hand (``shopbridge drift`` finds it, ``--repair`` resends it).
        changed = (link.stock is None or Decimal(link.stock) != Decimal(stock)
                   or (event.resync and event.type == "product.upserted"
                       and (self.resync_stock or event.repair)))
        link.stock_version, link.stock, link.dirty = event.version, stock, True
        if event.type == "stock.changed":
            link.event_id = event.event_id
        qty = quantity(stock, self.stock_mode)
        children = self._variant_quantities(event)
        if children:
            # Unlike the sum, no child stock is kept to compare with: written as it comes
            # (an unchanged value changes no row).
            plan.variant_quantities[event.entity_key] = children
        if event.entity_key in plan.new:
            plan.new[event.entity_key].quantity = qty
        elif link.target_id is not None and changed:
            plan.quantities[event.entity_key] = qty
        elif not changed and not (children and event.type == "stock.changed"):
            return "stock unchanged"
        return None

    def _variant_quantities(self, event: Event) -> dict[int, int]:
        """Child ERP id -> quantity of the variants ``event`` carries (none where the shop
        keeps no stock per variant)."""
        if not self.variant_stock:
            return {}
        return {int(child["erp_id"]): quantity(self.stock_of(child), self.stock_mode)
                for child in event.payload.get("variants") or ()}

    def quantity(self, link: Link) -> int:
        """The quantity a product's row gets from the stock its link records."""
        return quantity(link.stock or "0", self.stock_mode)
