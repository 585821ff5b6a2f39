"""The variant aspect of a VirtueMart product (C8): ``variants.py`` plans the parent's
multi-variant field and its children, ``variant_writer.VariantWriter`` writes the field and
what makes the children children, the product store (``VmProductStore.children``) finds or
creates the child products themselves.

What a child gets of its own (the rest it inherits from the parent in VirtueMart):
- its stock, counted as the shop's ``stock_mode`` counts the parent's: written here only when
  the child is made; afterwards the stock aspect writes it (``variants[].stock`` of the
  newest stock.changed v2 or product.upserted, versioned apart from the product state, through
  ``VmProductStore.set_variant_quantities``);
- a name per active language, the parent's name in that language and its values
  ("T-Shirt Rot / XL", ``variants.child_name``);
- price rows from its own prices per level (``variants[].prices``) with the parent's offers
  (an offer is one net price for every level, so it applies to each child where cheaper);
  the parent's quantity tiers are absolute prices of the parent and are not carried over.
Child names and prices are part of the aspect's data, so a change to any of them changes the
parent's content hash and is written. The children's stock is in the data too (for a child
that is made), but a child's stock change alone comes as stock.changed, which this aspect
never sees: the CAO producer leaves stock out of the article hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ..binder import Binder
from ..catalogue import quantity
from .aspects import MapContext, ShopFacts
from .mapper import pick_text
from .price_aspect import ProductPrices
from .prices import PriceRow, price_rows
from .store import ChildDetails, VmProductStore
from .variant_writer import VariantWriter
from .variants import NO_VARIANTS, ChildSpec, VariantPlan, child_name, plan_variants


@dataclass(frozen=True, slots=True)
class _Parent:
    variants: VariantPlan


class ProductVariants:
    """VmAspect ``variants``: None for a product without variants, else its plan and
    its children's stock, names and price rows as data."""

    name = "variants"

    def __init__(self, facts: ShopFacts, *, store: VmProductStore, prices: ProductPrices,
                 binder: Binder) -> None:
        self.facts = facts
        self.store = store
        self.prices = prices
        self.binder = binder

    def map(self, payload: Mapping[str, Any], context: MapContext) -> Any:
        languages = self.facts.languages
        plan = plan_variants(payload, language=languages[0].code if languages else
                             self.facts.shop.languages[0], what=context.what)
        if not plan:
            return None
        names = {language.tag: pick_text(payload, language, self.facts)[1]["name"]
                 for language in languages}
        by_erp_id = {int(child["erp_id"]): child for child in payload["variants"]}
        children = []
        for spec in plan.children:
            child = by_erp_id[spec.erp_id]
            rows = price_rows({**payload, "prices": child["prices"], "tiers": []},
                              self.prices.settings(), tax_id=context.tax_id,
                              what=f"{context.what} variant {spec.sku}")
            children.append([
                # The guarded stock where the producer computed one for this shop (B3).
                spec.erp_id, quantity((child.get("shop_stock") or {}).get(
                    self.facts.shop.name, child["stock"]), self.facts.shop.stock_mode),
                {tag: self._name(tag, child_name(name, spec)) for tag, name in names.items()},
                [row.data() for row in rows]])
        return {"plan": plan.data(), "children": children}

    def write(self, conn: Connection, data: Mapping[int, Any], now: datetime) -> None:
        details = {int(erp_id): ChildDetails(quantity=int(qty), names=dict(names),
                                             prices=[PriceRow.from_data(r) for r in rows])
                   for item in data.values() if item
                   for erp_id, qty, names, rows in item["children"]}

        def child_products(conn: Connection, children: Mapping[int, Sequence[ChildSpec]]
                           ) -> Mapping[int, int]:
            return self.store.children(conn, children, details, now)

        writer = VariantWriter(tables=self.facts.tables, child_products=child_products,
                               binder=self.binder)
        writer(conn, {pid: _Parent(VariantPlan.from_data(item["plan"]) if item
                                   else NO_VARIANTS) for pid, item in data.items()})

    def _name(self, tag: str, name: str) -> str:
        """A child's name cut to its language table's product_name (the parent's fits)."""
        language = next(x for x in self.facts.languages if x.tag == tag)
        return name[:language.size("products", "product_name", 400)]
