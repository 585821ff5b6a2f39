"""A shop order -> the rows of a CAO sales document (JOURNAL header, JOURNALPOS positions).
Pure: the SQL lives in ``importer.py``.

The document must equal what the shop charged, to the cent: every position, the VAT per rate
and the gross total. So it is computed the way the shop computed it, not re-derived from net
prices (Phoenix ``cart_order_builder::update_per_product``, ``currencies::calculate_price``,
``ot_shipping``; the arithmetic is in the functions below):

- A gross-priced shop (``prices_include_tax``) rounds each unit's *gross* price to the cent
  and multiplies by the quantity; the VAT is contained in the line (line * r / (100 + r)).
  Its document is a gross document (BRUTTO_FLAG 'Y', EPREIS gross), as CAO's own import
  writes one for a BRUTTO_SHOP: the positions are the lines the customer saw.
- A net-priced shop rounds the unit's *net* price, and adds r % of each line as VAT.
- A shop that stores its own figures (VirtueMart: each unit's gross price, each line's and
  each charge's VAT and rate) sends them (order.placed v3 ``final_price_gross``, ``vat``,
  ``tax_rate``): they are booked as they are, so the VAT per rate is the shop's sum of them.
- Shipping and fees become positions. Their VAT is taken from the order itself: the shop's
  ot_tax rows minus the items' VAT is what the charges carried, which gives each charge's
  rate (a flat rate the shop did not tax stays untaxed). Only an order that records no tax
  falls back to ``orders.shipping_tax_code``.
- VAT per rate is rounded once, from the exact sum, as the shop shows it. The shop rounds
  its total separately, so the sum of rounded VAT amounts can miss the charged total by a
  cent; that cent becomes a visible position ("Rundungsdifferenz") at the 0 % code, so that
  positions, VAT per rate and total all equal the shop's figures.

Every line books an ERP article that exists: the ordered variant's own article where the
shop says which (``items[].variant.erp_id``), else the linked article. A line whose article
CAO does not have is refused (MappingError naming the line and SKU), or, where the shop's
``orders.unknown_articles`` is "free_text", becomes a free-text position with an import note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import product
from typing import Any

from shopbridge.config import OrderImportConfig
from shopbridge.errors import MappingError

CENT = Decimal("0.01")
# orders_total classes that are sums, not charges.
SUM_CLASSES = {"ot_subtotal", "ot_tax", "ot_total"}
# orders_total.value is decimal(15,4): each stored row is off by at most half of 0.0001, so
# the charges' VAT derived from several rows is known to a few of those.
STORED = Decimal("0.0005")
# A difference between the shop's total and the document up to this is the shop's rounding.
ROUNDING_MAX = Decimal("0.05")
ROUNDING_TEXT = "Rundungsdifferenz Shop"


def money(value: Decimal) -> Decimal:
    """To the cent, half up: what Phoenix's currencies::round does to a decimal string."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Article:
    """A CAO article an order line may book."""

    rec_id: int
    artnum: str | None
    typ: str = "N"                          # ARTIKEL.ARTIKELTYP


@dataclass
class Position:
    artikel_id: int
    artnum: str | None
    text: str
    quantity: Decimal
    unit_price: Decimal                     # to the cent; gross in a gross document
    tax_code: int
    typ: str = "N"                          # ARTIKELTYP: the article's, "F" for free text
    vat: Decimal = Decimal(0)               # exact VAT of the line, before rounding
    kind: str = "item"                      # item, shipping, fee or rounding

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class Document:
    positions: list[Position]
    gross_prices: bool = False              # EPREIS/GPREIS are gross (JOURNAL.BRUTTO_FLAG)
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


def line_price(net: Decimal, rate: Decimal, *, gross: bool) -> Decimal:
    """The unit price the shop showed and charged: Tax::price, then rounded to the cent."""
    return money(net + net * rate / 100) if gross and rate > 0 else money(net)


def contained_vat(amount: Decimal, rate: Decimal, *, gross: bool) -> Decimal:
    """The VAT of an amount at ``rate``: contained in it (gross) or on top of it (net)."""
    return amount * rate / (100 + rate) if gross else amount * rate / 100


def variant_text(dims: Mapping[str, str]) -> str:
    return " / ".join(f"{dim}={value}" for dim, value in sorted(dims.items()))


def required_articles(payload: Mapping[str, Any]) -> tuple[set[int], set[str]]:
    """ERP ids the order's lines book, and SKUs of lines with no ERP id (looked up by ARTNUM)."""
    ids: set[int] = set()
    skus: set[str] = set()
    for item in payload["items"]:
        target = booked_id(item)
        if target is not None:
            ids.add(target)
        elif item.get("sku"):
            skus.add(item["sku"])
    return ids, skus


def booked_id(item: Mapping[str, Any]) -> int | None:
    variant = item.get("variant") or {}
    child = variant.get("erp_id")
    return child if child is not None else item.get("erp_id")


