"""C8 for orders: an ordered option combination becomes ``items[].variant`` of order.placed.

The shop's catalogue is written by the real osCommerce consumer (``PhoenixApplier``, without
a broker) from product.upserted events: a master TS-100 with three of the four colour x size
combinations (no Rot/XL) and a master HOSE-7 whose size and length both have a value "L".
Orders are written as Phoenix's checkout writes them; the order producer publishes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from consumers.oscommerce import PhoenixApplier
from producers.oscommerce import PhoenixOrderProducer
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge import schemas
from tests.conftest import Database, settings_for, shop_entry
from tests.integration.test_order_producer import Item, Order, add_order, drain_erp_queue
from tests.unit.test_events import product_payload

EN = 1
NAMES = {"A": {"de": "Farbe", "en": "Colour"}, "B": {"de": "Größe", "en": "Size"},
         "C": {"de": "Länge", "en": "Length"}}
# erp_id, sku, dims, net price at every level
TS_100 = [(101, "TS-100-BLAU-M", {"A": "Blau", "B": "M"}, "10.0000"),
          (102, "TS-100-BLAU-XL", {"A": "Blau", "B": "XL"}, "12.0000"),
          (103, "TS-100-ROT-M", {"A": "Rot", "B": "M"}, "10.0000")]
HOSE_7 = [(201, "HOSE-7-L-L", {"B": "L", "C": "L"}, "10.0000"),
          (202, "HOSE-7-L-XL", {"B": "L", "C": "XL"}, "10.0000"),
          (203, "HOSE-7-XL-L", {"B": "XL", "C": "L"}, "10.0000")]
ZERO = Decimal("0.0000")


def master(erp_id: int, sku: str, children: list[tuple[Any, ...]]) -> dict[str, Any]:
    payload = product_payload(sku=sku, erp_id=erp_id, variant_options=NAMES, variants=[
        {"erp_id": child_id, "sku": child_sku, "dims": dims, "stock": "1.0000",
         "prices": {str(n): {"net": net, "gross": net} for n in range(1, 6)}}
        for child_id, child_sku, dims, net in children])
    return ev.make_event("product.upserted", tenant="acme", source="cao:test",
                         entity_key=str(erp_id), version=ev.next_version(None), payload=payload)


@pytest.fixture
def settings(phoenix_db: Database, namespace: str) -> Iterator[cfg.Settings]:
    """The shop with TS-100 (erp 100), HOSE-7 (erp 200) and A-1 (erp 1, no variants)."""
    settings = settings_for(namespace, phoenix_db, [shop_entry("web", phoenix_db)])
    applier = PhoenixApplier(shop=settings.tenants[0].shop("web"), engine=phoenix_db.engine)
    try:
        events = [master(100, "TS-100", TS_100), master(200, "HOSE-7", HOSE_7),
                  ev.make_event("product.upserted", tenant="acme", source="cao:test",
                                entity_key="1", version=1, payload=product_payload())]
        for event in events:
            schemas.validate(event)
        result = applier.apply([ev.parse(e) for e in events])
        assert result.applied == 3
    finally:
        applier.close()
    yield settings


def pid(db: Database, model: str) -> int:
    return db.scalar("SELECT products_id FROM products WHERE products_model = %s", (model,))


def ordered(db: Database, settings: cfg.Settings, *lines: tuple[str, list[tuple[str, str]]]
            ) -> list[dict[str, Any]]:
    """Order one line per (model, [(option text, value text)]); the published items."""
    add_order(db, Order(items=[
        Item(pid(db, model), model, Decimal("10.0000"), Decimal("10.0000"), model=model,
             attributes=[(option, value, ZERO, "+") for option, value in picked])
        for model, picked in lines]))
    producer = PhoenixOrderProducer(broker=settings.broker, shop=settings.tenants[0].shop("web"))
    try:
        producer.prepare()
        report = producer.run_once()
    finally:
        producer.close()
    assert (report.published, report.rejected) == (1, [])
    [event] = drain_erp_queue(settings)
    schemas.validate(event)
    return event["payload"]["items"]


def test_each_child_is_linked_to_its_master_by_the_hash_of_its_values(phoenix_db, settings):
    assert sorted(phoenix_db.rows(
        "SELECT entity_key, target_id, content_hash FROM shopbridge_link "
        "WHERE entity_type = 'variant'")) == sorted(
        (str(erp_id), pid(phoenix_db, model), ev.dims_hash(dims))
        for model, children in (("TS-100", TS_100), ("HOSE-7", HOSE_7))
        for erp_id, _, dims, _ in children)


def test_an_ordered_combination_names_the_child_and_keeps_the_master_and_the_text(
        phoenix_db, settings):
    [item] = ordered(phoenix_db, settings, ("TS-100", [("Farbe", "Blau"), ("Größe", "XL")]))

    assert item["erp_id"] == 100                                  # the master, as before
    assert item["variant"] == {"erp_id": 102, "dims": {"A": "Blau", "B": "XL"}}
    assert [(a["option"], a["value"]) for a in item["attributes"]] == [
        ("Farbe", "Blau"), ("Größe", "XL")]


def test_a_combination_without_a_child_has_its_values_and_erp_id_null(phoenix_db, settings):
    """Rot in XL is offered (osCommerce has no combinations) but the ERP has no such child."""
    [item] = ordered(phoenix_db, settings, ("TS-100", [("Farbe", "Rot"), ("Größe", "XL")]))

    assert item["variant"] == {"erp_id": None, "dims": {"A": "Rot", "B": "XL"}}


def test_a_value_the_merchant_translated_is_read_in_any_shop_language(phoenix_db, settings):
    """The checkout language is not stored: an English line with the admin's "Blue" is Blau."""
    phoenix_db.execute(
        "UPDATE products_options_values SET products_options_values_name = 'Blue' "
        "WHERE language_id = %s AND products_options_values_id = (SELECT target_id FROM "
        "shopbridge_link WHERE entity_type = 'option_value' AND entity_key = 'A:Blau')", (EN,))

    [item] = ordered(phoenix_db, settings, ("TS-100", [("Colour", "Blue"), ("Size", "XL")]))

    assert item["variant"] == {"erp_id": 102, "dims": {"A": "Blau", "B": "XL"}}


