"""Categories (C1): CAO shop categories or product groups -> Phoenix category tree.

The writer is driven with events built here and applied in one transaction per call, as the
applier does; the CAO side is checked against the reference DDL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from consumers.binder import Binder
from consumers.oscommerce.categories import CategoryWriter
from producers.cao import categories as cao_categories
from producers.cao.snapshot import Snapshot
from shopbridge import events as ev
from shopbridge import schemas
from shopbridge.config import DatabaseConfig, ShopConfig, ShopFilter
from shopbridge.errors import DependencyMissing
from tests.conftest import Database

NOW = datetime(2025, 3, 1, 12, 0, 0)
LATER = datetime(2025, 3, 2, 12, 0, 0)
LANGUAGES = {"de": 2, "en": 1}       # setup_phoenix: 1 English, 2 Deutsch


def category(erp_id: int, parent: int | None = None, *, name: str | None = None,
             version: int = 1000, visible: bool = True, shop_id: int = 1,
             source: str = "shop_categories", sort_order: int = 0,
             description: str | None = None) -> ev.Event:
    payload = {"erp_id": erp_id, "source": source,
               "shop_id": shop_id if source == "shop_categories" else None,
               "parent_erp_id": parent, "sort_order": sort_order,
               "name": name or f"Kategorie {erp_id}", "description": description,
               "image": None, "visible": visible}
    return ev.parse(ev.make_event("category.upserted", tenant="acme", source="cao:test",
                                  entity_key=cao_categories.entity_key(payload),
                                  version=version, payload=payload))


def deleted(erp_id: int, *, version: int, shop_id: int = 1) -> ev.Event:
    payload = {"erp_id": erp_id, "source": "shop_categories", "shop_id": shop_id,
               "reason": "deleted"}
    return ev.parse(ev.make_event("category.deleted", tenant="acme", source="cao:test",
                                  entity_key=cao_categories.entity_key(payload),
                                  version=version, payload=payload))


@pytest.fixture
def writer(phoenix_db: Database) -> CategoryWriter:
    binder = Binder()
    with phoenix_db.engine.begin() as conn:
        binder.ensure_table(conn)
    shop = ShopConfig(tenant="acme", name="web", kind="oscommerce", active=True,
                      db=DatabaseConfig(phoenix_db.url.render_as_string(hide_password=False)),
                      languages=("de", "en"), price_level=1, stock_mode="available",
                      tax_classes={}, filter=ShopFilter(cao_shop_id=1))
    return CategoryWriter(shop=shop, binder=binder, language_ids=LANGUAGES)


def apply(db: Database, writer: CategoryWriter, events: list[ev.Event],
          now: datetime = NOW) -> list[str]:
    with db.engine.begin() as conn:
        return writer.apply(conn, events, now)


def shop_id_of(db: Database, key: str) -> int:
    return int(db.scalar("SELECT target_id FROM shopbridge_link WHERE entity_type = 'category' "
                         "AND entity_key = %s", (key,)))


def tree(db: Database) -> dict[int, tuple[int, dict[int, str]]]:
    """categories_id -> (parent_id, {language_id: name})."""
    out: dict[int, tuple[int, dict[int, str]]] = {}
    for cid, parent in db.rows("SELECT categories_id, parent_id FROM categories"):
        out[cid] = (parent, {})
    for cid, lid, name in db.rows("SELECT categories_id, language_id, categories_name "
                                  "FROM categories_description"):
        out[cid][1][lid] = name
    return out


def test_a_three_level_tree_arriving_child_first_in_one_batch_is_built_top_down(
        phoenix_db, writer):
    # Given grandchild, child and root in that order in one batch (keys sort child-first too)
    batch = [category(10, 20, name="Gießkannen"), category(20, 30, name="Gartengeräte"),
             category(30, name="Garten")]

    notes = apply(phoenix_db, writer, batch)

    assert notes == []
    root, child, grandchild = (shop_id_of(phoenix_db, f"kat:1:{i}") for i in (30, 20, 10))
    assert tree(phoenix_db) == {
        root: (0, {1: "Garten", 2: "Garten"}),
        child: (root, {1: "Gartengeräte", 2: "Gartengeräte"}),
        grandchild: (child, {1: "Gießkannen", 2: "Gießkannen"}),
    }


def test_a_child_before_its_parent_in_separate_calls_waits_for_the_parent(phoenix_db, writer):
    with pytest.raises(DependencyMissing, match=r"kat:1:2 .*parent category kat:1:1"):
        apply(phoenix_db, writer, [category(2, 1, name="Schuhe")])
    assert tree(phoenix_db) == {}                      # nothing half-written

    apply(phoenix_db, writer, [category(1, name="Mode")])
    apply(phoenix_db, writer, [category(2, 1, name="Schuhe")])   # the retry

    parent = shop_id_of(phoenix_db, "kat:1:1")
    assert tree(phoenix_db)[shop_id_of(phoenix_db, "kat:1:2")] == (
        parent, {1: "Schuhe", 2: "Schuhe"})


def test_a_rename_updates_in_place_and_a_repeat_changes_nothing(phoenix_db, writer):
    apply(phoenix_db, writer, [category(1, name="Werkzeug", version=1000)])
    apply(phoenix_db, writer, [category(1, name="Werkzeuge", version=2000,
                                        description="<p>Alles</p>")], now=LATER)

    cid = shop_id_of(phoenix_db, "kat:1:1")
    assert tree(phoenix_db) == {cid: (0, {1: "Werkzeuge", 2: "Werkzeuge"})}
    assert phoenix_db.scalar("SELECT COUNT(*) FROM categories_description") == 2
    assert phoenix_db.scalar("SELECT categories_description FROM categories_description "
                             "WHERE language_id = 2") == "<p>Alles</p>"

    # The same event again, and a newer one with the same content: no write at all.
    phoenix_db.execute("UPDATE categories SET last_modified = NULL")
    redelivered = apply(phoenix_db, writer, [category(1, name="Werkzeuge", version=2000,
                                                      description="<p>Alles</p>")])
    idle = apply(phoenix_db, writer, [category(1, name="Werkzeuge", version=3000,
                                               description="<p>Alles</p>")])
    assert "already applied" in redelivered[0] and "unchanged" in idle[0]
    assert phoenix_db.scalar("SELECT last_modified FROM categories") is None
    assert phoenix_db.scalar("SELECT COUNT(*) FROM categories") == 1


def test_an_older_version_does_not_overwrite_a_newer_one(phoenix_db, writer):
    apply(phoenix_db, writer, [category(1, name="Neu", version=2000)])

    notes = apply(phoenix_db, writer, [category(1, name="Alt", version=1000)])

    assert "already applied (v1000 <= v2000)" in notes[0]
    assert set(tree(phoenix_db)[shop_id_of(phoenix_db, "kat:1:1")][1].values()) == {"Neu"}

    # Within one batch too, whatever the order: only the newest counts (the older one's
    # parent 8 does not even exist).
    notes = apply(phoenix_db, writer, [category(1, None, name="Neuer", version=4000),
                                       category(1, 8, name="Alt", version=3000)])
    assert "superseded in this batch by v4000" in notes[0]
    assert tree(phoenix_db)[shop_id_of(phoenix_db, "kat:1:1")] == (
        0, {1: "Neuer", 2: "Neuer"})


def test_invisible_and_deleted_categories_lose_their_names_but_keep_row_and_links(
        phoenix_db, writer):
    """Phoenix has no status column: no description row = not in the tree (NOTES 2)."""
    apply(phoenix_db, writer, [category(1, name="Sale", version=1000)])
    cid = shop_id_of(phoenix_db, "kat:1:1")
    phoenix_db.execute("INSERT INTO products_to_categories (products_id, categories_id) "
                       "VALUES (42, %s)", (cid,))

    apply(phoenix_db, writer, [category(1, name="Sale", version=2000, visible=False)])
    assert tree(phoenix_db) == {cid: (0, {})}

    apply(phoenix_db, writer, [category(1, name="Sale", version=3000)])
    assert tree(phoenix_db) == {cid: (0, {1: "Sale", 2: "Sale"})}

    apply(phoenix_db, writer, [deleted(1, version=4000)])
    assert tree(phoenix_db) == {cid: (0, {})}          # hidden, never deleted
    assert phoenix_db.scalar("SELECT categories_id FROM products_to_categories") == cid


def test_a_move_below_its_own_child_waits_until_the_child_has_moved(phoenix_db, writer):
    # Given A > B in the shop; the ERP makes B top-level and puts A below B.
    apply(phoenix_db, writer, [category(1, name="A"), category(2, 1, name="B")])
    a, b = shop_id_of(phoenix_db, "kat:1:1"), shop_id_of(phoenix_db, "kat:1:2")

    with pytest.raises(DependencyMissing, match="loop"):
        apply(phoenix_db, writer, [category(1, 2, name="A", version=2000)])
    apply(phoenix_db, writer, [category(1, 2, name="A", version=2000),
                               category(2, None, name="B", version=2000)])   # one batch

    assert tree(phoenix_db)[a][0] == b and tree(phoenix_db)[b][0] == 0


def test_other_cao_shops_categories_are_skipped_and_product_groups_do_not_collide(
        phoenix_db, writer):
    notes = apply(phoenix_db, writer, [
        category(1, shop_id=2, name="Fremd"),
        category(1, name="Kategorie"),
        category(1, source="product_groups", name="Warengruppe")])

    assert len(notes) == 1 and "CAO shop 2" in notes[0]
    names = sorted(n[2] for _, n in tree(phoenix_db).values())
    assert names == ["Kategorie", "Warengruppe"]


def test_a_shop_showing_product_groups_hides_its_old_shop_categories_and_creates_none(
        phoenix_db, writer):
    apply(phoenix_db, writer, [category(1, name="Alt")])
    old = shop_id_of(phoenix_db, "kat:1:1")
    groups = CategoryWriter(shop=writer.shop, binder=writer.binder, language_ids=LANGUAGES,
                            source="product_groups")

    notes = apply(phoenix_db, groups, [category(1, name="Alt", version=2000),
                                       category(2, name="Neu auch", version=2000),
                                       category(1, source="product_groups", name="Gruppe")])

    assert len(notes) == 1 and "shop_categories are not shown" in notes[0]
    assert tree(phoenix_db) == {old: (0, {}),
                                shop_id_of(phoenix_db, "wgr:1"): (0, {1: "Gruppe",
                                                                      2: "Gruppe"})}


def test_an_unlinked_shop_category_with_the_same_name_and_parent_is_linked_not_duplicated(
        phoenix_db, writer):
    phoenix_db.execute("INSERT INTO categories (categories_id, parent_id, sort_order) "
                       "VALUES (7, 0, 0)")
    phoenix_db.execute("INSERT INTO categories_description (categories_id, language_id, "
                       "categories_name, categories_seo_title) VALUES (7, 2, 'Garten', 'SEO')")

    apply(phoenix_db, writer, [category(1, name="Garten"), category(2, name="Garten")])

    assert shop_id_of(phoenix_db, "kat:1:1") == 7
    assert shop_id_of(phoenix_db, "kat:1:2") != 7                # a second one is created
    assert phoenix_db.scalar("SELECT COUNT(*) FROM categories") == 2
    assert phoenix_db.scalar("SELECT categories_seo_title FROM categories_description "
                             "WHERE categories_id = 7 AND language_id = 2") == "SEO"


# -- CAO side ----------------------------------------------------------------------------


def scan(db: Database, source: cao_categories.CategorySource, *, retired: bool = False
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One producer pass: (upserted payloads, deleted payloads), stored as published.
    ``retired``: no shop uses the source any more."""
    with db.engine.connect() as conn:
        Snapshot().ensure_table(conn)
        if retired:
            changed, gone = [], source.retired(conn, after=0, limit=1000)
        else:
            assert source.resolve(conn)
            changed = source.changed(conn, after=0, limit=1000)
        upserted, stored = [], []
        for row, src_hash, last in changed:
            body = cao_categories.payload(row)
            version = ev.next_version(last)
            schemas.validate(ev.make_event("category.upserted", tenant="acme", source="cao:t",
                                           entity_key=cao_categories.entity_key(body),
                                           version=version, payload=body))
            upserted.append(body)
            stored.append((row["SNAP_KEY"], src_hash, version, None, None))
        Snapshot().store_published(conn, stored, entity_type=cao_categories.ENTITY)
        if not retired:
            gone = source.vanished(conn, after=0, limit=1000)
        for _, version, body in gone:
            schemas.validate(ev.make_event("category.deleted", tenant="acme", source="cao:t",
                                           entity_key=cao_categories.entity_key(body),
                                           version=version + 1, payload=body))
        Snapshot().store_deleted(conn, [(key, version + 1) for key, version, _ in gone],
                                 entity_type=cao_categories.ENTITY)
        conn.commit()
    return upserted, [body for _, _, body in gone]