def build(payload: Mapping[str, Any], *, rates: Mapping[int, Decimal],
          settings: OrderImportConfig, what: str, articles: Mapping[int, Article],
          by_sku: Mapping[str, Article] | None = None) -> Document:
    """Positions and totals of one order.

    Args:
        rates: CAO STEUER_CODE -> VAT rate in percent.
        articles: the CAO articles of ``required_articles`` ids that exist, by REC_ID.
        by_sku: CAO articles whose ARTNUM is the SKU of a line without an ERP id (unique ones).
    Raises:
        MappingError: a tax rate with no CAO tax code, or a line whose article CAO does not
            have (where the shop does not import those as free text), naming the line.
    """
    gross = bool(payload.get("prices_include_tax", False))
    document = Document(positions=[], gross_prices=gross)
    for index, item in enumerate(payload["items"]):
        document.positions.append(_item(index, item, rates=rates, settings=settings,
                                        gross=gross, articles=articles,
                                        by_sku=by_sku or {}, notes=document.notes, what=what))
    charges = _charges(payload["totals"], document, rates=rates, settings=settings, what=what)
    document.positions += charges
    _total(document, payload["totals"], rates)
    document.goods_net = _net_of(document, "item")
    document.shipping_net = _net_of(document, "shipping")
    return document


def _net_of(document: Document, kind: str) -> Decimal:
    lines = [p for p in document.positions if p.kind == kind]
    amount = sum((p.total for p in lines), Decimal(0))
    return money(amount - sum((p.vat for p in lines), Decimal(0))
                 if document.gross_prices else amount)


def _item(index: int, item: Mapping[str, Any], *, rates: Mapping[int, Decimal],
          settings: OrderImportConfig, gross: bool, articles: Mapping[int, Article],
          by_sku: Mapping[str, Article], notes: list[str], what: str) -> Position:
    field_ = f"payload.items[{index}]"
    rate = Decimal(item["tax_rate"]).normalize()
    code = tax_code_for(rate, rates, f"{what}: {field_} ({item['name']})")
    lines = [item["name"]]
    lines += [f"{a['option']}: {a['value']}" for a in item.get("attributes") or []]
    sku = item.get("sku")
    variant = item.get("variant")
    if variant and variant.get("erp_id") is None:
        # The shop offers a combination the ERP has no article for (added in the admin).
        text = (f"Variante {variant_text(variant['dims'])} hat keinen eigenen Artikel in CAO: "
                "auf den Hauptartikel gebucht")
        lines.append(f"Hinweis: {text}")
        notes.append(f"{field_}: SKU {sku or '-'}: {text}")
    target = booked_id(item)
    article: Article | None
    if target is None:
        article = by_sku.get(sku) if sku else None
        missing = f"shop product {item['shop_product_id']} is linked to no ERP article"
    else:
        article = articles.get(target)
        missing = f"article {target} not in CAO"
    if article is None:
        problem = f"{field_}: SKU {sku or '-'} / {missing}"
        if settings.unknown_articles != "free_text":
            raise MappingError(f"{what}: {problem} (replay once the article exists, or set "
                               "the shop's orders.unknown_articles = \"free_text\")")
        notes.append(f"{problem}: imported as a free-text position")
    elif target is None:
        notes.append(f"{field_}: shop product {item['shop_product_id']} has no ERP link: "
                     f"booked on article {article.rec_id} by its SKU {sku}")
    quantity = Decimal(item["quantity"])
    charged = item.get("final_price_gross")
    unit = (money(Decimal(charged)) if gross and charged is not None
            else line_price(Decimal(item["final_price_net"]), rate, gross=gross))
    vat = item.get("vat")
    return Position(
        artikel_id=article.rec_id if article else -1,
        artnum=(article.artnum or sku) if article else sku, text="\n".join(lines),
        quantity=quantity, unit_price=unit, tax_code=code,
        typ=article.typ if article else "F",
        vat=Decimal(vat) if vat is not None else contained_vat(unit * quantity, rate,
                                                               gross=gross))


def _charges(totals: Sequence[Mapping[str, Any]], document: Document, *,
             rates: Mapping[int, Decimal], settings: OrderImportConfig,
             what: str) -> list[Position]:
    """Shipping and fees as positions, each at the VAT rate the order shows it carried."""
    rows = sorted((t for t in totals if t["class"] not in SUM_CLASSES
                   and Decimal(t["value"]) != 0), key=lambda t: t.get("sort_order", 0))
    if not rows:
        return []
    values = [Decimal(t["value"]) for t in rows]
    gross = document.gross_prices
    if all(t.get("tax_rate") is not None for t in rows):
        return _stated_charges(rows, values, rates=rates, gross=gross, what=what)
    carried = _charged_vat(totals, document, values)
    codes = _charge_codes(values, carried, rates, settings, gross=gross) \
        if carried is not None else None
    if codes is None:
        if settings.shipping_tax_code not in rates:
            raise MappingError(f"{what}: orders.shipping_tax_code {settings.shipping_tax_code} "
                               "has no rate in CAO (REGISTRY MAIN\\MWST): shipping and fees "
                               "cannot be booked")
        codes = [settings.shipping_tax_code] * len(rows)
        why = ("the order records no VAT" if carried is None else
               f"the order's VAT rows leave {carried:.4f} for them, which no rate explains")
        document.notes.append(f"shipping and fees booked at orders.shipping_tax_code "
                              f"{settings.shipping_tax_code}: {why}")
    return [Position(artikel_id=-1, artnum=None, text=t["title"].strip().rstrip(":"),
                     quantity=Decimal(1), unit_price=money(value), tax_code=code,
                     typ="F", vat=contained_vat(value, rates[code], gross=gross),
                     kind="shipping" if t["class"] == "ot_shipping" else "fee")
            for t, value, code in zip(rows, values, codes, strict=True)]


