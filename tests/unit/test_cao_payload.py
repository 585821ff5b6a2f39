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


def test_tier_prices_are_absolute_per_level_rounded_to_cents_and_sorted():
    """DESIGN 4a: MENGEk / PREISk = from MENGEk pieces, PREISk percent off each level."""
    row = articles(1)[0]
    row.update(VK1=Decimal("10.0000"), VK1B=Decimal("11.9000"), VK3=Decimal("8.3333"))
    tier_row = {"MENGE2": 50, "PREIS2": Decimal("10.0000"), "MENGE3": 10,
                "PREIS3": Decimal("5.0000"), "MENGE4": 0, "PREIS4": Decimal("20.0000"),
                "MENGE5": 0, "PREIS5": Decimal("0")}

    payload = build(row, [], language_codes={}, vat_rates={}, tier_row=tier_row)

    assert [t["min_qty"] for t in payload["tiers"]] == [10, 50]    # MENGE 0: no break
    assert payload["tiers"][0]["prices"]["1"] == {"net": "9.50", "gross": "11.31"}
    assert payload["tiers"][1]["prices"]["1"] == {"net": "9.00", "gross": "10.71"}
    assert payload["tiers"][0]["prices"]["3"]["net"] == "7.92"      # 7.916635 -> cents
    schemas.validate(make_event("product.upserted", tenant="acme", source="t", entity_key="1",
                                version=1, payload=payload))


def test_free_fields_and_date_available_travel_only_when_set():
    from datetime import date

    row = articles(1)[0]
    row.update(USERFELD_03=" web ", USERFELD_04="  ", DATE_AVAILABLE=date(2027, 3, 1))
    payload = build(row, [], language_codes={}, vat_rates={})
    assert payload["user_fields"] == {"03": "web"}
    assert payload["date_available"] == "2027-03-01"
    # A CAO without the column: no key, so the shop keeps its own date.
    assert "date_available" not in build(articles(1)[0], [], language_codes={}, vat_rates={})
    # With the column but no date: the ERP clears it.
    row = dict(articles(1)[0], DATE_AVAILABLE=None)
    assert build(row, [], language_codes={}, vat_rates={})["date_available"] is None
