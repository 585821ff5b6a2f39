"""What ``shopbridge drift`` compares of a Phoenix product (``consumers.drift.DriftFields``):
the columns the consumer writes (mapper.py, adapter.py), its category links, its images
(images.py) and the special that should be on now (specials.py's rule, at the shop
database's NOW(), as its scheduler switches them). Variant attributes are not compared yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from shopbridge.db import marks

from ..drift import HIDDEN, NONE, SHOWN, Expected, number
from .applier import PhoenixApplier
from .mapper import ProductRow
from .specials import window_bounds

CHUNK = 1000


def _special(price: object, ends: datetime | None) -> str:
    return f"{number(price)} until {ends:%Y-%m-%d %H:%M}" if ends else f"{number(price)}"


class PhoenixDriftFields:
    """Args:
        applier: the shop's applier, after its ``read_shop`` (its language ids).
    """

    def __init__(self, applier: PhoenixApplier) -> None:
        self.applier = applier
        self.codes: dict[int, str] = {}     # languages_id -> the shop's language code
        self.now = datetime.min

    def start(self, conn: Connection) -> None:
        self.codes = {lid: code for code, lid in self.applier.language_ids.items()}
        self.now = conn.exec_driver_sql("SELECT NOW()").scalar_one()

    def expected(self, row: ProductRow, *, quantity: int,
                 category_ids: Sequence[int | str]) -> dict[str, Expected]:
        shown = SHOWN if row.status else HIDDEN
        fields: dict[str, Expected] = {
            # Phoenix hides a sold-out product itself (STOCK_ALLOW_CHECKOUT 'false', NOTES 2)
            # and the consumer shows it again when restocked: hidden then is no drift.
            "visible": (SHOWN, HIDDEN) if row.status and quantity < 1 else shown,
            "sku": row.model, "price": number(row.price), "tax_class": str(row.tax_class_id),
            "weight": number(row.weight), "gtin": row.gtin or NONE,
            "manufacturer": str(row.manufacturers_id or NONE),
            "stock": str(quantity),
            "categories": ",".join(str(c) for c in sorted(category_ids, key=str)) or NONE,
            "special": self._special_now(row)}
        for d in row.descriptions:
            fields[f"name[{self.codes.get(d.language_id, d.language_id)}]"] = d.name
        if row.images:          # the ERP owns the images only where it names some (C9)
            fields["images"] = " | ".join(row.images)
        return fields

    def _special_now(self, row: ProductRow) -> str:
        """The special the scheduler keeps on at ``now``: the latest started window."""
        active: list[tuple[datetime, str]] = []
        for price, start, until in row.specials:
            begin, end = window_bounds(start, until)
            if (begin is None or begin <= self.now) and (end is None or end > self.now):
                active.append((begin or datetime.min, _special(price, end)))
        return max(active, key=lambda a: a[0])[1] if active else NONE

    def actual(self, conn: Connection, target_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for start in range(0, len(target_ids), CHUNK):
            ids = list(target_ids[start:start + CHUNK])
            self._read(conn, ids, found)
        return found

    def _read(self, conn: Connection, ids: list[int], found: dict[int, dict[str, str]]) -> None:
        if not ids:
            return
        params = tuple(ids)
        for (pid, model, price, tax, weight, gtin, manufacturer, status, qty,
             image) in conn.exec_driver_sql(
                "SELECT products_id, products_model, products_price, products_tax_class_id, "
                "products_weight, products_gtin, manufacturers_id, products_status, "
                f"products_quantity, products_image FROM products WHERE products_id IN "
                f"({marks(ids)})", params):
            found[int(pid)] = {
                "visible": SHOWN if status else HIDDEN, "sku": str(model or ""),
                "price": number(price), "tax_class": str(tax), "weight": number(weight),
                "gtin": gtin or NONE, "manufacturer": str(manufacturer or NONE),
                "stock": str(qty), "categories": NONE, "special": NONE,
                "images": str(image) if image else NONE}
        for pid, language_id, name in conn.exec_driver_sql(
                "SELECT products_id, language_id, products_name FROM products_description "
                f"WHERE products_id IN ({marks(ids)})", params):
            if int(pid) in found:
                code = self.codes.get(int(language_id), int(language_id))
                found[int(pid)][f"name[{code}]"] = str(name)
        categories: dict[int, list[str]] = {}
        for pid, cid in conn.exec_driver_sql(
                "SELECT products_id, categories_id FROM products_to_categories "
                f"WHERE products_id IN ({marks(ids)})", params):
            categories.setdefault(int(pid), []).append(str(cid))
        for pid, cids in categories.items():
            if pid in found:
                found[pid]["categories"] = ",".join(sorted(cids))
        specials: dict[int, list[str]] = {}
        for pid, price, expires in conn.exec_driver_sql(
                "SELECT products_id, specials_new_products_price, expires_date FROM specials "
                f"WHERE status = 1 AND products_id IN ({marks(ids)}) ORDER BY specials_id",
                params):
            specials.setdefault(int(pid), []).append(_special(price, expires))
        for pid, on in specials.items():
            if pid in found:
                # Two rows on: Phoenix shows one of them and lists the product twice.
                found[pid]["special"] = on[0] if len(on) == 1 else f"{len(on)} rows on"
        gallery: dict[int, list[str]] = {}
        for pid, image in conn.exec_driver_sql(
                "SELECT products_id, image FROM products_images WHERE products_id IN "
                f"({marks(ids)}) ORDER BY products_id, sort_order, id", params):
            gallery.setdefault(int(pid), []).append(str(image))
        for pid, names in gallery.items():
            if pid in found:
                found[pid]["images"] = " | ".join([found[pid]["images"], *names])
