"""What CE Phoenix 1.1's checkout writes into ``orders_total``, computed as its PHP does.

A test oracle for the order import: the CAO document must equal these rows to the cent. It
follows the shop's code line by line, with PHP's arithmetic (IEEE floats, float -> string at
``precision`` 14, Phoenix's string-based rounding), not with our own idea of it:

- ``cart_order_builder::update_per_product``: shown = calculate_price(final_price, tax, qty);
  subtotal += shown; tax += shown - shown / 1.<rate> (gross shop) or rate / 100 * shown (net).
- ``currencies::calculate_price``: round(Tax::price(price, tax), 2) * qty, where Tax::price
  adds price * tax / 100 only in a gross shop (DISPLAY_PRICE_WITH_TAX) and only for tax > 0.
- ``cart_order_builder::build``: total = subtotal + shipping_cost (+ tax in a net shop).
- ``ot_shipping::process``: a module with a tax class adds cost * rate / 100 to tax, its tax
  group and total, and (gross shop) to the shown shipping cost.
- ``ot_tax``: one row per tax description with a value > 0.
- The rows are stored through a float -> string conversion into decimal(15,4) columns;
  ``text`` is ``currencies::format``, the value rounded to 2 decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


def php_string(number: float) -> str:
    """PHP's (string) of a float at precision 14: %.14G without a trailing '.0'."""
    text = f"{number:.14G}"
    if "E" in text:                 # tiny values: never a money amount in these carts
        text = f"{Decimal(text):f}"
    return text


def php_round(number: float, precision: int = 2) -> float:
    """Phoenix currencies::round: cut the decimal string, add one unit if the next digit >= 5."""
    text = php_string(number)
    point = text.find(".")
    if point < 0 or len(text) - point - 1 <= precision:
        return float(text)
    cut = text[:point + 1 + precision]
    if int(text[point + 1 + precision]) < 5:
        return float(cut)
    step = float("0." + "0" * (precision - 1) + "1")
    return float(cut) + (step if not cut.startswith("-") else -step)


def stored(number: float) -> Decimal:
    """The float as PHP writes it into SQL, as MariaDB keeps it in decimal(15,4)."""
    return Decimal(php_string(number)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def shown(number: float) -> Decimal:
    """currencies::format of the amount, as a Decimal (what the customer saw)."""
    return Decimal(php_string(php_round(number))).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Line:
    final_price: Decimal            # net unit price, 4 decimals (orders_products.final_price)
    tax: Decimal                    # rate in percent
    quantity: int


@dataclass
class Checkout:
    lines: Sequence[Line]
    gross: bool                     # DISPLAY_PRICE_WITH_TAX
    shipping_cost: Decimal | None = None   # the module's net cost; None: no shipping line
    shipping_tax: Decimal = Decimal(0)     # the module's tax class rate; 0: untaxed
    shipping_title: str = "Pauschale Versandkosten:"
    rows: list[tuple[str, str, Decimal, int]] = field(default_factory=list)
    text: dict[str, Decimal] = field(default_factory=dict)   # title -> shown amount
    line_shown: list[Decimal] = field(default_factory=list)

    def __post_init__(self) -> None:
        subtotal = tax = 0.0
        groups: dict[str, float] = {}
        for line in self.lines:
            rate = float(line.tax)
            price = float(line.final_price)
            unit = price + price * rate / 100 if self.gross and rate > 0 else price
            amount = php_round(unit) * line.quantity
            self.line_shown.append(shown(amount))
            subtotal += amount
            if self.gross:
                divisor = float(("1.0" if rate < 10 else "1.")
                                + php_string(rate).replace(".", ""))
                line_tax = amount - amount / divisor
            else:
                line_tax = rate / 100 * amount
            tax += line_tax
            key = description(line.tax)
            groups[key] = groups.get(key, 0.0) + line_tax
        cost = float(self.shipping_cost or 0)
        total = subtotal + cost + (0.0 if self.gross else tax)
        rows: list[tuple[str, str, float, int]] = [("ot_subtotal", "Zwischensumme:", subtotal, 1)]
        if self.shipping_cost is not None:
            if self.shipping_tax > 0:
                on_shipping = cost * float(self.shipping_tax) / 100
                key = description(self.shipping_tax)
                groups[key] = groups.get(key, 0.0) + on_shipping
                total += on_shipping
                if self.gross:
                    cost += on_shipping
            rows.append(("ot_shipping", self.shipping_title, cost, 2))
        rows += [("ot_tax", key, value, 3) for key, value in groups.items() if value > 0]
        rows.append(("ot_total", "Summe:", total, 4))
        self.rows = [(cls, title, stored(value), order) for cls, title, value, order in rows]
        self.text = {title: shown(value) for _, title, value, _ in rows}

    @property
    def charged(self) -> Decimal:
        return self.text["Summe:"]

    def vat(self, rate: Decimal) -> Decimal:
        return self.text.get(description(rate), Decimal("0.00"))


def description(rate: Decimal) -> str:
    return f"MwSt. {rate.normalize():f} %:"
