"""VirtueMart NOTES §10 pitfalls that test_virtuemart_traps.py and the other VirtueMart tests
leave open (docs/virtuemart.md lists where each one is guarded), through the applier into a
shop database built from the upstream install SQL (tests/virtuemart_db.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.virtuemart import langrows, tables
from consumers.virtuemart.store import VmProductStore
from shopbridge import events as ev
from shopbridge.errors import InvalidEvent, MappingError, TransientDatabaseError
from tests.conftest import Database
from tests.integration import test_virtuemart_traps as traps
from tests.integration.test_virtuemart_traps import P, category, event, pid, product
from tests.unit.test_events import product_payload
from tests.virtuemart_db import PREFIX

applier, cache = traps.applier, traps.cache      # the fixtures: a VirtueMart applier


def manufacturer(erp_id: int, name: str, *, v: int = 1) -> ev.Event:
    return event("manufacturer.upserted", str(erp_id), v, {
        "erp_id": erp_id, "shop_id": 1, "name": name, "image": None,
        "urls": {"de": f"https://{erp_id}.example"}})


def shirt(version: int, *, child_stock: str = "3.0000", child_sku: str = "TS-Rot") -> ev.Event:
    """Product 7 with one colour dimension and two children."""
    children = [{"erp_id": 900 + i, "sku": sku, "dims": {"A": colour},
                 "prices": {"1": {"net": "10.00", "gross": "11.90"}}, "stock": child_stock}
                for i, (sku, colour) in enumerate(((child_sku, "Rot"), ("TS-Blau", "Blau")))]
    return product(7, "T-Shirt", v=version, variants=children,
                   variant_options={"A": {"de": "Farbe"}})


def test_has_manufacturers_follows_the_manufacturer_link(vm, applier):
    """§10 has_* flags: 0 with a manufacturer row makes VM skip it, 1 without one is a
    lookup for nothing."""
    applier.apply([manufacturer(4, "Gardena"), category(1, "Garten"),
                   product(1, manufacturer_id=4)])
    p = pid(vm, 1)
    flag = f"SELECT has_manufacturers FROM {P}products WHERE virtuemart_product_id = %s"
    links = f"SELECT COUNT(*) FROM {P}product_manufacturers WHERE virtuemart_product_id = %s"
    assert (vm.scalar(flag, (p,)), vm.scalar(links, (p,))) == (1, 1)
    applier.apply([product(1, v=2, manufacturer_id=None)])
    assert (vm.scalar(flag, (p,)), vm.scalar(links, (p,))) == (0, 0)


def test_categories_and_manufacturers_get_a_row_and_a_unique_slug_in_every_language(
        vm, applier):
    """§10 language rows are mandatory (VM's INNER JOIN finds nothing without one) and
    slugs are unique per table: 'Zubehör' under two parents, two makers of one name."""
    applier.apply([category(1, "Garten"), category(2, "Haus"),
                   category(3, "Zubehör", parent=1), category(4, "Zubehör", parent=2),
                   manufacturer(5, "Wolf"), manufacturer(6, "Wolf")])
    for lang in ("de_de", "en_gb"):
        assert sorted(s for (s,) in vm.rows(f"SELECT slug FROM {P}categories_{lang}")) == [
            "garten", "haus", "zubehoer", "zubehoer-1"]
        assert vm.scalar(f"SELECT COUNT(*) FROM {P}categories") == vm.scalar(
            f"SELECT COUNT(*) FROM {P}categories_{lang}") == 4
        assert sorted(s for (s,) in vm.rows(f"SELECT slug FROM {P}manufacturers_{lang}")) \
            == ["wolf", "wolf-1"]
    # has_children 1 on a parent, NULL (VM looks) on a leaf, never 0; has_medias NULL too
    assert sorted(vm.rows(f"SELECT l.slug, c.has_children, c.has_medias FROM {P}categories c "
                          f"JOIN {P}categories_de_de l USING (virtuemart_category_id)")) == [
        ("garten", 1, None), ("haus", 1, None), ("zubehoer", None, None),
        ("zubehoer-1", None, None)]


def test_language_tables_are_the_active_languages_of_the_shops_config(vm, applier):
    """§10 dynamic schema: the tables written are those `active_languages` names, not the
    configured ERP languages: a shop switched to German only gets no English rows."""
    config = vm.scalar(f"SELECT config FROM {P}configs WHERE virtuemart_config_id = 1")
    vm.execute(f"UPDATE {P}configs SET config = %s WHERE virtuemart_config_id = 1",
               (config.replace('["de-DE", "en-GB"]', '["de-DE"]'),))
    applier.apply([category(1, "Garten"), product(1)])
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}products_de_de") == 1
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}products_en_gb") == 0


def test_a_name_longer_than_the_shops_language_column_is_refused_naming_both(vm, applier):
    """§10 dynamic schema: sizes come from information_schema, per language table."""
    vm.execute(f"ALTER TABLE {P}products_en_gb MODIFY product_name varchar(12) NOT NULL "
               "DEFAULT ''")
    with pytest.raises(MappingError, match=r"payload\.texts\.de\.name: 14 characters; "
                                           r"product_name of .*products_en_gb.* holds 12"):
        applier.apply([category(1, "Garten"), product(1, "Gartenschlauch")])
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}products_de_de") == 0


def test_audit_dates_are_utc(vm, applier):
    """§10 dates: created_on/modified_on are UTC (Joomla converts them for display); the
    site's zone (Europe/Berlin) is 1 or 2 hours off, so local time would fail here."""
    applier.apply([category(1, "Garten"), product(1)])
    now = datetime.now(UTC).replace(tzinfo=None)
    for table in ("products", "categories", "product_prices"):
        for created, modified in vm.rows(f"SELECT created_on, modified_on FROM {P}{table}"):
            assert abs(created - now) < timedelta(minutes=5), (table, created)
            assert abs(modified - now) < timedelta(minutes=5), (table, modified)


def test_product_ordering_in_a_category_is_stable_across_resyncs(vm, applier):
    """§10 ordering: a product that stays keeps its place; one that leaves closes the gap;
    one that comes back goes to the end."""
    applier.apply([category(1, "Garten"), category(2, "Haus"), product(1), product(2),
                   product(3)])
    order = (f"SELECT p.product_sku, pc.ordering FROM {P}product_categories pc JOIN "
             f"{P}products p USING (virtuemart_product_id) WHERE pc.virtuemart_category_id = "
             f"(SELECT virtuemart_category_id FROM {P}categories_de_de WHERE slug = 'garten') "
             "ORDER BY pc.ordering")
    assert vm.rows(order) == [("S-1", 1), ("S-2", 2), ("S-3", 3)]
    applier.apply([product(1, "Neu", v=2), product(2, v=2, cats=(2,))])
    assert vm.rows(order) == [("S-1", 1), ("S-3", 2)]
    applier.apply([product(2, v=3)])
    assert vm.rows(order) == [("S-1", 1), ("S-3", 2), ("S-2", 3)]


def test_a_new_product_goes_after_the_merchants_own_ordering(vm, applier):
    """The store bounds its read of a category's last ordering by what it wrote before
    (store.VmProductStore._last_orderings); a merchant's later edits below or above that
    still put a new product right at the end."""
    applier.apply([category(1, "Garten"), category(2, "Haus"), product(1), product(2),
                   product(3)])
    garten = vm.scalar(f"SELECT virtuemart_category_id FROM {P}categories_de_de "
                       "WHERE slug = 'garten'")
    order = (f"SELECT p.product_sku, pc.ordering FROM {P}product_categories pc JOIN "
             f"{P}products p USING (virtuemart_product_id) WHERE pc.virtuemart_category_id = "
             "%s ORDER BY pc.ordering")
    # The merchant removes two links by hand: the last ordering drops below the store's 3.
    vm.execute(f"DELETE FROM {P}product_categories WHERE virtuemart_category_id = %s "
               "AND ordering > 1", (garten,))
    applier.apply([product(4)])
    assert vm.rows(order, (garten,)) == [("S-1", 1), ("S-4", 2)]
    # ... and moves one far down: the next new product follows it.
    vm.execute(f"UPDATE {P}product_categories SET ordering = 9 WHERE ordering = 1 AND "
               "virtuemart_category_id = %s", (garten,))
    applier.apply([product(5)])
    assert vm.rows(order, (garten,)) == [("S-4", 2), ("S-1", 9), ("S-5", 10)]


def test_a_sku_longer_than_the_shop_holds_is_refused_naming_the_field():
    """§10 length limits: product_sku is varchar(192) for parents and children; the event
    schema caps SKUs below that, so a longer one is refused before any write (the same
    for the product and a variant child), never cut."""
    sku_limit = tables.metadata(PREFIX).tables[f"{P}products"].c.product_sku.type.length
    assert sku_limit == 192
    long = "X" * (sku_limit + 1)
    child = {"erp_id": 901, "sku": long, "dims": {"A": "Rot"}, "prices": {}, "stock": "1"}
    for payload, field in ((product_payload(sku=long), "payload.sku"),
                           (product_payload(variants=[child],
                                            variant_options={"A": {"de": "Farbe"}}),
                            "payload.variants[0].sku")):
        with pytest.raises(InvalidEvent, match=re.escape(field)):
            ev.parse(ev.make_event("product.upserted", tenant="acme", source="cao:test",
                                   entity_key="1", version=1, payload=payload))


def child_rows(vm: Database) -> dict[str, tuple[Any, ...]]:
    return {sku: (stock, ordered) for sku, stock, ordered in vm.rows(
        f"SELECT product_sku, product_in_stock, product_ordered FROM {P}products "
        "WHERE product_parent_id <> 0")}


@pytest.mark.parametrize("orders_reach_erp", [False, True])
def test_a_variant_childs_stock_counts_its_open_orders_once(vm, applier, monkeypatch,
                                                            orders_reach_erp):
    """§10 stock ownership, for children too, through a product event: in_stock = ERP stock
    while VirtueMart's orders do not reach the ERP (issue 12), ERP stock + product_ordered
    once they do (``VmProductStore.orders_reach_erp``)."""
    monkeypatch.setattr(VmProductStore, "orders_reach_erp", orders_reach_erp)
    applier.apply([category(1, "Garten"), shirt(1)])
    vm.execute(f"UPDATE {P}products SET product_ordered = 2 WHERE product_sku = 'TS-Rot'")
    applier.apply([shirt(2, child_stock="1.0000")])
    assert child_rows(vm) == {"TS-Rot": (3 if orders_reach_erp else 1, 2), "TS-Blau": (1, 0)}


def test_children_get_no_categories_customfields_or_customfield_sku(vm, applier):
    """§10 variant children: a category row lists a child as a product of its own; the
    parent's customfields are inherited, a copy would show twice. shopbridge leaves the
    selector row's own product_sku (varchar(64)) empty."""
    applier.apply([category(1, "Garten"), shirt(1)])
    parent = pid(vm, 7)
    kids = [k for (k,) in vm.rows(f"SELECT virtuemart_product_id FROM {P}products WHERE "
                                  "product_parent_id = %s", (parent,))]
    assert len(kids) == 2
    marks = ", ".join(["%s"] * len(kids))
    for table in ("product_categories", "product_customfields"):
        assert vm.scalar(f"SELECT COUNT(*) FROM {P}{table} WHERE virtuemart_product_id IN "
                         f"({marks})", tuple(kids)) == 0, table
    assert vm.rows(f"SELECT product_sku FROM {P}product_customfields WHERE "
                   "virtuemart_product_id = %s", (parent,)) == [(None,)]


def test_a_slug_another_consumer_took_meanwhile_fails_the_batch_and_leaves_its_row_alone(
        vm, monkeypatch):
    """§10 slugs are unique per table. A new row's slug is chosen free by reading the table;
    a second consumer may commit the same slug before this one writes. Then the write must
    fail as transient (applied again, it picks another slug), never update the other
    consumer's row through the slug key."""
    table = f"{P}manufacturers_de_de"
    vm.execute(f"INSERT INTO {table} (virtuemart_manufacturer_id, mf_name, slug) "
               f"VALUES (901, 'Wolf', 'wolf')")             # the other consumer's, committed
    monkeypatch.setattr(langrows, "unique_slugs", lambda *_: ["wolf"])  # read before that
    with vm.engine.begin() as conn, pytest.raises(TransientDatabaseError, match="wolf"):
        langrows.write_language_rows(conn, table, "virtuemart_manufacturer_id",
                                     [(902, {"mf_name": "Wolf GmbH"}, "Wolf")])
    assert vm.rows(f"SELECT virtuemart_manufacturer_id, mf_name, slug FROM {table}") == [
        (901, "Wolf", "wolf")]