def add_merchant_option(db: Database, model: str, option: str, value: str) -> None:
    """An option and value made in the shop admin (ids 90, 90), offered by ``model``."""
    db.execute("INSERT INTO products_options (products_options_id, language_id, "
               "products_options_name) VALUES (90, 1, %s), (90, 2, %s)", (option, option))
    db.execute("INSERT INTO products_options_values (products_options_values_id, language_id, "
               "products_options_values_name) VALUES (90, 1, %s), (90, 2, %s)", (value, value))
    db.execute("INSERT INTO products_attributes (products_id, options_id, options_values_id, "
               "options_values_price, price_prefix) VALUES (%s, 90, 90, 5, '+')",
               (pid(db, model),))


def test_an_option_the_merchant_created_stays_text_beside_the_variant(phoenix_db, settings):
    add_merchant_option(phoenix_db, "TS-100", "Gravur", "Ja")

    [item] = ordered(phoenix_db, settings,
                     ("TS-100", [("Gravur", "Ja"), ("Farbe", "Blau"), ("Größe", "M")]))

    assert item["variant"] == {"erp_id": 101, "dims": {"A": "Blau", "B": "M"}}
    assert [a["option"] for a in item["attributes"]] == ["Gravur", "Farbe", "Größe"]


def test_a_merchant_option_named_like_ours_on_a_product_without_variants_is_no_variant(
        phoenix_db, settings):
    """A-1 offers the admin's own "Farbe: Blau": same text as the pipeline's, other ids."""
    add_merchant_option(phoenix_db, "A-1", "Farbe", "Blau")

    [item] = ordered(phoenix_db, settings, ("A-1", [("Farbe", "Blau")]))

    assert "variant" not in item
    assert item["attributes"][0]["value"] == "Blau"


def test_a_product_without_variants_keeps_its_payload_without_a_variant_key(
        phoenix_db, settings):
    [plain, gravur] = ordered(phoenix_db, settings, ("A-1", []), ("A-1", [("Gravur", "Ja")]))

    assert "variant" not in plain and "variant" not in gravur
    assert (plain["erp_id"], plain["attributes"]) == (1, [])


def test_the_same_value_name_in_two_dimensions_is_read_through_its_option(
        phoenix_db, settings):
    """Size "L" and length "L" are two values ('B:L', 'C:L'); each option picks its own."""
    items = ordered(phoenix_db, settings, ("HOSE-7", [("Größe", "L"), ("Länge", "XL")]),
                    ("HOSE-7", [("Size", "XL"), ("Length", "L")]),
                    ("HOSE-7", [("Größe", "L"), ("Länge", "L")]))

    assert [i["variant"] for i in items] == [
        {"erp_id": 202, "dims": {"B": "L", "C": "XL"}},
        {"erp_id": 203, "dims": {"B": "XL", "C": "L"}},
        {"erp_id": 201, "dims": {"B": "L", "C": "L"}}]


def test_a_value_that_is_not_the_masters_gives_erp_id_null_not_another_masters_child(
        phoenix_db, settings):
    """TS-100 offers no value "L" (only HOSE-7 does): its dims hold what could be read."""
    [item] = ordered(phoenix_db, settings, ("TS-100", [("Farbe", "Blau"), ("Größe", "L")]))

    assert item["variant"] == {"erp_id": None, "dims": {"A": "Blau"}}
