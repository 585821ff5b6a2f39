"""CAO rows -> product payload (DESIGN 4a)."""

from __future__ import annotations

from decimal import Decimal

from producers.cao.payload import build
from shopbridge import schemas
from shopbridge.events import make_event
from shopbridge.sample import articles


def test_german_comes_from_artikel_and_other_languages_from_ltext_with_fallback():
    row = articles(1)[0]
    row.update(KURZNAME="Säge", SHOP_LANGTEXT=None, LANGNAME="Lange Säge", SHOP_META_TITEL="T")
    english = {"ARTIKEL_ID": 1, "SPRACHE_ID": 1, "KURZNAME": "Saw", "SHOP_LANGTEXT": None,
               "LANGNAME": None}
    german_ltext = {"ARTIKEL_ID": 1, "SPRACHE_ID": 2, "KURZNAME": "ignored"}

    payload = build(row, [english, german_ltext], language_codes={1: "en", 2: "de"},
                    vat_rates={2: "19"})

    assert payload["texts"]["de"]["name"] == "Säge"
    assert payload["texts"]["de"]["description"] == "Lange Säge"   # LANGNAME: no shop text
    assert payload["texts"]["en"]["name"] == "Saw"
    assert payload["texts"]["en"]["description"] == "Lange Säge"   # falls back to German
    assert payload["texts"]["en"]["meta_title"] == "T"
    schemas.validate(make_event("product.upserted", tenant="acme", source="t", entity_key="1",
                                version=1, payload=payload))


def test_prices_are_decimal_strings_net_and_gross_for_every_level():
    row = articles(1)[0]
    row.update(VK2=Decimal("12.5000"), VK2B=Decimal("14.8750"))
    payload = build(row, [], language_codes={}, vat_rates={})
    assert payload["prices"]["2"] == {"net": "12.5000", "gross": "14.8750"}
    assert set(payload["prices"]) == {"1", "2", "3", "4", "5"}


def test_an_empty_name_falls_back_to_the_sku_and_a_bad_barcode_is_dropped():
    row = articles(1)[0]
    row.update(KURZNAME="  ", BARCODE="12-34")
    payload = build(row, [], language_codes={}, vat_rates={})
    assert payload["texts"]["de"]["name"] == row["ARTNUM"]
    assert payload["ean"] is None
