"""What ``shopbridge drift`` compares of a VirtueMart product (``consumers.drift.DriftFields``):
the product row the store writes (store.py), its name per active language, its manufacturer
and category links, its price rows per shopper group (prices.py: offers and their windows are
price rows of their own, so a group's rows carry the special too) and the medias shopbridge
links (images.py). Variant children are not compared yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import Connection

from shopbridge.db import has_table, marks

from ..drift import HIDDEN, NONE, SHOWN, Expected, number
from .applier import VirtueMartApplier
from .images import TABLE as OWN_MEDIA
from .mapper import ProductRow
from .price_aspect import ProductPrices
from .prices import PriceRow

CHUNK = 1000
PriceParts = tuple[int, Decimal, int, Decimal, int, datetime | None, datetime | None, int, int]


def _moment(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else ""


def _price(parts: PriceParts) -> str:
    """One price row as text: price, override, quantity range, window, tax rule."""
    _, price, override, override_price, tax, up, down, start, end = parts
    text = number(price)
    if override:
        text += f" override {override}:{number(override_price)}"
    if start or end:
        text += f" qty {start}-{end or ''}"
    if up or down:
        text += f" {_moment(up)}..{_moment(down)}"
    return f"{text} tax {tax}"


def _groups(rows: Iterable[PriceParts]) -> dict[str, str]:
    """Field ``prices[group N]`` -> the group's rows, in a stable order."""
    by_group: dict[int, list[PriceParts]] = {}
    for parts in rows:
        by_group.setdefault(parts[0], []).append(parts)
    return {f"prices[group {g}]": "; ".join(_price(p) for p in sorted(
        items, key=lambda p: (p[7], p[5] or datetime.min, p[6] or datetime.max)))
            for g, items in by_group.items()}


class VmDriftFields:
    """Args:
        applier: the shop's applier, after its ``read_shop`` (languages, media folder).
    """

    def __init__(self, applier: VirtueMartApplier) -> None:
        self.applier = applier
        self.facts = applier.facts
        self.t = applier.facts.tables
        self.groups: list[int] = []
        self.own_media = False

    def start(self, conn: Connection) -> None:
        prices = self.facts.prices
        self.groups = list(prices.levels()) if prices is not None else []
        self.own_media = has_table(conn, OWN_MEDIA)

    def expected(self, row: ProductRow, *, quantity: int,
                 category_ids: Sequence[int | str]) -> dict[str, Expected]:
        fields: dict[str, Expected] = {
            "visible": SHOWN if row.published else HIDDEN, "sku": row.sku,
            "gtin": row.gtin or NONE, "weight": number(row.weight),
            "manufacturer": str(row.manufacturer_id or NONE),
            "stock": str(quantity),
            "categories": ",".join(str(c) for c in sorted(category_ids, key=str)) or NONE}
        for text in row.texts:
            fields[f"name[{text.tag}]"] = text.name
        data = row.aspect(ProductPrices.name)
        if data is not None:
            fields.update({f"prices[group {g}]": NONE for g in self.groups})
            fields.update(_groups(_parts(PriceRow.from_data(d)) for d in data))
        if row.images:          # the ERP owns the images only where it names some (C9)
            fields["images"] = " | ".join(self.facts.media_folder + n for n in row.images)
        return fields

    def actual(self, conn: Connection, target_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for start in range(0, len(target_ids), CHUNK):
            self._read(conn, list(target_ids[start:start + CHUNK]), found)
        return found

    def _read(self, conn: Connection, ids: list[int], found: dict[int, dict[str, str]]) -> None:
        if not ids:
            return
        t, params, where = self.t, tuple(ids), f"virtuemart_product_id IN ({marks(ids)})"
        for pid, sku, gtin, weight, published, in_stock in conn.exec_driver_sql(
                f"SELECT virtuemart_product_id, product_sku, product_gtin, product_weight, "
                f"published, product_in_stock FROM {t.products} WHERE {where}", params):
            found[int(pid)] = {
                "visible": SHOWN if published else HIDDEN, "sku": str(sku or ""),
                "gtin": gtin or NONE, "weight": number(weight), "manufacturer": NONE,
                "stock": str(in_stock), "categories": NONE, "images": NONE}
        for language in self.facts.languages:
            for pid, name in conn.exec_driver_sql(
                    f"SELECT virtuemart_product_id, product_name FROM "
                    f"{t.lang('products', language)} WHERE {where}", params):
                if int(pid) in found:
                    found[int(pid)][f"name[{language.tag}]"] = str(name)
        self._joined(conn, found, f"SELECT virtuemart_product_id, virtuemart_manufacturer_id "
                     f"FROM {t.product_manufacturers} WHERE {where}", params, "manufacturer")
        self._joined(conn, found, f"SELECT virtuemart_product_id, virtuemart_category_id "
                     f"FROM {t.product_categories} WHERE {where}", params, "categories")
        prices: dict[int, list[PriceParts]] = {}
        for pid, *parts in conn.exec_driver_sql(
                f"SELECT virtuemart_product_id, virtuemart_shoppergroup_id, product_price, "
                f"override, product_override_price, product_tax_id, "
                f"product_price_publish_up, product_price_publish_down, "
                f"price_quantity_start, price_quantity_end FROM {t.product_prices} "
                f"WHERE {where}", params):
            group, price, override, override_price, tax, up, down, qty_start, qty_end = parts
            prices.setdefault(int(pid), []).append(
                (int(group or 0), Decimal(price or 0), int(override or 0),
                 Decimal(override_price or 0), int(tax or 0), up or None, down or None,
                 int(qty_start or 0), int(qty_end or 0)))
        for pid, rows in prices.items():
            if pid in found:
                found[pid].update(_groups(rows))
        if self.own_media:
            media: dict[int, list[str]] = {}
            for pid, url in conn.exec_driver_sql(
                    f"SELECT pm.virtuemart_product_id, m.file_url FROM {t.product_medias} pm "
                    f"JOIN {OWN_MEDIA} o ON o.virtuemart_media_id = pm.virtuemart_media_id "
                    f"JOIN {t.medias} m ON m.virtuemart_media_id = pm.virtuemart_media_id "
                    f"WHERE pm.{where} ORDER BY pm.virtuemart_product_id, pm.ordering, pm.id",
                    params):
                media.setdefault(int(pid), []).append(str(url))
            for pid, urls in media.items():
                if pid in found:
                    found[pid]["images"] = " | ".join(urls)

    @staticmethod
    def _joined(conn: Connection, found: dict[int, dict[str, str]], sql: str,
                params: tuple[int, ...], name: str) -> None:
        """A link table's ids per product, sorted as text (as ``expected`` sorts them)."""
        ids: dict[int, list[str]] = {}
        for pid, other in conn.exec_driver_sql(sql, params):
            ids.setdefault(int(pid), []).append(str(other))
        for pid, values in ids.items():
            if pid in found:
                found[pid][name] = ",".join(sorted(values))


def _parts(row: PriceRow) -> PriceParts:
    return (row.virtuemart_shoppergroup_id, row.product_price, row.override,
            row.product_override_price, row.product_tax_id, row.product_price_publish_up,
            row.product_price_publish_down, row.price_quantity_start, row.price_quantity_end)
