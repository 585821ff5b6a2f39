"""Product payload -> the VirtueMart product row. Pure: no I/O.

One language row per active language (NOTES 2): the text of the ERP language the Joomla tag
stands for ('de-DE' -> 'de'), else of the shop's first configured language, else the
payload's first (the ERP's default language). Sizes are the shop's own (information_schema).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shopbridge.errors import MappingError

from ..catalogue import in_selection, shop_categories
from ..plan import content_hash
from .aspects import MapContext, ShopFacts, VmAspect
from .images import image_names
from .shop import Language

TEXT_MAX_BYTES = 65535           # product_desc TEXT
WEIGHT_MAX = Decimal("999999.9999")   # decimal(10,4)
WEIGHT_UOM = "KG"                # CAO weights are kilograms


@dataclass(frozen=True, slots=True)
class ProductText:
    tag: str                     # the Joomla language tag of the row's table
    name: str
    short_description: str
    description: str | None
    meta_description: str
    meta_keywords: str
    custom_title: str


@dataclass(frozen=True, slots=True)
class ProductRow:
    """What one product looks like in this shop, quantity aside; a ``MappedProduct``."""

    sku: str
    gtin: str | None
    weight: Decimal | None
    published: int
    texts: tuple[ProductText, ...]
    tax_id: int
    manufacturer_id: int | None = None
    category_keys: tuple[str, ...] = ()
    available_date: str | None = None
    availability: str | None = None
    # Aspect name -> its mapped data (aspects.py: prices, variants).
    aspects: tuple[tuple[str, Any], ...] = ()
    images: tuple[str, ...] = ()           # main image first (C9, images.py)

    @property
    def shown(self) -> bool:
        return bool(self.published)

    def aspect(self, name: str) -> Any:
        return dict(self.aspects).get(name)

    def content_hash(self) -> str:
        """Fingerprint of everything written for the product but its quantity."""
        data = [self.sku, self.gtin, str(self.weight), self.published,
                [[t.tag, t.name, t.short_description, t.description, t.meta_description,
                  t.meta_keywords, t.custom_title] for t in self.texts],
                self.tax_id, self.manufacturer_id, list(self.category_keys),
                self.available_date, self.availability, [list(a) for a in self.aspects],
                list(self.images)]
        return content_hash(data)


def map_product(payload: Mapping[str, Any], *, facts: ShopFacts, what: str,
                aspects: Sequence[VmAspect] = (),
                manufacturer_ids: Mapping[str, int] | None = None,
                filter_categories: AbstractSet[str] | None = None) -> ProductRow:
    """Build the shop's view of one product.

    Raises:
        MappingError: naming the field that cannot be expressed in this shop.
    """
    shop = facts.shop
    tax_code = payload["tax"]["code"]
    tax_id = shop.tax_classes.get(tax_code)
    if tax_id is None:
        raise MappingError(f"{what}: field payload.tax.code: CAO tax code {tax_code} has no "
                           f"tax rule in shop {shop.name!r} (add it to tax_classes)")
    weight = None
    if payload.get("weight") is not None:
        try:
            weight = Decimal(payload["weight"])
        except (InvalidOperation, TypeError):
            raise MappingError(f"{what}: field payload.weight: {payload['weight']!r} is not "
                               "a decimal number") from None
        if not 0 <= weight <= WEIGHT_MAX:
            raise MappingError(f"{what}: field payload.weight: {weight} does not fit "
                               "product_weight decimal(10,4)")
    texts = tuple(_text(payload, tag_language, facts, what)
                  for tag_language in facts.languages)
    context = MapContext(what=what, tax_id=tax_id, facts=facts)
    options = facts.options
    delivery = payload.get("delivery_time_id")
    return ProductRow(
        sku=payload["sku"], gtin=payload.get("ean") or None,
        weight=None if weight is None else weight.quantize(Decimal("0.0001")),
        published=1 if in_selection(payload, shop.filter, filter_categories) else 0,
        texts=texts, tax_id=tax_id,
        # A manufacturer this shop does not have (another CAO shop's) is none.
        manufacturer_id=(manufacturer_ids or {}).get(str(payload.get("manufacturer_id"))),
        category_keys=shop_categories(payload, shop),
        available_date=payload.get("date_available"),
        availability=options.availability.get(delivery) if delivery is not None else None,
        aspects=tuple((a.name, a.map(payload, context)) for a in aspects),
        images=image_names(payload, what, facts.media_folder))


def pick_text(payload: Mapping[str, Any], language: Language, facts: ShopFacts
              ) -> tuple[str, Mapping[str, Any]]:
    """(ERP language code, texts) a shop language's row shows (see the module docstring)."""
    texts = payload["texts"]
    code = next((c for c in (language.code, *facts.shop.languages) if c in texts),
                next(iter(texts)))
    return code, texts[code]


def _text(payload: Mapping[str, Any], language: Language, facts: ShopFacts,
          what: str) -> ProductText:
    code, text = pick_text(payload, language, facts)
    limits = {"name": ("product_name", text["name"]),
              "short_description": ("product_s_desc", text.get("short_description") or ""),
              "meta_description": ("metadesc", text.get("meta_description") or ""),
              "meta_keywords": ("metakey", text.get("meta_keywords") or ""),
              "meta_title": ("customtitle", text.get("meta_title") or "")}
    for field_name, (column, value) in limits.items():
        size = language.size("products", column, 400)
        if len(value) > size:
            raise MappingError(f"{what}: field payload.texts.{code}.{field_name}: "
                               f"{len(value)} characters; {column} of "
                               f"{facts.tables.lang('products', language)} holds {size}")
    description = text.get("description")
    if description is not None and len(description.encode()) > TEXT_MAX_BYTES:
        raise MappingError(f"{what}: field payload.texts.{code}.description: more than "
                           f"{TEXT_MAX_BYTES} bytes (product_desc is TEXT)")
    return ProductText(tag=language.tag, name=text["name"],
                       short_description=limits["short_description"][1],
                       description=description,
                       meta_description=limits["meta_description"][1],
                       meta_keywords=limits["meta_keywords"][1],
                       custom_title=limits["meta_title"][1])