def test_the_cao_source_finds_new_changed_and_deleted_categories(cao_db):
    cao_db.execute(
        "INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, SORT_NUM, NAME, BESCHREIBUNG, "
        "VISIBLE_FLAG, DEL_FLAG) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [(1, 1, -1, 2, "Garten", "<p>Grün</p>", "Y", "N"),
         (1, 2, 1, 0, "Gießkannen", None, "N", "N"),
         (2, 1, -1, 0, "Anderer Shop", None, "Y", "N"),       # same ID, other shop
         (-1, 5, -1, 0, "In keinem Shop", None, "Y", "N")])
    cao_db.execute("INSERT INTO warengruppen (ID, TOP_ID, NAME) VALUES (1, -1, 'Werkzeug'), "
                   "(2, 1, 'Sägen')")
    kat = cao_categories.CategorySource("shop_categories")

    new, gone = scan(cao_db, kat)
    assert gone == []
    assert sorted((p["shop_id"], p["erp_id"]) for p in new) == [(1, 1), (1, 2), (2, 1)]
    child = next(p for p in new if (p["shop_id"], p["erp_id"]) == (1, 2))
    assert child == {"erp_id": 2, "source": "shop_categories", "shop_id": 1,
                     "parent_erp_id": 1, "sort_order": 0, "name": "Gießkannen",
                     "description": None, "image": None, "visible": False}
    assert scan(cao_db, kat) == ([], [])                          # idle: nothing

    cao_db.execute("UPDATE artikel_kat SET NAME = 'Garten & Balkon' WHERE SHOP_ID = 1 AND ID = 1")
    cao_db.execute("UPDATE artikel_kat SET DEL_FLAG = 'Y' WHERE SHOP_ID = 1 AND ID = 2")
    cao_db.execute("DELETE FROM artikel_kat WHERE SHOP_ID = 2")
    changed, gone = scan(cao_db, kat)
    assert [(p["erp_id"], p["name"]) for p in changed] == [(1, "Garten & Balkon")]
    assert sorted((p["shop_id"], p["erp_id"], p["reason"]) for p in gone) == [
        (1, 2, "deleted"), (2, 1, "deleted")]
    assert scan(cao_db, kat) == ([], [])

    # The shops switch to product groups: the groups come, no shop uses shop categories.
    groups, gone = scan(cao_db, cao_categories.CategorySource("product_groups"))
    assert [(p["erp_id"], p["parent_erp_id"], p["shop_id"]) for p in groups] == [
        (1, None, None), (2, 1, None)]
    assert gone == []                  # the shop categories are not this source's business
    _, gone = scan(cao_db, kat, retired=True)
    assert [(p["source"], p["shop_id"], p["erp_id"], p["reason"]) for p in gone] == [
        ("shop_categories", 1, 1, "deselected")]
    assert scan(cao_db, kat, retired=True) == ([], [])
    assert scan(cao_db, cao_categories.CategorySource("product_groups")) == ([], [])
