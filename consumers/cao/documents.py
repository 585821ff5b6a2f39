"""A shop order -> the rows of a CAO sales document (JOURNAL header, JOURNALPOS positions).
Pure: the SQL lives in ``importer.py``.

As CAO's own shop import does it (NOTES 3): positions are net (BRUTTO_FLAG 'N'), shipping and
fees become positions, totals are kept per VAT code 0..3 (MWST_n rate, NSUMME_n / MSUMME_n /
BSUMME_n net / VAT / gross). An item whose shop product has no ERP article becomes a free-text
position (ARTIKEL_ID -1), flagged in the import notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shopbridge.config import OrderImportConfig
from shopbridge.errors import MappingError

CENT = Decimal("0.01")
# orders_total classes that are sums, not charges.
SUM_CLASSES = {"ot_subtotal", "ot_tax", "ot_total"}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Position:
    artikel_id: int
    artnum: str | None
    text: str
    quantity: Decimal
    unit_net: Decimal
    tax_code: int
    free_text: bool

    @property
    def net(self) -> Decimal:
        return money(self.unit_net * self.quantity)


@dataclass
class Document:
    positions: list[Position]
    notes: list[str] = field(default_factory=list)
    shipping_net: Decimal = Decimal(0)
    goods_net: Decimal = Decimal(0)
    by_code: dict[int, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        return sum((n for n, _, _ in self.by_code.values()), Decimal(0))

    @property
    def vat(self) -> Decimal:
        return sum((v for _, v, _ in self.by_code.values()), Decimal(0))

    @property
    def gross(self) -> Decimal:
        return sum((g for _, _, g in self.by_code.values()), Decimal(0))


def tax_code_for(rate: Decimal, rates: Mapping[int, Decimal], what: str) -> int:
    """The CAO STEUER_CODE whose rate (REGISTRY MAIN\\MWST) equals ``rate``."""
    for code, known in sorted(rates.items()):
        if known == rate:
            return code
    raise MappingError(f"{what}: tax rate {rate} % has no CAO tax code "
                       f"(REGISTRY MAIN\\MWST has {', '.join(str(r) for r in rates.values())})")


def build(payload: Mapping[str, Any], *, rates: Mapping[int, Decimal],
          settings: OrderImportConfig, what: str) -> Document:
    """Positions and totals of one order.

    Args:
        rates: CAO STEUER_CODE -> VAT rate in percent.
    Raises:
        MappingError: a tax rate with no CAO tax code, naming the item.
    """
    positions: list[Position] = []
    notes: list[str] = []
    for item in payload["items"]:
        rate = Decimal(item["tax_rate"]).normalize()
        code = tax_code_for(rate, rates, f"{what}: item {item['line']} ({item['name']})")
        lines = [item["name"]]
        lines += [f"{a['option']}: {a['value']}" for a in item.get("attributes") or []]
        erp_id = item.get("erp_id")
        if erp_id is None:
            notes.append(f"item {item['line']}: shop product {item['shop_product_id']} "
                         f"(SKU {item.get('sku') or '-'}) has no ERP article: free-text position")
        positions.append(Position(
            artikel_id=erp_id if erp_id is not None else -1, artnum=item.get("sku"),
            text="\n".join(lines), quantity=Decimal(item["quantity"]),
            unit_net=Decimal(item["final_price_net"]), tax_code=code,
            free_text=erp_id is None))
    goods = sum((p.net for p in positions), Decimal(0))
    shipping = Decimal(0)
    charges = [t for t in payload["totals"]
               if t["class"] not in SUM_CLASSES and Decimal(t["value"]) != 0]
    if charges and settings.shipping_tax_code not in rates:
        raise MappingError(f"{what}: orders.shipping_tax_code {settings.shipping_tax_code} has "
                           "no rate in CAO (REGISTRY MAIN\\MWST): shipping and fees cannot be "
                           "booked")
    for total in sorted(payload["totals"], key=lambda t: t.get("sort_order", 0)):
        value = Decimal(total["value"])
        if total["class"] in SUM_CLASSES or value == 0:
            continue
        title = total["title"].strip().rstrip(":")
        positions.append(Position(
            artikel_id=-1, artnum=None, text=title, quantity=Decimal(1), unit_net=value,
            tax_code=settings.shipping_tax_code, free_text=True))
        if total["class"] == "ot_shipping":
            shipping += value
    by_code: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    for code in sorted({p.tax_code for p in positions}):
        net = sum((p.net for p in positions if p.tax_code == code), Decimal(0))
        vat = money(net * rates.get(code, Decimal(0)) / 100)
        by_code[code] = (net, vat, net + vat)
    document = Document(positions=positions, notes=notes, shipping_net=money(shipping),
                        goods_net=money(goods), by_code=by_code)
    shop_total = next((Decimal(t["value"]) for t in payload["totals"]
                       if t["class"] == "ot_total"), None)
    if shop_total is not None and abs(money(shop_total) - document.gross) > CENT:
        document.notes.append(f"gross total {document.gross} differs from the shop's "
                              f"ot_total {money(shop_total)}")
    return document
