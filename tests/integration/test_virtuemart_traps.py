"""VirtueMart NOTES §10 pitfalls and §9 visibility conditions, against a shop database built
from the upstream install SQL (tests/virtuemart_db.py), through the applier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consumers.virtuemart.applier import VirtueMartApplier
from consumers.virtuemart.slugs import slugify
from consumers.virtuemart.store import VmProductStore
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.errors import MappingError
from shopbridge.keys import SHOP_CATEGORIES, category_key
from tests.conftest import AMQP_URL, MARIADB_URL, Database
from tests.unit.test_events import product_payload
from tests.virtuemart_db import (
    PREFIX,
    shop_entry,
)

P = PREFIX + "virtuemart_"


@pytest.fixture
def applier(vm: Database) -> Iterator[VirtueMartApplier]:
    settings = cfg.parse({
        "broker": {"url": AMQP_URL, "namespace": "sbtest-vm"},
        "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": f"{MARIADB_URL}x"},
                     "shops": [shop_entry("vm", vm)]}]}, source="test")
    a = VirtueMartApplier(shop=settings.tenants[0].shops[0])
    yield a
    a.close()


def event(type_: str, key: str, version: int, payload: dict[str, Any]) -> ev.Event:
    return ev.parse(ev.make_event(type_, tenant="acme", source="cao:test",
                                        entity_key=key, version=version, payload=payload))


def category(erp_id: int, name: str, *, parent: int | None = None, sort: int = 0,
             visible: bool = True, v: int = 1) -> ev.Event:
    return event("category.upserted", category_key(SHOP_CATEGORIES, 1, erp_id), v, {
        "erp_id": erp_id, "source": SHOP_CATEGORIES, "shop_id": 1, "parent_erp_id": parent,
        "sort_order": sort, "name": name, "description": None, "image": None,
        "visible": visible})


def product(n: int, name: str = "Gießkanne", *, v: int = 1, cats: tuple[int, ...] = (1,),
            **changes: Any) -> ev.Event:
    return event("product.upserted", str(n), v, product_payload(
        sku=f"S-{n}", erp_id=n, texts={"de": {"name": name, "short_description": None,
                                              "description": None, "meta_title": None,
                                              "meta_description": None,
                                              "meta_keywords": None}},
        categories=[category_key(SHOP_CATEGORIES, 1, c) for c in cats], **changes))


def pid(vm: Database, n: int) -> int:
    return int(vm.scalar(f"SELECT virtuemart_product_id FROM {P}products WHERE product_sku "
                         "= %s", (f"S-{n}",)))


def test_a_synced_product_meets_every_visibility_condition(vm, applier):
    """§9: published, a language row with name and slug per active language, a category
    link to a published category with a language row, no shopper group rows, a price row
    for group 0 and has_prices not 0."""
    applier.apply([category(1, "Garten"), product(1)])
    p = pid(vm, 1)
    assert vm.scalar(f"SELECT published FROM {P}products WHERE virtuemart_product_id = %s",
                     (p,)) == 1
    for lang in ("de_de", "en_gb"):
        name, slug = vm.rows(f"SELECT product_name, slug FROM {P}products_{lang} "
                             "WHERE virtuemart_product_id = %s", (p,))[0]
        assert name == "Gießkanne" and slug == "giesskanne"
    [(cid,)] = vm.rows(f"SELECT virtuemart_category_id FROM {P}product_categories "
                       "WHERE virtuemart_product_id = %s", (p,))
    assert vm.scalar(f"SELECT published FROM {P}categories WHERE virtuemart_category_id "
                     "= %s", (cid,)) == 1
    assert vm.scalar(f"SELECT slug FROM {P}categories_de_de WHERE virtuemart_category_id "
                     "= %s", (cid,)) == "garten"
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_shoppergroups") == 0
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_prices WHERE virtuemart_product_id "
                     "= %s AND virtuemart_shoppergroup_id = 0", (p,)) == 1
    assert vm.scalar(f"SELECT has_prices FROM {P}products WHERE virtuemart_product_id = %s",
                     (p,)) == 1


def test_has_flags_match_the_xref_rows(vm, applier):
    """§10: 0 makes VM skip the lookup; the flags follow the rows exactly."""
    applier.apply([category(1, "Garten"), product(1)])
    p = pid(vm, 1)
    flags = f"SELECT has_categories, has_manufacturers, has_shoppergroups FROM {P}products " \
            "WHERE virtuemart_product_id = %s"
    assert tuple(vm.rows(flags, (p,))[0]) == (1, 0, 0)
    applier.apply([product(1, v=2, cats=())])
    assert tuple(vm.rows(flags, (p,))[0]) == (0, 0, 0)
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_categories WHERE "
                     "virtuemart_product_id = %s", (p,)) == 0


def test_slugs_stay_unique_per_language_table_when_names_collide(vm, applier):
    applier.apply([category(1, "Garten"), product(1, "Kanne"), product(2, "Kanne"),
                   product(3, "Kanne")])
    slugs = sorted(r[0] for r in vm.rows(f"SELECT slug FROM {P}products_en_gb"))
    assert slugs == ["kanne", "kanne-1", "kanne-2"]
    applier.apply([product(1, "Kanne neu", v=2)])       # a rename keeps the slug
    assert vm.scalar(f"SELECT slug FROM {P}products_de_de WHERE virtuemart_product_id = %s",
                     (pid(vm, 1),)) == "kanne"


def test_slugify_transliterates_german():
    assert slugify("Gießkanne „Classic“ 10 l – grün") == "giesskanne-classic-10-l-gruen"


def test_empty_dates_are_null_and_audit_dates_are_set(vm, applier):
    applier.apply([category(1, "Garten"), product(1)])
    row = vm.rows(f"SELECT product_available_date, created_on, modified_on, locked_on "
                  f"FROM {P}products")[0]
    assert row[0] is None and row[1] is not None and row[2] is not None and row[3] is None


def test_category_ordering_is_dense_and_follows_the_erp(vm, applier):
    """§10: VM shows ordering as it is; parents first whatever the arrival order."""
    applier.apply([category(11, "C", parent=10, sort=30), category(12, "A", parent=10, sort=5),
                   category(10, "Wurzel"), category(13, "B", parent=10, sort=5)])
    rows = vm.rows(f"SELECT l.category_name, c.ordering, cc.ordering FROM {P}categories c "
                   f"JOIN {P}categories_de_de l USING (virtuemart_category_id) "
                   f"JOIN {P}category_categories cc ON cc.category_child_id = "
                   f"c.virtuemart_category_id WHERE c.category_parent_id <> 0 "
                   f"ORDER BY c.ordering")
    assert [tuple(r) for r in rows] == [("A", 1, 1), ("B", 2, 2), ("C", 3, 3)]
    assert vm.scalar(f"SELECT has_children FROM {P}categories c JOIN {P}categories_de_de l "
                     f"USING (virtuemart_category_id) WHERE l.category_name = 'Wurzel'") == 1


def test_product_ordering_in_a_category_stays_dense(vm, applier):
    applier.apply([category(1, "Garten"), category(2, "Haus"), product(1), product(2),
                   product(3)])
    applier.apply([product(2, v=2, cats=(2,))])
    orderings = sorted(r[0] for r in vm.rows(
        f"SELECT pc.ordering FROM {P}product_categories pc JOIN {P}categories_de_de l "
        f"USING (virtuemart_category_id) WHERE l.category_name = 'Garten'"))
    assert orderings == [1, 2]


@pytest.mark.parametrize("orders_reach_erp", [False, True])
def test_stock_counts_open_orders_once(vm, applier, monkeypatch, orders_reach_erp):
    """§10 stock ownership, for a product and a variant child. While VirtueMart's orders do
    not reach the ERP (issue 12), the ERP stock lacks nothing VirtueMart reserves: in_stock
    = ERP stock, so available (in_stock - ordered) deducts the shop's open orders once. Once
    they reach the ERP, its stock already lacks them: in_stock = ERP stock + ordered."""
    monkeypatch.setattr(VmProductStore, "orders_reach_erp", orders_reach_erp)
    variants = [{"erp_id": 70, "sku": "S-1-BL", "dims": {"A": "Blau"},
                 "prices": {"1": {"net": "10.00", "gross": "11.90"}}, "stock": "5"}]
    applier.apply([category(1, "Garten"), product(1, stock="5", variants=variants,
                                                  variant_options={"A": {"de": "Farbe"}})])
    p = pid(vm, 1)
    child = int(vm.scalar(f"SELECT virtuemart_product_id FROM {P}products "
                          "WHERE product_sku = 'S-1-BL'"))
    vm.execute(f"UPDATE {P}products SET product_ordered = 2 WHERE virtuemart_product_id "
               "IN (%s, %s)", (p, child))
    applier.apply([event("stock.changed", "1", 2, {
        "erp_id": 1, "sku": "S-1", "stock": "3.000",
        "variants": [{"erp_id": 70, "stock": "3.000"}]})])
    for product_id in (p, child):
        in_stock, ordered = vm.rows(f"SELECT product_in_stock, product_ordered FROM "
                                    f"{P}products WHERE virtuemart_product_id = %s",
                                    (product_id,))[0]
        if orders_reach_erp:
            assert (in_stock, ordered) == (5, 2)      # available: 3, as in the ERP
        else:
            assert (in_stock, ordered) == (3, 2)      # available: 1, the ERP's 3 minus 2 open


def test_a_deselected_product_is_unpublished_never_deleted(vm, applier):
    applier.apply([category(1, "Garten"), product(1)])
    applier.apply([product(1, v=2, shop={"id": 1, "visible": False, "delete_flag": False})])
    assert vm.scalar(f"SELECT published FROM {P}products") == 0
    applier.apply([event("product.deleted", "1", 3, {"erp_id": 1, "sku": "S-1",
                                                      "reason": "deleted"})])
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}products") == 1


def test_customer_events_are_refused_for_issue_12(vm, applier):
    payload = {"erp_id": 1, "customer_number": "K1", "shop_id": 1, "shop_customer_id": None,
               "email": "a@example.org", "gender": "f", "firstname": "A", "lastname": "B",
               "company": None, "telephone": None, "date_of_birth": None,
               "newsletter": False, "price_level": None,
               "address": {"street": "x", "postcode": "1", "city": "y",
                           "country_iso3": "DEU", "erp_country": "D"}}
    with pytest.raises(MappingError, match=r"not supported by virtuemart yet \(issue 12\)"):
        applier.apply([event("customer.upserted", "1", 1, payload)])
