"""VirtueMart NOTES §10 pitfalls and §9 visibility conditions, against a shop database built
from the upstream install SQL (tests/virtuemart_db.py), through the applier."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from consumers.virtuemart.applier import VirtueMartApplier
from consumers.virtuemart.caches import GROUPS
from consumers.virtuemart.shop import Tables, active_languages
from consumers.virtuemart.slugs import slugify, unique_slugs
from consumers.virtuemart.store import VmProductStore
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.errors import ConfigError, DependencyMissing
from shopbridge.keys import SHOP_CATEGORIES, category_key
from tests.conftest import AMQP_URL, MARIADB_URL, Database
from tests.unit.test_events import product_payload
from tests.virtuemart_db import (
    PREFIX,
    config_text,
    shop_entry,
)

P = PREFIX + "virtuemart_"
SITE = zoneinfo.ZoneInfo("Europe/Berlin")      # the timezone option's default


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """Joomla's cache folder (``cache_path``), with a file in every forced cache group."""
    for group in GROUPS:
        (tmp_path / group).mkdir()
        (tmp_path / group / "cached.php").write_text("stale")
    return tmp_path


@pytest.fixture
def applier(vm: Database, cache: Path) -> Iterator[VirtueMartApplier]:
    entry = shop_entry("vm", vm, virtuemart={"prefix": PREFIX, "cache_path": str(cache)})
    settings = cfg.parse({
        "broker": {"url": AMQP_URL, "namespace": "sbtest-vm"},
        "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": f"{MARIADB_URL}x"},
                     "shops": [entry]}]}, source="test")
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


def test_a_synced_product_meets_every_visibility_condition(vm, applier, cache):
    """§9, each condition in one place, as VirtueMart's front end checks it."""
    applier.apply([category(1, "Garten"), product(1, stock="5")])
    p = pid(vm, 1)
    # 1. published, not discontinued
    assert vm.rows(f"SELECT published, product_discontinued FROM {P}products "
                   "WHERE virtuemart_product_id = %s", (p,)) == [(1, 0)]
    # 2. a language row with name and unique slug in every active language
    for lang in ("de_de", "en_gb"):
        assert vm.rows(f"SELECT product_name, slug FROM {P}products_{lang} "
                       "WHERE virtuemart_product_id = %s", (p,)) == [("Gießkanne",
                                                                      "giesskanne")]
    # 3. linked to a published category with a language row in every active language,
    # reachable from the top of the tree (both tree tables)
    [(cid,)] = vm.rows(f"SELECT virtuemart_category_id FROM {P}product_categories "
                       "WHERE virtuemart_product_id = %s", (p,))
    assert vm.rows(f"SELECT published, category_parent_id FROM {P}categories "
                   "WHERE virtuemart_category_id = %s", (cid,)) == [(1, 0)]
    assert vm.rows(f"SELECT category_parent_id FROM {P}category_categories "
                   "WHERE category_child_id = %s", (cid,)) == [(0,)]
    for lang in ("de_de", "en_gb"):
        assert vm.rows(f"SELECT category_name, slug FROM {P}categories_{lang} "
                       "WHERE virtuemart_category_id = %s", (cid,)) == [("Garten", "garten")]
    assert vm.scalar(f"SELECT has_categories FROM {P}products WHERE virtuemart_product_id "
                     "= %s", (p,)) == 1
    # 4. no shopper group rows (everyone may see it), and the flag says so
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_shoppergroups WHERE "
                     "virtuemart_product_id = %s", (p,)) == 0
    assert vm.scalar(f"SELECT has_shoppergroups FROM {P}products WHERE "
                     "virtuemart_product_id = %s", (p,)) == 0
    # 5. a price row for group 0 inside its dates (site-local time), has_prices not 0
    now = datetime.now(SITE).replace(tzinfo=None)
    assert vm.scalar(
        f"SELECT COUNT(*) FROM {P}product_prices WHERE virtuemart_product_id = %s "
        "AND virtuemart_shoppergroup_id = 0 AND product_price > 0 "
        "AND (product_price_publish_up IS NULL OR product_price_publish_up <= %s) "
        "AND (product_price_publish_down IS NULL OR product_price_publish_down >= %s)",
        (p, now, now)) == 1
    assert vm.scalar(f"SELECT has_prices FROM {P}products WHERE virtuemart_product_id = %s",
                     (p,)) == 1
    # 6. stock to sell under stockhandle=disableit: in_stock - ordered > 0
    assert vm.scalar(f"SELECT product_in_stock - product_ordered FROM {P}products "
                     "WHERE virtuemart_product_id = %s", (p,)) == 5
    # 7. VirtueMart's forced file caches cleared
    assert [g for g in GROUPS if (cache / g).exists()] == []


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


