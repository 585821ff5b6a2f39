"""C8 against real MariaDB: a colour x size product with 6 children becomes one multi-variant
selector on the parent whose options point at the right children, also after a re-sync
(consumers/virtuemart/variant_writer.py).

The tables come from VirtueMart's own install.sql (`#__` -> a unique prefix), read at test
time from ../shared/reference; the project never copies that SQL. The child products are made
by a stand-in for the kind's product store (``LinkedChildren``): product rows linked by the
child's ERP id, as the store is expected to do (``ChildProducts``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from consumers.binder import Binder
from consumers.virtuemart.params import parse_params
from consumers.virtuemart.shop import Tables
from consumers.virtuemart.variant_writer import CUSTOM_ENTITY, MULTI_VARIANT_KEY, VariantWriter
from consumers.virtuemart.variants import ChildSpec, VariantPlan, plan_variants
from tests.conftest import REFERENCE, Database, require_reference, unique

INSTALL_SQL = REFERENCE / "virtuemart" / "install.sql"
TABLES = ("customs", "product_customfields", "products", "product_categories")
NAMES = {"A": {"de": "Farbe"}, "B": {"de": "Größe"}}
COLOURS, SIZES = ("Rot", "Blau"), ("S", "M", "L")
SIX = [{"erp_id": 100 + i, "sku": f"TS-{colour}-{size}", "dims": {"A": colour, "B": size},
        "prices": {}, "stock": "1"}
       for i, (size, colour) in enumerate((s, c) for s in SIZES for c in COLOURS)]


def vm_tables(prefix: str) -> str:
    """The CREATE statements of the tables C8 writes, from VirtueMart's install.sql."""
    sql = require_reference(INSTALL_SQL)
    statements = []
    for table in TABLES:
        match = re.search(rf"CREATE TABLE IF NOT EXISTS `#__virtuemart_{table}` \(.*?;",
                          sql, re.S)
        assert match, f"install.sql has no table #__virtuemart_{table}"
        statements.append(match[0].replace("#__", prefix))
    return "\n".join(statements)


@dataclass
class Row:
    variants: VariantPlan


class LinkedChildren:
    """Stand-in for the product store: a product row per child, linked by its ERP id."""

    def __init__(self, prefix: str) -> None:
        self.products = f"`{prefix}virtuemart_products`"
        self.binder = Binder()
        self.calls = 0

    def __call__(self, conn: Connection,
                 children: Mapping[int, Sequence[ChildSpec]]) -> Mapping[int, int]:
        self.calls += 1
        specs = [c for cs in children.values() for c in cs]
        links = self.binder.lock(conn, "vm_variant", [str(c.erp_id) for c in specs])
        for spec in specs:
            link = links[str(spec.erp_id)]
            if link.target_id is None:
                link.target_id = int(conn.exec_driver_sql(
                    f"INSERT INTO {self.products} (product_sku, published) VALUES (%s, 1)",
                    (spec.sku,)).lastrowid)
                link.dirty = True
        self.binder.save(conn, links.values())
        return {spec.erp_id: links[str(spec.erp_id)].target for spec in specs}


@pytest.fixture
def shop(make_db: Callable[..., Database]) -> tuple[Database, str]:
    # A letter first: table names are unquoted, and '1e5_...' would read as a number.
    prefix = "v" + unique("vm")[-7:] + "_"
    db = make_db("vmvariants", vm_tables(prefix))
    with db.engine.begin() as conn:
        Binder().ensure_table(conn)
    return db, prefix


def plan(variants: list[dict[str, Any]]) -> VariantPlan:
    return plan_variants({"variants": variants, "variant_options": NAMES}, language="de",
                         what="product TS")


def sync(db: Database, writer: VariantWriter, parent: int, variants: list[dict[str, Any]]
         ) -> None:
    with db.engine.begin() as conn:
        writer(conn, {parent: Row(plan(variants))})


