"""Phoenix mapping rules: price level, tax class, stock mode, selection, plain-text names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.catalogue import in_selection, quantity
from consumers.oscommerce.mapper import map_product
from consumers.oscommerce.text import plain_text
from shopbridge.config import DatabaseConfig, ShopConfig, ShopFilter
from shopbridge.errors import MappingError
from tests.unit.test_events import product_payload


def shop(**changes: object) -> ShopConfig:
    values: dict = dict(tenant="acme", name="web", kind="oscommerce", active=True,
                        db=DatabaseConfig("mysql://x@y/z"), languages=("de", "en"),
                        price_level=3, stock_mode="available", tax_classes={2: 1, 1: 2},
                        filter=ShopFilter(cao_shop_id=1))
    values.update(changes)
    return ShopConfig(**values)


def test_the_configured_net_price_level_and_tax_class_are_used():
    payload = product_payload()
    payload["prices"]["3"] = {"net": "8.4000", "gross": "9.9960"}
    row = map_product(payload, shop=shop(), language_ids={"de": 2, "en": 1}, what="p")
    assert row.price == Decimal("8.4000")
    assert row.tax_class_id == 1
    assert [d.language_id for d in row.descriptions] == [1, 2]
    assert row.descriptions[0].name == "Gießkanne"          # English falls back to German


def test_an_unmapped_tax_code_names_the_field_and_the_shop():
    with pytest.raises(MappingError, match=r"payload.tax.code: CAO tax code 3 .* 'web'"):
        map_product(product_payload(tax={"code": 3, "rate": "0"}), shop=shop(),
                    language_ids={"de": 2}, what="p")


def test_a_weight_phoenix_cannot_store_is_refused():
    with pytest.raises(MappingError, match=r"payload\.weight"):
        map_product(product_payload(weight="1234.5"), shop=shop(), language_ids={"de": 2},
                    what="p")


@pytest.mark.parametrize(("stock", "mode", "expected"), [
    ("5.0000", "available", 5), ("-3.0000", "available", 0), ("-3.0000", "total", -3),
    ("2.7500", "available", 2)])
def test_quantity(stock, mode, expected):
    assert quantity(stock, mode) == expected


def test_selection_follows_the_shop_filter():
    f = ShopFilter(cao_shop_id=1, sku_pattern="A-*")
    assert in_selection(product_payload(), f)
    assert not in_selection(product_payload(sku="B-1"), f)
    assert not in_selection(product_payload(shop={"id": 2, "visible": True,
                                                  "delete_flag": False}), f)
    assert not in_selection(product_payload(shop={"id": 1, "visible": False,
                                                  "delete_flag": False}), f)
    assert not in_selection(product_payload(shop={"id": 1, "visible": True,
                                                  "delete_flag": True}), f)


def test_names_lose_their_markup_because_phoenix_prints_them_unescaped():
    assert plain_text("Kanne <b>XL</b>") == "Kanne &lt;b&gt;XL&lt;/b&gt;"


def test_the_content_hash_ignores_nothing_but_quantity():
    a = map_product(product_payload(), shop=shop(), language_ids={"de": 2}, what="p")
    b = map_product(product_payload(stock="99"), shop=shop(), language_ids={"de": 2}, what="p")
    c = map_product(product_payload(sku="A-2"), shop=shop(), language_ids={"de": 2}, what="p")
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_the_flag_filter_wants_the_free_field_set_or_equal_to_the_value():
    set_flag = ShopFilter(cao_shop_id=1, flag=("03", None))
    equal = ShopFilter(cao_shop_id=1, flag=("03", "B2B"))
    assert in_selection(product_payload(user_fields={"03": "x"}), set_flag)
    assert not in_selection(product_payload(user_fields={"03": "Nein"}), set_flag)
    assert not in_selection(product_payload(), set_flag)        # empty fields do not travel
    assert in_selection(product_payload(user_fields={"03": "B2B"}), equal)
    assert not in_selection(product_payload(user_fields={"03": "b2c"}), equal)


def test_the_category_filter_admits_the_given_categories_and_those_below():
    only = ShopFilter(cao_shop_id=1, categories=("kat:1:10",))
    linked = product_payload(categories=["kat:1:12"])
    assert not in_selection(linked, only)                        # 12 is not 10 ...
    assert in_selection(linked, only, {"kat:1:10", "kat:1:12"})  # ... but lies below it
    assert not in_selection(product_payload(categories=[]), only, {"kat:1:10"})
