"""Catalogue end to end: categories with product links, and two shops from one CAO."""

from __future__ import annotations

from decimal import Decimal

from shopbridge import sample
from tests.conftest import fill_cao, settings_for, shop_entry
from tests.helpers import storefront, sync

DE = 2


def test_products_land_in_their_categories_listed_by_phoenix_rule(cao_db, phoenix_db,
                                                                    namespace):
    """Category listing (NOTES 3): status 1, a description row, and products_to_categories."""
    cao_db.execute("INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, NAME) VALUES "
                   "(1, 10, -1, 'Garten'), (1, 11, 10, 'Gießkannen'), (2, 10, -1, 'Andere')")
    fill_cao(cao_db, sample.articles(2), [])
    cao_db.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) VALUES "
                   "(1, 1, 11), (1, 2, 10), (1, 2, 11), (2, 2, 10)")
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])

    report, stats = sync(settings)

    assert report.published["category.upserted"] == 3 and stats["web"].dead == 0
    listing = phoenix_db.rows(
        "SELECT cd.categories_name, p.products_model FROM products p "
        "JOIN products_description pd ON pd.products_id = p.products_id AND pd.language_id = %s "
        "JOIN products_to_categories pc ON pc.products_id = p.products_id "
        "JOIN categories c ON c.categories_id = pc.categories_id "
        "JOIN categories_description cd ON cd.categories_id = c.categories_id "
        "AND cd.language_id = %s WHERE p.products_status = 1 ORDER BY 1, 2", (DE, DE))
    assert [tuple(r) for r in listing] == [("Garten", "A-000002"), ("Gießkannen", "A-000001"),
                                           ("Gießkannen", "A-000002")]
    parent = phoenix_db.scalar("SELECT c.parent_id FROM categories c JOIN categories_description"
                               " cd USING (categories_id) WHERE cd.categories_name = 'Gießkannen'"
                               " AND cd.language_id = %s", (DE,))
    assert phoenix_db.scalar("SELECT categories_name FROM categories_description WHERE "
                             "categories_id = %s AND language_id = %s", (parent, DE)) == "Garten"

    cao_db.execute("UPDATE artikel_to_kat SET DEL_FLAG = 'Y' WHERE ARTIKEL_ID = 2 AND KAT_ID = 11")
    sync(settings)
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products_to_categories") == 2


def test_two_shops_from_one_cao_get_exactly_their_selection_with_their_prices(
        cao_db, phoenix_factory, namespace):
    rows = sample.articles(6, shop_ids=(1, 2))
    for row in rows:
        row.update(VK1=Decimal("10.0000"), VK3=Decimal("8.5000"))
    rows[0]["SHOP_VISIBLE"] = 0
    fill_cao(cao_db, rows, [])
    a, b = phoenix_factory(), phoenix_factory()
    settings = settings_for(namespace, cao_db, [
        shop_entry("shop-a", a, filter={"cao_shop_id": 1}, price_level=1),
        shop_entry("shop-b", b, filter={"cao_shop_id": 2}, price_level=3, stock_mode="total")])

    sync(settings)

    in_a = {r["ARTNUM"] for r in rows if r["SHOP_ID"] == 1 and r["SHOP_VISIBLE"] == 1}
    in_b = {r["ARTNUM"] for r in rows if r["SHOP_ID"] == 2 and r["SHOP_VISIBLE"] == 1}
    assert set(storefront(a, DE)) == in_a and set(storefront(b, DE)) == in_b
    assert {v[1] for v in storefront(a, DE).values()} == {Decimal("10.0000")}
    assert {v[1] for v in storefront(b, DE).values()} == {Decimal("8.5000")}
