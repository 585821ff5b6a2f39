"""What a VirtueMart order charged, read from the figures checkout stored (VM 4.4
``models/orders.php`` _createOrder/_createOrderLines/_createOrderCalcRules,
``helpers/calculationh.php`` getCheckoutPrices, ``plugins/vmpsplugin.php`` setCartPrices):

- a line is ``product_final_price`` (the unit's gross, rounded to the cent) times the
  quantity; its VAT ``product_tax`` (per unit, rounded) times the quantity; its rate is the
  item's ``VatTax``/``Tax`` rows in ``order_calc_rules``;
- shipment and payment are stored net (``order_shipment``, ``order_payment``) with their tax
  (``_tax``); their rate is their ``shipment``/``payment`` calc row where the method names a
  tax rule, else (VirtueMart's default ``radicalShipPaymentVat``) the rate of the order's
  biggest VAT group, which is the rate whose share of the net gives the stored tax;
- a coupon (``coupon_discount``, gross, negative) lowers every VAT rate in the proportion of
  its goods (``percentage`` = the rate's gross goods / all gross goods); its VAT per rate is
  what ``order_billTax`` (per VAT rule: items + shipment + payment + coupon) holds beyond the
  rest, else VirtueMart's own formula round(coupon * percentage / (100 + r) * r, 2).

These become the ``totals`` classes the ERP importer knows (ot_subtotal, ot_shipping, a fee,
ot_coupon, ot_tax, ot_total), each charge with the rate and VAT the shop charged, so that the
ERP's VAT per rate and gross total are the shop's to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal(0)
# The calc kinds that tax an item (order_calc_rules.calc_kind), percent rules only.
_ITEM_TAX = ("VatTax", "Tax")


def money(value: Decimal) -> Decimal:
    """PHP round(x, 2): half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001")).normalize()


def item_rates(items: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]]
               ) -> dict[int, Decimal]:
    """virtuemart_order_item_id -> VAT rate in percent (0: the line carried none)."""
    rates: dict[int, Decimal] = {}
    for rule in rules:
        if rule["calc_kind"] in _ITEM_TAX and (rule["calc_mathop"] or "+%") == "+%" \
                and rule["virtuemart_order_item_id"]:
            item_id = int(rule["virtuemart_order_item_id"])
            rates[item_id] = rates.get(item_id, ZERO) + Decimal(rule["calc_value"])
    result = {}
    for item in items:
        item_id = item["virtuemart_order_item_id"]
        if item_id in rates:
            result[item_id] = _rate(rates[item_id])
        else:
            # No rule row (a tax rule deleted since is still in the figures): the rate the
            # stored tax shows, which the ERP refuses clearly if it has no such rate.
            tax, gross = item["product_tax"] or ZERO, item["product_final_price"] or ZERO
            result[item_id] = _stored_rate(gross - tax, tax)
    return result


def _stored_rate(net: Decimal, tax: Decimal) -> Decimal:
    """The rate a unit's rounded net and tax show: the one with the fewest decimals that
    gives the tax to the cent (tax = gross - round(gross / (1 + r)) is off net * r by a
    cent at most)."""
    if not tax or not net:
        return ZERO
    exact = tax * 100 / net
    for places in ("1", "0.1", "0.01"):
        rate = exact.quantize(Decimal(places), rounding=ROUND_HALF_UP)
        if abs(net * rate / 100 - tax) <= CENT:
            return _rate(rate)
    return _rate(exact)


@dataclass(frozen=True)
class Charge:
    gross: Decimal
    vat: Decimal
    rate: Decimal | None            # None: not to be told from the order (the ERP derives it)


@dataclass
class Charges:
    shipment: Charge | None = None
    payment: Charge | None = None
    coupon: list[Charge] = field(default_factory=list)      # one part per VAT rate
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)

    def totals(self, *, subtotal: Decimal, total: Decimal, shipment: str | None,
               payment: str | None, coupon_code: str | None) -> list[dict[str, Any]]:
        """The payload's ``totals`` rows, in the order a VirtueMart invoice shows them."""
        rows: list[dict[str, Any]] = [_row("ot_subtotal", "Zwischensumme", subtotal)]
        if self.shipment is not None:
            rows.append(_row("ot_shipping", shipment or "Versand", self.shipment.gross,
                             self.shipment))
        if self.payment is not None:
            rows.append(_row("ot_payment", payment or "Zahlungsart", self.payment.gross,
                             self.payment))
        title = f"Gutschein {coupon_code}".strip() if coupon_code else "Gutschein"
        for part in self.coupon:
            suffix = f" ({part.rate:f} % MwSt.)" if len(self.coupon) > 1 and part.rate else ""
            rows.append(_row("ot_coupon", title + suffix, part.gross, part))
        for rate, vat in sorted(self.vat_by_rate.items()):
            if vat:
                rows.append(_row("ot_tax", f"MwSt. {rate:f} %", vat))
        rows.append(_row("ot_total", "Summe", total))
        for order, row in enumerate(rows, start=1):
            row["sort_order"] = order
        return rows