def test_quote_escaping_keeps_backslashes_quotes_and_like_patterns(vm, applier):
    """The applier's connections escape by doubling quotes (NO_BACKSLASH_ESCAPES): texts with
    backslashes and quotes arrive as they are, and the slug lookup's LIKE names its own
    escape character, so a taken 'a_b-1' is seen."""
    name = "Kanne \\ 'Classic' \\' 50% a_b!"
    applier.apply([category(1, "Garten"), product(1, name), product(2, "Zwei")])
    table = f"{P}products_de_de"
    assert vm.scalar(f"SELECT product_name FROM {table} WHERE virtuemart_product_id = %s",
                     (pid(vm, 1),)) == name
    for n, slug in ((1, "a_b"), (2, "a_b-1")):
        vm.execute(f"UPDATE {table} SET slug = %s WHERE virtuemart_product_id = %s",
                   (slug, pid(vm, n)))
    with applier.engine.connect() as conn:
        assert unique_slugs(conn, table, ["a_b", "c!%"]) == ["a_b-2", "c!%"]


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


def test_a_category_the_merchant_deleted_is_made_again_without_its_old_sort_row(vm, applier):
    applier.apply([category(1, "Garten", sort=7)])
    old = vm.scalar(f"SELECT virtuemart_category_id FROM {P}categories")
    vm.execute(f"DELETE FROM {P}categories WHERE virtuemart_category_id = %s", (old,))
    applier.apply([category(1, "Garten", sort=8, v=2)])
    new = vm.scalar(f"SELECT virtuemart_category_id FROM {P}categories")
    assert new != old
    assert [tuple(r) for r in vm.rows(
        "SELECT category_id, sort_order FROM shopbridge_vm_category_order")] == [(new, 8)]


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
    """§10 stock ownership, for a product and a variant child. While the ERP's stock lacks
    nothing VirtueMart reserves (CAO: until the imported order is booked), in_stock = ERP
    stock, so available (in_stock - ordered) deducts the shop's open orders once. Where the
    ERP's stock already lacks them: in_stock = ERP stock + ordered."""
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


@pytest.mark.parametrize("tag", ["de_DE` (x int); --", "de-de", "deutsch", "de-DE "])
def test_a_language_that_is_not_a_tag_never_becomes_a_table_name(vm, tag):
    """Tags from the shop's database are part of table names: anything but 'xx-XX' is a
    configuration error naming active_languages."""
    with vm.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {P}configs SET config = %s WHERE virtuemart_config_id = 1",
                             (config_text({"active_languages": ["en-GB", tag]}),))
        with pytest.raises(ConfigError, match="active_languages"):
            active_languages(conn, Tables(PREFIX))


def test_tables_names_only_the_declared_tables():
    t = Tables(PREFIX)
    assert t.products == P + "products"
    with pytest.raises(AttributeError, match="prodcts"):
        _ = t.prodcts


def test_a_move_below_its_own_child_waits_until_the_child_has_moved(vm, applier):
    """VirtueMart walks category_parent_id up to the top without a guard, as Phoenix does: a
    move that would make a loop waits (retried) until the parent's own move arrives."""
    applier.apply([category(1, "A"), category(2, "B", parent=1)])

    with pytest.raises(DependencyMissing, match="loop"):
        applier.apply([category(1, "A", parent=2, v=2)])
    applier.apply([category(1, "A", parent=2, v=2), category(2, "B", v=2)])   # one batch

    parents = dict(vm.rows(
        f"SELECT l.category_name, p.category_name FROM {P}categories c "
        f"JOIN {P}categories_de_de l USING (virtuemart_category_id) "
        f"LEFT JOIN {P}categories_de_de p ON p.virtuemart_category_id = c.category_parent_id"))
    assert parents == {"A": "B", "B": None}
