"""CAO rows -> product payload (DESIGN 4a)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

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


def _pinned_cases() -> list[tuple[str, dict]]:
    """Inputs of ``build`` that cover every rule, each with the arguments it is built with."""
    from datetime import date, datetime

    plain = articles(1)[0]
    full = dict(articles(2, seed=3)[1], ARTIKELTYP=None, SHOP_VISIBLE=0, SHOP_DEL_FLAG="Y",
                HERSTELLER_ID=7, WARENGRUPPE=3, BARCODE="12345678901234",
                SHOP_IMAGE=" a.jpg ", SHOP_IMAGE_MED="", SHOP_IMAGE_LARGE="c.png",
                SHOP_META_TITEL=" Titel ", SHOP_META_KEY="k1, k2", USERFELD_05="x",
                USERFELD_03=" web ", USERFELD_04="  ", DATE_AVAILABLE=datetime(2027, 3, 1, 8))
    translations = [
        {"ARTIKEL_ID": 2, "SPRACHE_ID": 3, "KURZNAME": "Scie", "SHOP_KURZTEXT": " ",
         "SHOP_LANGTEXT": None, "LANGNAME": "Longue scie", "SHOP_META_TITEL": None},
        {"ARTIKEL_ID": 2, "SPRACHE_ID": 9, "KURZNAME": "unknown language"},
        {"ARTIKEL_ID": 2, "SPRACHE_ID": 2, "KURZNAME": "German ltext: ignored"},
        {"ARTIKEL_ID": 2, "SPRACHE_ID": 1, "KURZNAME": "  ", "SHOP_KURZTEXT": "Short",
         "SHOP_LANGTEXT": "<p>Long</p>", "SHOP_META_KEY": "en keys"},
    ]
    edge = dict(articles(3, seed=5)[2], ARTNUM=" X-9 ", KURZNAME=None, SHOP_LANGTEXT=" ",
                LANGNAME="Nur Langname", BARCODE="123456789012345", HERSTELLER_ID=-1,
                WARENGRUPPE=0, GEWICHT=None, MENGE_AKT=Decimal("-2.5000"), VK3=10, VK4B="7.50",
                VK5=Decimal("1E+2"), STEUER_CODE=5, SHOP_VISIBLE=None,
                DATE_AVAILABLE=date(2027, 1, 31))
    empty = dict(articles(4, seed=9)[3], HERSTELLER_ID=None, WARENGRUPPE=None, BARCODE=None,
                 ARTIKELTYP="SX", DATE_AVAILABLE=None)
    codes = {1: "en", 2: "de", 3: "fr"}
    rates = {1: "7", 2: "19"}
    return [
        ("plain", {"article": plain, "translations": [], "language_codes": {},
                   "vat_rates": {}}),
        ("full", {"article": full, "translations": translations, "language_codes": codes,
                  "vat_rates": rates, "category_keys": ["kat:1:15", "kat:2:7"],
                  "specials": [{"PREIS": Decimal("9.5000"), "GUELTIG_VON": date(2026, 1, 1),
                                "GUELTIG_BIS": None},
                               {"PREIS": Decimal("8"), "GUELTIG_VON": None,
                                "GUELTIG_BIS": datetime(2026, 2, 1, 12, 30)}],
                  "tier_row": {"MENGE2": 50, "PREIS2": Decimal("10.0000"), "MENGE3": 10,
                               "PREIS3": Decimal("5.0000"), "MENGE4": 0, "PREIS4": None,
                               "MENGE5": None, "PREIS5": Decimal("1")}}),
        ("edge", {"article": edge, "translations": translations[3:], "language_codes": codes,
                  "vat_rates": rates, "default_language": "en", "specials": [],
                  "tier_row": {"MENGE2": 3, "PREIS2": None}}),
        ("empty", {"article": empty, "translations": [], "language_codes": codes,
                   "vat_rates": rates, "category_keys": [], "tier_row": {}}),
    ]


def test_payloads_are_pinned_byte_for_byte():
    """What ``build`` makes of these rows, key order included, as it was published when the
    pins were taken: a faster ``build`` must not change one byte (``shopbridge drift`` and the
    snapshot's hashes compare what the producer publishes)."""
    import orjson

    pins = (Path(__file__).with_name("cao_payloads.jsonl")).read_bytes().splitlines()
    cases = _pinned_cases()
    assert len(pins) == len(cases)
    for (name, kwargs), pin in zip(cases, pins, strict=True):
        args = dict(kwargs)
        got = orjson.dumps([name, build(args.pop("article"), args.pop("translations"), **args)])
        assert got == pin, name