def _stated_charges(rows: Sequence[Mapping[str, Any]], values: Sequence[Decimal], *,
                    rates: Mapping[int, Decimal], gross: bool, what: str) -> list[Position]:
    """Charges whose rate (and VAT) the shop recorded: booked at that rate, nothing derived."""
    positions = []
    for t, value in zip(rows, values, strict=True):
        rate = Decimal(t["tax_rate"]).normalize()
        code = tax_code_for(rate, rates, f"{what}: payload.totals ({t['title']})")
        vat = t.get("vat")
        positions.append(Position(
            artikel_id=-1, artnum=None, text=t["title"].strip().rstrip(":"),
            quantity=Decimal(1), unit_price=money(value), tax_code=code, typ="F",
            vat=Decimal(vat) if vat is not None else contained_vat(value, rate, gross=gross),
            kind="shipping" if t["class"] == "ot_shipping" else "fee"))
    return positions


def _charged_vat(totals: Sequence[Mapping[str, Any]], document: Document,
                 values: Sequence[Decimal]) -> Decimal | None:
    """The VAT the shop put on its charges, or None where the order does not record it."""
    items_vat = sum((p.vat for p in document.positions), Decimal(0))
    tax_rows = [Decimal(t["value"]) for t in totals if t["class"] == "ot_tax"]
    if tax_rows or items_vat == 0:
        # Phoenix's ot_tax writes a row for every VAT amount above 0: with the module on,
        # no rows and untaxed items mean untaxed charges too.
        return sum(tax_rows, Decimal(0)) - items_vat
    total = next((Decimal(t["value"]) for t in totals if t["class"] == "ot_total"), None)
    if total is None or document.gross_prices:
        return None                 # a gross total contains the VAT: nothing to tell it by
    goods = sum((p.total for p in document.positions), Decimal(0))
    return total - goods - items_vat - sum(values, Decimal(0))


def _charge_codes(values: Sequence[Decimal], carried: Decimal, rates: Mapping[int, Decimal],
                  settings: OrderImportConfig, *, gross: bool) -> list[int] | None:
    """The CAO codes whose rates give the charges together ``carried`` VAT (None: none do).

    Tried in order of preference, the configured shipping code first; the closest wins.
    """
    preferred = sorted(rates, key=lambda c: (c != settings.shipping_tax_code, c))
    by_rate: dict[Decimal, int] = {}
    for code in preferred:
        by_rate.setdefault(rates[code], code)
    candidates = list(by_rate.values())
    best: tuple[Decimal, list[int]] | None = None
    for combination in product(candidates, repeat=len(values)):
        vat = sum((contained_vat(v, rates[c], gross=gross)
                   for v, c in zip(values, combination, strict=True)), Decimal(0))
        error = abs(vat - carried)
        if error <= STORED * (len(values) + 2) and (best is None or error < best[0]):
            best = (error, list(combination))
    return best[1] if best else None


def _total(document: Document, totals: Iterable[Mapping[str, Any]],
           rates: Mapping[int, Decimal]) -> None:
    """VAT per code rounded once; the shop's separately rounded total kept by a position."""
    _sum_codes(document)
    shop_total = next((Decimal(t["value"]) for t in totals if t["class"] == "ot_total"), None)
    if shop_total is None:
        return
    difference = money(shop_total) - document.gross
    if difference == 0:
        return
    zero = next((c for c, r in sorted(rates.items()) if r == 0), None)
    if abs(difference) <= ROUNDING_MAX and zero is not None:
        # Expected of a net-priced shop with several rates: the document shows it, no note.
        document.positions.append(Position(
            artikel_id=-1, artnum=None, text=ROUNDING_TEXT, quantity=Decimal(1),
            unit_price=difference, tax_code=zero, typ="F", kind="rounding"))
        _sum_codes(document)
    else:
        document.notes.append(f"gross total {document.gross} differs from the shop's "
                              f"ot_total {money(shop_total)}")


def _sum_codes(document: Document) -> None:
    document.by_code = {}
    for code in sorted({p.tax_code for p in document.positions}):
        lines = [p for p in document.positions if p.tax_code == code]
        amount = sum((p.total for p in lines), Decimal(0))
        vat = money(sum((p.vat for p in lines), Decimal(0)))
        if document.gross_prices:
            document.by_code[code] = (amount - vat, vat, amount)
        else:
            document.by_code[code] = (amount, vat, amount + vat)