def synced_parent(db: Database, prefix: str) -> tuple[int, VariantWriter]:
    """A shown parent product 'TS' (children follow the parent's published) synced with the
    six children of ``SIX``, and its writer."""
    db.execute(f"INSERT INTO {prefix}virtuemart_products (product_sku, published) "
               f"VALUES ('TS', 1)")
    parent = db.scalar(f"SELECT virtuemart_product_id FROM {prefix}virtuemart_products")
    writer = VariantWriter(tables=Tables(prefix), child_products=LinkedChildren(prefix))
    sync(db, writer, parent, SIX)
    return parent, writer


def selector(db: Database, prefix: str, parent: int) -> list[tuple[int, int, dict[str, Any]]]:
    """(customfield id, custom id, params) of the parent's multi-variant rows."""
    return [(fid, cid, parse_params(params)) for fid, cid, params in db.rows(
        f"SELECT f.virtuemart_customfield_id, f.virtuemart_custom_id, f.customfield_params "
        f"FROM {prefix}virtuemart_product_customfields f JOIN {prefix}virtuemart_customs c "
        f"USING (virtuemart_custom_id) WHERE c.field_type = 'C' AND "
        f"f.virtuemart_product_id = %s", (parent,))]


def skus(db: Database, prefix: str) -> dict[int, str]:
    return dict(db.rows(f"SELECT virtuemart_product_id, product_sku FROM "
                        f"{prefix}virtuemart_products"))


def test_six_children_give_one_selector_pointing_at_the_right_children_across_resyncs(
        shop: tuple[Database, str]) -> None:
    db, prefix = shop
    # Given a parent product with a field of the merchant's own, and the merchant's own
    # multi-variant custom (which shopbridge must neither use nor change)
    db.execute(f"INSERT INTO {prefix}virtuemart_products (product_sku, published) "
               f"VALUES ('TS', 1)")
    parent = db.scalar(f"SELECT virtuemart_product_id FROM {prefix}virtuemart_products")
    db.execute(f"INSERT INTO {prefix}virtuemart_customs (virtuemart_custom_id, field_type, "
               f"custom_title, custom_params) VALUES (21, 'C', 'Multi Variant', "
               f"'usecanonical=\"1\"|')")
    db.execute(f"INSERT INTO {prefix}virtuemart_customs (virtuemart_custom_id, field_type, "
               f"custom_title) VALUES (30, 'S', 'Material')")
    db.execute(f"INSERT INTO {prefix}virtuemart_product_customfields (virtuemart_product_id, "
               f"virtuemart_custom_id, customfield_value, ordering) VALUES (%s, 30, "
               f"'Baumwolle', 0)", (parent,))
    store = LinkedChildren(prefix)
    writer = VariantWriter(tables=Tables(prefix), child_products=store)

    # When the product with colour x size (6 children) is synced
    sync(db, writer, parent, SIX)

    # Then the parent has exactly one multi-variant row, of shopbridge's own custom
    [(field_id, custom_id, params)] = selector(db, prefix, parent)
    assert custom_id != 21
    assert db.rows(f"SELECT field_type, custom_title, published FROM "
                   f"{prefix}virtuemart_customs WHERE virtuemart_custom_id = %s",
                   (custom_id,)) == [("C", "Variants (shopbridge)", 1)]
    assert db.scalar(f"SELECT custom_params FROM {prefix}virtuemart_customs WHERE "
                     f"virtuemart_custom_id = 21") == 'usecanonical="1"|'
    # ... whose dropdowns are colour and size, and whose options lead to the right children
    assert [(s["clabel"], s["values"]) for s in params["selectoptions"]] == [
        ("Farbe", "Rot\r\nBlau"), ("Größe", "S\r\nM\r\nL")]
    by_id = skus(db, prefix)
    options = params["options"]
    assert options.pop(str(parent)) == ["", ""]
    assert {by_id[int(pid)]: tuple(values) for pid, values in options.items()} == {
        f"TS-{c}-{s}": (c, s) for c in COLOURS for s in SIZES}
    # ... in the ERP's value order: all red sizes first, S M L
    assert [by_id[int(pid)] for pid in options] == [
        "TS-Rot-S", "TS-Rot-M", "TS-Rot-L", "TS-Blau-S", "TS-Blau-M", "TS-Blau-L"]
    # ... after the merchant's own field
    assert db.rows(f"SELECT ordering FROM {prefix}virtuemart_product_customfields WHERE "
                   f"virtuemart_customfield_id = %s", (field_id,)) == [(1,)]
    # And the children are children: parent set, dense pordering, published, no categories,
    # no customfields of their own
    children = db.rows(
        f"SELECT product_sku, product_parent_id, pordering, published, has_categories FROM "
        f"{prefix}virtuemart_products WHERE product_parent_id <> 0 ORDER BY pordering")
    assert [(sku, p, o, pub, cat) for sku, p, o, pub, cat in children] == [
        (by_id[int(pid)], parent, i, 1, 0) for i, pid in enumerate(options)]
    child_ids = tuple(int(pid) for pid in options)
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_product_customfields WHERE "
                     f"virtuemart_product_id IN ({', '.join(['%s'] * 6)})", child_ids) == 0
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_product_categories") == 0

    # When the same product is synced again (a child meanwhile got a category row)
    db.execute(f"INSERT INTO {prefix}virtuemart_product_categories (virtuemart_product_id, "
               f"virtuemart_category_id) VALUES (%s, 5)", (child_ids[0],))
    sync(db, writer, parent, SIX)

    # Then nothing moved: same custom, same customfield row, same child ids, no duplicates
    assert selector(db, prefix, parent) == [(field_id, custom_id, parse_params(
        db.scalar(f"SELECT customfield_params FROM {prefix}virtuemart_product_customfields "
                  f"WHERE virtuemart_customfield_id = %s", (field_id,))))]
    again = selector(db, prefix, parent)[0][2]["options"]
    assert list(again) == [str(parent), *options]
    assert skus(db, prefix) == by_id
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_customs") == 3
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_product_categories") == 0
    assert db.scalar("SELECT target_id FROM shopbridge_link WHERE entity_type = %s AND "
                     "entity_key = %s", (CUSTOM_ENTITY, MULTI_VARIANT_KEY)) == custom_id


