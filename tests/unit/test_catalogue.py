"""Shop-neutral catalogue rules: category keys, the shop's tree, the per-aspect staleness rule."""

from __future__ import annotations

from consumers.binder import Link
from consumers.catalogue import keys_below, parent_key, shop_categories
from consumers.plan import STOCK, is_stale, mark_applied, stale_note
from shopbridge.config import ShopFilter
from shopbridge.events import Event
from shopbridge.keys import PRODUCT_GROUPS, SHOP_CATEGORIES, category_key, category_prefix
from tests.unit.test_mapper import shop


def event(type_: str, version: int) -> Event:
    return Event(event_id="e", type=type_, tenant="acme", source="cao", entity_key="1",
                 version=version, payload={}, raw={})


def test_category_keys_name_their_tree_and_shop():
    assert category_key(SHOP_CATEGORIES, 2, 10) == "kat:2:10"
    assert category_key(PRODUCT_GROUPS, None, 7) == "wgr:7"
    assert category_prefix(SHOP_CATEGORIES, 2) == "kat:2:"
    assert category_prefix(SHOP_CATEGORIES, None) == "kat:"
    assert category_prefix(PRODUCT_GROUPS, 2) == "wgr:"
    assert parent_key({"source": SHOP_CATEGORIES, "shop_id": 2, "parent_erp_id": 3}) == "kat:2:3"
    assert parent_key({"source": SHOP_CATEGORIES, "shop_id": 2, "parent_erp_id": None}) is None


def test_a_shop_uses_the_categories_of_its_own_tree_and_cao_shop():
    payload = {"categories": ["kat:1:10", "kat:2:10", "wgr:3"]}
    assert shop_categories(payload, shop()) == ("kat:1:10",)
    assert shop_categories(payload, shop(filter=ShopFilter())) == ("kat:1:10", "kat:2:10")
    assert shop_categories(payload, shop(categories=PRODUCT_GROUPS)) == ("wgr:3",)


def test_keys_below_walks_the_shops_tree_and_survives_a_loop():
    linked = {1: "kat:1:1", 2: "kat:1:2", 3: "kat:1:3", 4: "kat:1:4"}
    tree = [(1, 0), (2, 1), (3, 2), (4, 0), (5, 3), (1, 3)]        # 1 -> 2 -> 3 -> 1: a loop
    assert keys_below(["kat:1:2"], linked=linked, tree=tree) == {"kat:1:1", "kat:1:2",
                                                                  "kat:1:3"}
    assert keys_below(["kat:1:9"], linked=linked, tree=tree) == {"kat:1:9"}


def test_each_aspect_is_judged_by_its_own_version():
    link = Link("product", "1", version=5, stock_version=9)
    assert is_stale(link, event("product.upserted", 5))
    assert not is_stale(link, event("product.upserted", 6))
    assert is_stale(link, event("product.upserted", 6), STOCK)
    assert not is_stale(link, event("stock.changed", 10))
    assert stale_note(link, event("stock.changed", 9)) == "stock already applied (v9 <= v9)"
    assert stale_note(link, event("product.deleted", 4)) == "already applied (v4 <= v5)"
    mark_applied(link, event("product.deleted", 6))
    assert (link.version, link.stock_version, link.dirty) == (6, 9, True)
