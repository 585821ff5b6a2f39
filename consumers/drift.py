"""The shop side of ``shopbridge drift`` (B1), shop-neutral: a page of product payloads mapped
with the very mapping the consumer applies (``ShopWriters.map_product`` with the batch facts
``ShopApplier.batch_facts`` reads), against the page's rows in the shop.

A shop kind says which fields it compares and how it reads them (``DriftFields``); this
module does what is the same everywhere: the link rows (which shop product an ERP article is),
the category links, the stock a shop shows (``catalogue.quantity``), and the rule that a
product the ERP hides need not be in the shop at all. Read only, one short read per page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection

from shopbridge.db import has_table, translated
from shopbridge.drift import Difference
from shopbridge.errors import MappingError
from shopbridge.events import Event

from .binder import LINK_TABLE, Link
from .catalogue import CATEGORY, quantity
from .product_plan import MappedProduct
from .shop_applier import PRODUCT, ShopApplier

RowT = TypeVar("RowT", bound=MappedProduct)
RowT_contra = TypeVar("RowT_contra", bound=MappedProduct, contravariant=True)
# A field's expected value, or the values that all mean "as the ERP says" (the first shown).
Expected = str | tuple[str, ...]
NONE = "-"                      # how a table cell shows "nothing" (no special, no image)
SHOWN, HIDDEN = "shown", "hidden"   # every kind's ``visible`` field says one of these


class DriftFields(Protocol[RowT_contra]):
    """A shop kind's fields of a product, as text: the same function of a mapped row on one
    side and of the shop's rows on the other, so that equal means equal."""

    def start(self, conn: Connection) -> None:
        """Read once what ``expected`` needs from the shop (its clock, its image folder)."""
        ...

    def expected(self, row: RowT_contra, *, quantity: int,
                 category_ids: Sequence[int | str]) -> dict[str, Expected]:
        """Field -> what the shop should hold for this mapped row. ``category_ids``: the
        shop ids of the row's categories, or the category key where it has none yet."""
        ...

    def actual(self, conn: Connection, target_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """Shop id -> field -> what the shop holds, for the products that exist."""
        ...


def number(value: Any) -> str:
    """A decimal as text without trailing zeros, so that 12.5000 (the column) is 12.5."""
    if value is None:
        return NONE
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "0") else text


class ProductDrift(Generic[RowT]):
    """Compares pages of product payloads with one shop (a ``kinds.DriftReader``).

    Args:
        applier: the shop's applier (its mapping and what it reads of the shop); nothing is
            written through it.
        fields: the kind's fields.

    Raises:
        ConfigError: the shop lacks what the mapping needs; TargetUnavailable: it is away.
    """

    def __init__(self, applier: ShopApplier[RowT], fields: DriftFields[RowT]) -> None:
        self.applier = applier
        self.fields = fields
        self.shop = applier.shop
        with translated(applier.what), applier.engine.connect() as conn:
            applier.read_shop(conn)
            fields.start(conn)
            # A shop nothing was ever applied to: every product it should show is missing.
            self.linked = has_table(conn, LINK_TABLE)
            conn.rollback()

    def close(self) -> None:
        self.applier.close()

    def compare(self, payloads: Sequence[Mapping[str, Any]]) -> list[Difference]:
        events = [self._event(p) for p in payloads]
        found: list[Difference] = []
        with translated(self.applier.what), self.applier.engine.connect() as conn:
            facts = self.applier.batch_facts(conn, events)
            rows: dict[str, tuple[Event, RowT]] = {}
            for event in events:
                try:
                    rows[event.entity_key] = (event, self.applier.writers.map_product(
                        event, facts))
                except MappingError as err:
                    # The consumer dead-letters such an event: the shop cannot agree.
                    found.append(self._diff(event, "mapping", f"cannot be mapped: {err}",
                                            "(as before)"))
            links: Mapping[str, Link] = (
                self.applier.binder.peek(conn, PRODUCT, rows) if self.linked else {})
            categories = (self.applier.binder.targets(
                conn, CATEGORY, {c for _, row in rows.values() for c in row.category_keys})
                if self.linked else {})
            targets = sorted({lk.target_id for lk in links.values() if lk.target_id is not None})
            actual = self.fields.actual(conn, targets)
            conn.rollback()
        for key, (event, row) in rows.items():
            link = links.get(key)
            have = actual.get(link.target_id) if link is not None and link.target_id else None
            if have is None:
                if row.shown:
                    found.append(self._diff(event, "product", SHOWN,
                                            "not linked" if link is None or not link.target_id
                                            else f"missing (shop id {link.target_id} deleted)"))
                continue
            # The stock this shop is sent: the oversell guard's where the event carries one
            # for it (B3, ``ProductPlanner.stock_of``), else the ERP's.
            stock = (event.payload.get("shop_stock") or {}).get(self.shop.name,
                                                               event.payload["stock"])
            want = self.fields.expected(
                row, quantity=quantity(stock, self.shop.stock_mode),
                category_ids=[categories.get(c, c) for c in row.category_keys])
            for name, value in want.items():
                accepted = value if isinstance(value, tuple) else (value,)
                shop_value = have.get(name, NONE)
                if shop_value not in accepted:
                    found.append(self._diff(event, name, accepted[0], shop_value))
        return found

    def linked_keys(self, *, after: str, limit: int) -> list[str]:
        if not self.linked:
            return []
        with translated(self.applier.what), self.applier.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT entity_key FROM {LINK_TABLE} WHERE entity_type = %s AND "
                f"entity_key > %s AND target_id IS NOT NULL ORDER BY entity_key LIMIT %s",
                (PRODUCT, after, limit)).all()
            conn.rollback()
        return [str(r[0]) for r in rows]

    def compare_withdrawn(self, keys: Sequence[str]) -> list[Difference]:
        with translated(self.applier.what), self.applier.engine.connect() as conn:
            links = self.applier.binder.targets(conn, PRODUCT, keys)
            actual = self.fields.actual(conn, sorted(set(links.values())))
            conn.rollback()
        found = []
        for key in keys:
            have = actual.get(links[key]) if key in links else None
            if have is not None and have.get("visible") == SHOWN:
                found.append(Difference(entity=PRODUCT, key=key,
                                        label=f"SKU {have.get('sku', '?')}", field="visible",
                                        erp=f"{HIDDEN} (not selected in the ERP)", shop=SHOWN))
        return found

    def _event(self, payload: Mapping[str, Any]) -> Event:
        key = str(payload["erp_id"])
        body = dict(payload)
        raw = {"type": "product.upserted", "entity_key": key, "payload": body}
        return Event(event_id="drift", type="product.upserted", tenant=self.shop.tenant,
                     source="drift", entity_key=key, version=0, payload=body, raw=raw)

    @staticmethod
    def _diff(event: Event, field: str, erp: str, shop: str) -> Difference:
        return Difference(entity=PRODUCT, key=event.entity_key,
                          label=f"SKU {event.payload.get('sku')}", field=field, erp=erp,
                          shop=shop)