def test_a_child_that_left_is_hidden_and_dropped_from_the_selector(
        shop: tuple[Database, str]) -> None:
    db, prefix = shop
    parent, writer = synced_parent(db, prefix)
    by_sku = {sku: pid for pid, sku in skus(db, prefix).items()}

    sync(db, writer, parent, [c for c in SIX if c["sku"] != "TS-Blau-M"])

    [(_, _, params)] = selector(db, prefix, parent)
    assert str(by_sku["TS-Blau-M"]) not in params["options"]
    assert len(params["options"]) == 6                  # the parent and five children
    assert db.rows(f"SELECT product_sku FROM {prefix}virtuemart_products WHERE published = 0 "
                   f"AND product_parent_id = %s", (parent,)) == [("TS-Blau-M",)]


def test_duplicate_rows_collapse_and_a_product_without_variants_loses_the_selector(
        shop: tuple[Database, str]) -> None:
    db, prefix = shop
    parent, writer = synced_parent(db, prefix)
    [(field_id, custom_id, _)] = selector(db, prefix, parent)
    db.execute(f"INSERT INTO {prefix}virtuemart_product_customfields (virtuemart_product_id, "
               f"virtuemart_custom_id, customfield_params) VALUES (%s, %s, '')",
               (parent, custom_id))

    sync(db, writer, parent, SIX)
    assert [fid for fid, _, _ in selector(db, prefix, parent)] == [field_id]

    sync(db, writer, parent, [])
    assert selector(db, prefix, parent) == []
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_products WHERE published = 1 "
                     f"AND product_parent_id = %s", (parent,)) == 0


def test_a_batch_without_variants_in_a_shop_that_never_had_any_writes_nothing(
        shop: tuple[Database, str]) -> None:
    db, prefix = shop
    store = LinkedChildren(prefix)
    with db.engine.begin() as conn:
        VariantWriter(tables=Tables(prefix), child_products=store)(conn, {1: Row(plan([]))})
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_customs") == 0
    assert store.calls == 0
