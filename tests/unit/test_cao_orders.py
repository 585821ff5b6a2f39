"""Pure rules of the CAO order import: text fitting, number formats, document totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.cao.documents import Article, build, tax_code_for
from consumers.cao.text import Fitter, transliterate
from shopbridge.config import OrderImportConfig
from shopbridge.errors import MappingError
from systems.cao import format_number, number_range
from tests.phoenix_checkout import Checkout, Line

RATES = {0: Decimal(0), 1: Decimal(7), 2: Decimal(19), 3: Decimal(0)}
ARTICLES = {1: Article(1, "A")}


def test_latin1_text_is_kept_and_the_rest_transliterated():
    assert transliterate("Gießkanne „Größe“ – grün") == "Gießkanne „Größe“ – grün"
    assert transliterate("Łódź 🦄 Ærø") == "Lódz  Ærø"


def test_the_fitter_cuts_to_the_column_and_records_each_change():
    fit = Fitter({"JOURNAL.KUN_NAME1": 5})
    assert fit("JOURNAL.KUN_NAME1", "Müller") == "Mülle"
    assert fit("JOURNAL.KUN_NAME1", "Ünal") == "Ünal"
    assert len(fit.notes) == 1 and "Müller" in fit.notes[0]


@pytest.mark.parametrize(("fmt", "number", "expected"), [
    ("000000", 42, "000042"), ("RE-00000", 7, "RE-00007"), (None, 5, "5"), ("X", 3, "X3")])
def test_number_formats(fmt, number, expected):
    assert format_number(fmt, number) == expected


def test_drafts_share_number_range_10():
    assert [number_range(q) for q in (3, 8, 13, 18)] == [3, 8, 10, 10]


def test_an_unknown_tax_rate_names_the_item():
    with pytest.raises(MappingError, match="item 2"):
        tax_code_for(Decimal(16), RATES, "item 2")


def test_fees_and_discounts_become_positions_and_totals_are_kept_per_vat_code():
    payload = {
        "items": [{"line": 1, "shop_product_id": 1, "erp_id": 1, "sku": "A", "name": "A",
                   "quantity": 3, "price_net": "1.10", "final_price_net": "1.10",
                   "tax_rate": "19.0000", "attributes": []}],
        "totals": [{"class": "ot_subtotal", "title": "Sub", "value": "3.30"},
                   {"class": "ot_shipping", "title": "DHL:", "value": "4.90"},
                   {"class": "ot_coupon", "title": "Gutschein:", "value": "-1.00"},
                   {"class": "ot_total", "title": "Total", "value": "8.00"}],
    }
    doc = build(payload, rates=RATES, settings=OrderImportConfig(), what="o", articles=ARTICLES)
    assert [p.text for p in doc.positions] == ["A", "DHL", "Gutschein"]
    assert doc.by_code == {2: (Decimal("7.20"), Decimal("1.37"), Decimal("8.57"))}
    assert doc.shipping_net == Decimal("4.90")
    assert any("differs from the shop's ot_total 8.00" in n for n in doc.notes)


def test_a_shipping_tax_code_without_a_rate_is_refused_not_booked_at_zero():
    """Only where the order does not record its VAT (a gross shop without ot_tax rows)."""
    payload = {"prices_include_tax": True,
               "items": [{"line": 1, "shop_product_id": 1, "erp_id": 1, "sku": "A", "name": "A",
                          "quantity": 1, "price_net": "1.10", "final_price_net": "1.10",
                          "tax_rate": "19.0000", "attributes": []}],
               "totals": [{"class": "ot_shipping", "title": "DHL", "value": "4.90"}]}
    with pytest.raises(MappingError, match="shipping_tax_code 7"):
        build(payload, rates=RATES, settings=OrderImportConfig(shipping_tax_code=7), what="o",
              articles=ARTICLES)


# -- the document equals what the shop charged (issue 8), pure and fast ----------------------

def cart_payload(checkout: Checkout) -> dict:
    return {"prices_include_tax": checkout.gross,
            "items": [{"line": i, "shop_product_id": 1, "erp_id": 1, "sku": "A", "name": "A",
                       "quantity": line.quantity, "price_net": str(line.final_price),
                       "final_price_net": str(line.final_price), "tax_rate": str(line.tax),
                       "attributes": []} for i, line in enumerate(checkout.lines, start=1)],
            "totals": [{"class": c, "title": t, "value": str(v), "sort_order": o}
                       for c, t, v, o in checkout.rows]}


CODE = {Decimal(0): 0, Decimal(7): 1, Decimal(19): 2}


@settings(max_examples=5000, deadline=None, derandomize=True)
@given(checkout=st.builds(
    Checkout,
    lines=st.lists(st.builds(Line, final_price=st.decimals(
        min_value=Decimal("0.0001"), max_value=Decimal("9999.9999"), places=4),
        tax=st.sampled_from(list(CODE)), quantity=st.integers(1, 99)), min_size=1, max_size=8),
    gross=st.booleans(),
    shipping_cost=st.one_of(st.none(), st.decimals(min_value=Decimal("0.01"),
                                                   max_value=Decimal("99.99"), places=2)),
    shipping_tax=st.sampled_from(list(CODE))))
def test_any_cart_gives_the_shops_total_vat_per_rate_and_lines(checkout):
    doc = build(cart_payload(checkout), rates=RATES, settings=OrderImportConfig(), what="o",
                articles=ARTICLES)
    assert doc.gross == checkout.charged
    for rate, code in CODE.items():
        assert doc.by_code.get(code, (0, Decimal(0), 0))[1] == checkout.vat(rate)
    assert [p.total for p in doc.positions[:len(checkout.lines)]] == checkout.line_shown
    if checkout.shipping_cost is not None:
        assert doc.positions[len(checkout.lines)].tax_code == CODE[checkout.shipping_tax]
    assert not doc.notes
    rounding = [p for p in doc.positions if p.kind == "rounding"]
    assert not (rounding and checkout.gross)      # a gross shop's lines always add up
    assert all(abs(p.total) <= Decimal("0.05") and p.tax_code == 0 for p in rounding)


def test_a_net_shops_rounded_vat_a_cent_off_its_total_gets_a_rounding_position():
    """7 % of 5.07 is 0.3549 (0.35), 19 % of 0.55 is 0.1045 (0.10): the shop's total is
    5.07 + 0.55 + 0.4594 = 6.0794 -> 6.08, its rounded rows say 6.07."""
    checkout = Checkout([Line(Decimal("5.07"), Decimal(7), 1),
                         Line(Decimal("0.55"), Decimal(19), 1)], gross=False)
    doc = build(cart_payload(checkout), rates=RATES, settings=OrderImportConfig(), what="o",
                articles=ARTICLES)
    assert checkout.charged == Decimal("6.08")
    assert [(p.text, p.total, p.tax_code) for p in doc.positions[2:]] == [
        ("Rundungsdifferenz Shop", Decimal("0.01"), 0)]
    assert (doc.by_code[1][1], doc.by_code[2][1], doc.gross) == (
        Decimal("0.35"), Decimal("0.10"), Decimal("6.08"))


def test_an_untaxed_flat_rate_is_read_as_untaxed_from_the_orders_vat_rows():
    checkout = Checkout([Line(Decimal("15.5042"), Decimal(19), 2)], gross=True,
                        shipping_cost=Decimal("5.00"))
    doc = build(cart_payload(checkout), rates=RATES,
                settings=OrderImportConfig(shipping_tax_code=2), what="o", articles=ARTICLES)
    assert [(p.total, p.tax_code) for p in doc.positions] == [
        (Decimal("36.90"), 2), (Decimal("5.00"), 0)]
    assert doc.gross == Decimal("41.90")
