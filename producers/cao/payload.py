"""CAO article rows -> product.upserted payload. Pure, so every CAO rule here is unit tested.

Rules (DESIGN 4a): German lives in ARTIKEL itself (KURZNAME = name, SHOP_KURZTEXT /
SHOP_LANGTEXT = short / long description, LANGNAME where there is no shop text); other
languages come from ARTIKEL_LTEXT; a missing translation falls back to German. VKn is net and
VKnB gross. Prices travel as decimal strings, never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shopbridge.keys import PRODUCT_GROUPS, category_key

TEXT_FIELDS = ("name", "short_description", "description", "meta_title", "meta_description",
               "meta_keywords")


def text_or_none(value: Any) -> str | None:
    """Stripped text, or None for NULL and blank (CAO stores either for "not given")."""
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None


CENT = Decimal("0.01")
TIER_BREAKS = (2, 3, 4, 5)          # ARTIKEL_PREIS MENGEk / PREISk
USER_FIELDS = tuple(f"USERFELD_{n:02d}" for n in range(1, 11))
# (payload key, column(s)) of what build reads per price level and free field.
_PRICE_COLUMNS = tuple((str(n), f"VK{n}", f"VK{n}B") for n in range(1, 6))
_IMAGE_COLUMNS = ("SHOP_IMAGE", "SHOP_IMAGE_MED", "SHOP_IMAGE_LARGE")
_USER_KEYS = tuple((column[-2:], column) for column in USER_FIELDS)


def _dec(value: Any) -> str:
    # str(Decimal(d)) is str(d) for a Decimal: the driver's DECIMAL columns skip the copy.
    if type(value) is Decimal:
        return str(value)
    return str(Decimal(value if value is not None else 0))


def tier_prices(article: Mapping[str, Any], tier_row: Mapping[str, Any] | None
                ) -> list[dict[str, Any]]:
    """CAO's quantity breaks as absolute prices per level (DESIGN 4a).

    MENGEk > 0 means "from MENGEk pieces, PREISk percent off the level's price", rounded to
    cents as CAO's article form computes it; the payload carries the result, so no shop has
    to know CAO's rule.
    """
    if not tier_row:
        return []
    tiers = []
    for k in TIER_BREAKS:
        qty = tier_row.get(f"MENGE{k}") or 0
        if int(qty) <= 0:
            continue
        factor = 1 - Decimal(tier_row.get(f"PREIS{k}") or 0) / 100
        tiers.append({"min_qty": int(qty), "prices": {
            str(n): {"net": str((Decimal(article[f"VK{n}"]) * factor).quantize(
                         CENT, ROUND_HALF_UP)),
                     "gross": str((Decimal(article[f"VK{n}B"]) * factor).quantize(
                         CENT, ROUND_HALF_UP))}
            for n in range(1, 6)}})
    return sorted(tiers, key=lambda t: t["min_qty"])


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


def texts_of(row: Mapping[str, Any], fallback_name: str) -> dict[str, str | None]:
    """Texts of one language from an ARTIKEL or ARTIKEL_LTEXT row."""
    get = row.get
    return {
        "name": text_or_none(get("KURZNAME")) or fallback_name,
        "short_description": text_or_none(get("SHOP_KURZTEXT")),
        "description": text_or_none(get("SHOP_LANGTEXT")) or text_or_none(get("LANGNAME")),
        "meta_title": text_or_none(get("SHOP_META_TITEL")),
        "meta_description": text_or_none(get("SHOP_META_BESCHR")),
        "meta_keywords": text_or_none(get("SHOP_META_KEY")),
    }


def build(article: Mapping[str, Any], translations: Sequence[Mapping[str, Any]], *,
          language_codes: Mapping[int, str], vat_rates: Mapping[int, str],
          default_language: str = "de",
          specials: Sequence[Mapping[str, Any]] | None = None,
          category_keys: list[str] | None = None,
          tier_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The product.upserted payload of one article.

    Args:
        article: the ARTIKEL row (column names as in CAO, upper case).
        translations: its ARTIKEL_LTEXT rows.
        language_codes: SPRACHEN.SPRACH_ID -> two-letter code.
        vat_rates: STEUER_CODE -> rate in percent (decimal string).
        tier_row: its ARTIKEL_PREIS quantity-break row (PREIS_TYP 3, ADRESS_ID -99), if any.
    """
    # The payload's dicts are built once and not copied: each is new and appears only once.
    get = article.get
    sku = str(article["ARTNUM"]).strip()
    german = texts_of(article, sku)
    texts: dict[str, dict[str, str | None]] = {default_language: german}
    if translations:
        for row in sorted(translations, key=lambda r: r["SPRACHE_ID"]):
            code = language_codes.get(row["SPRACHE_ID"])
            if not code or code == default_language:
                continue  # ARTIKEL's own text is the German one, as CAO's shop transfer sends it
            own = texts_of(row, german["name"] or sku)
            texts[code] = {k: own[k] if own[k] is not None else german[k] for k in TEXT_FIELDS}
    tax_code = int(article["STEUER_CODE"])
    manufacturer = get("HERSTELLER_ID")
    barcode = text_or_none(get("BARCODE"))
    group = get("WARENGRUPPE")
    categories = list(category_keys) if category_keys else []
    if group:
        categories.append(category_key(PRODUCT_GROUPS, None, article["WARENGRUPPE"]))
    body = {
        "sku": sku,
        "erp_id": int(article["REC_ID"]),
        "article_type": str(get("ARTIKELTYP") or "N")[:1],
        "texts": texts,
        "prices": {level: {"net": _dec(article[net]), "gross": _dec(article[gross])}
                   for level, net, gross in _PRICE_COLUMNS},
        "tax": {"code": tax_code, "rate": vat_rates.get(tax_code, "0")},
        "stock": _dec(article["MENGE_AKT"]),
        "shop": {"id": int(article["SHOP_ID"]),
                 "visible": get("SHOP_VISIBLE") == 1,
                 "delete_flag": get("SHOP_DEL_FLAG") == "Y"},
        "weight": _dec(get("GEWICHT")),
        "ean": barcode if barcode and len(barcode) <= 14 and barcode.isdigit() else None,
        "manufacturer_id": None if manufacturer in (None, -1) else int(manufacturer),
        "product_group_id": group,
        "delivery_time_id": get("VK_LIEFERZEIT_ID"),
        "images": [text for column in _IMAGE_COLUMNS if (text := text_or_none(get(column)))],
        # Shop categories (ARTIKEL_TO_KAT) and the product group, as category entity keys;
        # each shop uses the tree it is configured for.
        "categories": categories,
        # Absolute net price for every level, valid from .. until inclusive (None: open).
        "specials": [{"net": _dec(s["PREIS"]),
                      "from": s["GUELTIG_VON"].isoformat() if s.get("GUELTIG_VON") else None,
                      "until": s["GUELTIG_BIS"].isoformat() if s.get("GUELTIG_BIS") else None}
                     for s in specials] if specials else [],
        "tiers": tier_prices(article, tier_row) if tier_row else [],
        # The merchant's free fields that shop filters read (C11 'flag'); empty ones left out.
        "user_fields": {key: text for key, column in _USER_KEYS
                        if (text := text_or_none(get(column)))},
    }
    if "DATE_AVAILABLE" in article:
        # Only where this CAO version has erp.date_available_column: without the key a shop
        # keeps the date its admin set; with it, the ERP owns the date (null clears it).
        body["date_available"] = _date(article["DATE_AVAILABLE"])
    return body
