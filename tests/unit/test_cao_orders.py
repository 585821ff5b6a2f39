"""Pure rules of the CAO order import: text fitting, number formats, document totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.cao.documents import build, tax_code_for
from consumers.cao.numbers import format_number, number_range
from consumers.cao.text import Fitter, transliterate
from shopbridge.config import OrderImportConfig
from shopbridge.errors import MappingError

RATES = {0: Decimal(0), 1: Decimal(7), 2: Decimal(19), 3: Decimal(0)}


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
    doc = build(payload, rates=RATES, settings=OrderImportConfig(), what="o")
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
        build(payload, rates=RATES, settings=OrderImportConfig(shipping_tax_code=7), what="o")
