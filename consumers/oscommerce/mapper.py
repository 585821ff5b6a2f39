"""Product payload -> Phoenix row values. Pure: no I/O, so every rule here has a unit test.

Phoenix facts (reference/oscommerce/NOTES.md 2-3): prices are net; a product is visible when
products_status = 1 and a products_description row exists for the session language; names are
printed unescaped, so '<' and '>' must not reach them.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError

from ..catalogue import in_selection, shop_categories
from ..plan import content_hash
from .images import image_names
from .tables import NAME_MAX, PRICE_MAX, TEXT_MAX_BYTES, WEIGHT_MAX
from .text import plain_text
from .variants import NO_VARIANTS, Variants, map_variants

_WEIGHT_MAX = Decimal(str(WEIGHT_MAX))
_CENT = Decimal("0.01")
_TEXT_SAFE_CHARS = TEXT_MAX_BYTES // 4      # no text this long exceeds TEXT in UTF-8


@dataclass(frozen=True, slots=True)
class Description:
    language_id: int
    name: str
    description: str | None
    seo_title: str | None
    seo_description: str | None
    seo_keywords: str | None


@dataclass(frozen=True, slots=True)
class ProductRow:
    """What one product looks like in this shop, quantity aside (stock has its own version);
    a ``product_plan.MappedProduct``."""

    model: str
    price: Decimal
    tax_class_id: int
    weight: Decimal
    status: int
    gtin: str | None
    descriptions: tuple[Description, ...]
    specials: tuple[tuple[Decimal, str | None, str | None], ...] = ()
    manufacturers_id: int | None = None
    category_keys: tuple[str, ...] = ()
    date_available: str | None = None
    owns_date: bool = False        # the ERP has a date column: write date_available, even None
    images: tuple[str, ...] = ()        # main image first, then the gallery (C9)
    variants: Variants = NO_VARIANTS

    @property
    def sku(self) -> str:
        return self.model

    @property
    def shown(self) -> bool:
        return bool(self.status)

    def content_hash(self) -> str:
        """Fingerprint of everything written to products/products_description but quantity."""
        data = [self.model, str(self.price), self.tax_class_id, str(self.weight), self.status,
                self.gtin, [[d.language_id, d.name, d.description, d.seo_title,
                             d.seo_description, d.seo_keywords] for d in self.descriptions],
                [[str(p), f, u] for p, f, u in self.specials], self.manufacturers_id,
                list(self.category_keys), self.date_available, self.owns_date]
        # Appended only when present, so adding a field kind does not by itself change every
        # hash (date_available above was added unconditionally: one rewrite after upgrading).
        if self.images:
            data.append(list(self.images))
        if self.variants != NO_VARIANTS:
            data.append(self.variants.data())
        return content_hash(data)


def map_product(payload: Mapping[str, Any], *, shop: ShopConfig,
                language_ids: Mapping[str, int], what: str,
                manufacturer_ids: Mapping[str, int] | None = None,
                filter_categories: AbstractSet[str] | None = None) -> ProductRow:
    """Build the shop's view of one product.

    Args:
        payload: a validated product.upserted payload.
        language_ids: shop language code -> languages_id, for the shop's configured languages.
        what: how errors name the entity, e.g. 'product.upserted 12 (SKU AB-1)'.
        filter_categories: see ``consumers.catalogue.in_selection``.
    Raises:
        MappingError: naming the field that cannot be expressed in this shop.
    """
    tax_code = payload["tax"]["code"]
    tax_class_id = shop.tax_classes.get(tax_code)
    if tax_class_id is None:
        raise MappingError(f"{what}: field payload.tax.code: CAO tax code {tax_code} has no "
                           f"tax class in shop {shop.name!r} (add it to tax_classes)")
    level = str(shop.price_level)
    price_entry = payload["prices"].get(level)
    if price_entry is None:
        raise MappingError(f"{what}: field payload.prices.{level}: price level VK{level} "
                           f"missing for shop {shop.name!r}")
    price = _decimal(price_entry["net"], what, f"payload.prices.{level}.net")
    if not 0 <= price <= PRICE_MAX:
        raise MappingError(f"{what}: field payload.prices.{level}.net: {price} is outside "
                           "products_price decimal(15,4) >= 0")
    weight = _decimal(payload.get("weight") or "0", what, "payload.weight")
    if not 0 <= weight <= _WEIGHT_MAX:
        raise MappingError(f"{what}: field payload.weight: {weight} does not fit "
                           "products_weight decimal(5,2)")
    texts = payload["texts"]
    descriptions = []
    for code, language_id in sorted(language_ids.items(), key=lambda kv: kv[1]):
        # The producer puts the ERP's default language first: that is the fallback.
        text = texts.get(code) or next(iter(texts.values()))
        description = text.get("description") or text.get("short_description")
        # A character is at most 4 bytes: only a long text needs encoding to be measured.
        if description is not None and len(description) > _TEXT_SAFE_CHARS and \
                len(description.encode("utf-8")) > TEXT_MAX_BYTES:
            raise MappingError(f"{what}: field payload.texts.{code}.description: "
                               f"{len(description.encode('utf-8'))} bytes exceed "
                               f"products_description TEXT ({TEXT_MAX_BYTES} bytes)")
        name = plain_text(text["name"])
        if len(name) > NAME_MAX:
            source = code if code in texts else next(iter(texts))
            raise MappingError(f"{what}: field payload.texts.{source}.name: longer than "
                               f"products_name varchar({NAME_MAX}) once '<' and '>' are escaped")
        descriptions.append(Description(
            language_id=language_id, name=name, description=description,
            seo_title=text.get("meta_title"), seo_description=text.get("meta_description"),
            seo_keywords=text.get("meta_keywords")))
    status = 1 if in_selection(payload, shop.filter, filter_categories) else 0
    specials = tuple((_decimal(s["net"], what, "payload.specials.net"), s["from"], s["until"])
                     for s in payload.get("specials") or ())
    return ProductRow(model=payload["sku"], price=price, tax_class_id=tax_class_id,
                      weight=weight.quantize(_CENT), status=status,
                      gtin=payload.get("ean") or None, descriptions=tuple(descriptions),
                      specials=specials,
                      # A manufacturer this shop does not have (another CAO shop's) is none.
                      manufacturers_id=(manufacturer_ids or {}).get(
                          str(payload.get("manufacturer_id"))),
                      category_keys=shop_categories(payload, shop),
                      # Phoenix shows "available from" for a future date and never hides.
                      date_available=payload.get("date_available"),
                      owns_date="date_available" in payload,
                      images=image_names(payload, what),
                      variants=map_variants(payload, price=price, price_level=shop.price_level,
                                            language_ids=language_ids, what=what))


def _decimal(value: str, what: str, field: str) -> Decimal:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        raise MappingError(f"{what}: field {field}: {value!r} is not a decimal number"
                           ) from None