def _row(cls: str, title: str, value: Decimal, charge: Charge | None = None
         ) -> dict[str, Any]:
    row: dict[str, Any] = {"class": cls, "title": title[:255], "value": _dec(value)}
    if charge is not None and charge.rate is not None:
        row["tax_rate"] = _dec(charge.rate)
        row["vat"] = _dec(charge.vat)
    return row


def _dec(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.00001")))


def charges(order: Mapping[str, Any], items: Sequence[Mapping[str, Any]],
            rates: Mapping[int, Decimal], rules: Sequence[Mapping[str, Any]], *,
            bill_tax: Sequence[tuple[Decimal, Decimal]] | None) -> Charges:
    """Shipment, payment and coupon of one order with the rate and VAT each carried."""
    goods: dict[Decimal, Decimal] = {}        # rate -> gross of the lines
    items_vat: dict[Decimal, Decimal] = {}
    for item in items:
        rate = rates[item["virtuemart_order_item_id"]]
        quantity = Decimal(item["product_quantity"])
        goods[rate] = goods.get(rate, ZERO) + money(item["product_final_price"]) * quantity
        items_vat[rate] = items_vat.get(rate, ZERO) + (item["product_tax"] or ZERO) * quantity
    result = Charges()
    vat = dict(items_vat)
    for kind in ("shipment", "payment"):
        charge = _method_charge(order, kind, rules, goods)
        if charge is None:
            continue
        setattr(result, kind, charge)
        if charge.rate is not None:
            vat[charge.rate] = vat.get(charge.rate, ZERO) + charge.vat
    coupon = Decimal(order["coupon_discount"] or 0)
    if coupon:
        stored = _by_rate(bill_tax) if bill_tax is not None else None
        result.coupon = _coupon_parts(coupon, goods, vat, stored)
        for part in result.coupon:
            if part.rate is not None:
                vat[part.rate] = vat.get(part.rate, ZERO) + part.vat
    result.vat_by_rate = _by_rate(bill_tax) if bill_tax else vat
    return result


def _by_rate(bill_tax: Sequence[tuple[Decimal, Decimal]]) -> dict[Decimal, Decimal]:
    found: dict[Decimal, Decimal] = {}
    for rate, amount in bill_tax:
        found[_rate(rate)] = found.get(_rate(rate), ZERO) + amount
    return found


def _method_charge(order: Mapping[str, Any], kind: str, rules: Sequence[Mapping[str, Any]],
                   goods: Mapping[Decimal, Decimal]) -> Charge | None:
    net = Decimal(order[f"order_{kind}"] or 0)
    tax = Decimal(order[f"order_{kind}_tax"] or 0)
    if not net and not tax:
        return None
    stated = [r for r in rules if r["calc_kind"] == kind]
    if stated:
        rate: Decimal | None = _rate(sum((Decimal(r["calc_value"]) for r in stated), ZERO))
    elif not tax:
        rate = ZERO
    else:
        # radicalShipPaymentVat: the rate of the biggest VAT group; checked against the tax.
        fits = [r for r in sorted(goods, key=lambda r: (-goods[r], r))
                if abs(net * r / 100 - tax) <= CENT]
        rate = fits[0] if fits else None
    return Charge(gross=net + tax, vat=tax, rate=rate)


def _coupon_parts(coupon: Decimal, goods: Mapping[Decimal, Decimal],
                  vat: Mapping[Decimal, Decimal], stored: Mapping[Decimal, Decimal] | None
                  ) -> list[Charge]:
    """The coupon split over the VAT rates in proportion to their goods, each part's gross to
    the cent (the last takes what rounding left), its VAT the shop's."""
    total = sum(goods.values(), ZERO)
    if not total:
        return [Charge(gross=coupon, vat=ZERO, rate=ZERO)]
    parts = []
    left = coupon
    ordered = sorted(goods, key=lambda r: (goods[r], r))    # the biggest group last
    for index, rate in enumerate(ordered):
        share = goods[rate] / total if goods[rate] < total else Decimal(1)
        gross = left if index == len(ordered) - 1 else money(coupon * share)
        left -= gross
        if stored is not None and rate in stored:
            part_vat = stored[rate] - vat.get(rate, ZERO)
        else:
            part_vat = money(coupon * share / (100 + rate) * rate)
        parts.append(Charge(gross=gross, vat=part_vat, rate=rate))
    return parts
