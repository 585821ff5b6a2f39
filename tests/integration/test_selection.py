"""C11 filters by category and by flag, C3 date available, C5/C7 prices Phoenix cannot show.

Each against the real CAO DDL, RabbitMQ and the Phoenix install SQL: the storefront rule of
NOTES 3 (status 1 and a description row) decides what a customer sees.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shopbridge import check, sample
from tests.conftest import fill_cao, settings_for, shop_entry
from tests.helpers import storefront, sync

DE = 2


def _tree(cao_db) -> None:
    """Garten (10) > Gießkannen (11) > Zink (12); Werkzeug (20)."""
    cao_db.execute("INSERT INTO artikel_kat (SHOP_ID, ID, TOP_ID, NAME) VALUES "
                   "(1, 10, -1, 'Garten'), (1, 11, 10, 'Gießkannen'), (1, 12, 11, 'Zink'), "
                   "(1, 20, -1, 'Werkzeug')")


def test_a_category_filter_selects_the_category_and_everything_below_it(
        cao_db, phoenix_factory, namespace):
    _tree(cao_db)
    fill_cao(cao_db, sample.articles(4), [])
    cao_db.execute("INSERT INTO artikel_to_kat (SHOP_ID, ARTIKEL_ID, KAT_ID) VALUES "
                   "(1, 1, 10), (1, 2, 12), (1, 3, 20), (1, 4, 11), (1, 4, 20)")
    garden, tools = phoenix_factory(), phoenix_factory()
    settings = settings_for(namespace, cao_db, [
        shop_entry("garden", garden, filter={"cao_shop_id": 1, "categories": [10]}),
        shop_entry("tools", tools, filter={"cao_shop_id": 1, "categories": [20]})])

    _, stats = sync(settings)

    assert stats["garden"].dead == stats["tools"].dead == 0
    assert set(storefront(garden, DE)) == {"A-000001", "A-000002", "A-000004"}
    assert set(storefront(tools, DE)) == {"A-000003", "A-000004"}

    # Article 2 moves out of the garden tree: hidden there (never deleted), not shown in tools.
    cao_db.execute("UPDATE artikel_to_kat SET KAT_ID = 20 WHERE ARTIKEL_ID = 2")
    sync(settings)
    assert set(storefront(garden, DE)) == {"A-000001", "A-000004"}
    assert garden.scalar("SELECT products_status FROM products WHERE products_model = "
                         "'A-000002'") == 0
    assert set(storefront(tools, DE)) == {"A-000002", "A-000003", "A-000004"}


def test_a_flag_filter_hides_what_leaves_the_selection_and_shows_what_comes_back(
        cao_db, phoenix_factory, namespace):
    rows = sample.articles(3)
    for row, flag in zip(rows, ("web", "web", None), strict=True):
        row["USERFELD_03"] = flag
    fill_cao(cao_db, rows, [])
    any_flag, web_only = phoenix_factory(), phoenix_factory()
    cao_db.execute("UPDATE artikel SET USERFELD_05 = 'ja' WHERE REC_ID IN (2, 3)")
    settings = settings_for(namespace, cao_db, [
        shop_entry("flagged", any_flag, filter={"cao_shop_id": 1, "flag_field": "USERFELD_05"}),
        shop_entry("web", web_only, filter={"cao_shop_id": 1, "flag_field": "03",
                                            "flag_value": "web"})])

    sync(settings)
    assert set(storefront(any_flag, DE)) == {"A-000002", "A-000003"}
    assert set(storefront(web_only, DE)) == {"A-000001", "A-000002"}

    cao_db.execute("UPDATE artikel SET USERFELD_03 = NULL, USERFELD_05 = '0' WHERE REC_ID = 2")
    sync(settings)
    assert set(storefront(any_flag, DE)) == {"A-000003"}
    assert set(storefront(web_only, DE)) == {"A-000001"}

    cao_db.execute("UPDATE artikel SET USERFELD_03 = 'web', USERFELD_05 = 'x' WHERE REC_ID = 2")
    _, stats = sync(settings)
    assert set(storefront(any_flag, DE)) == {"A-000002", "A-000003"}
    assert set(storefront(web_only, DE)) == {"A-000001", "A-000002"}
    assert web_only.scalar("SELECT COUNT(*) FROM products") == 2      # shown again, not new
    assert stats["web"].dead == 0


def test_the_date_available_reaches_phoenix_and_a_future_date_does_not_hide(
        cao_db, phoenix_db, namespace):
    """NOTES 2: a future products_date_available only shows "Available from"."""
    cao_db.execute("ALTER TABLE artikel ADD COLUMN LIEFERTERMIN DATE NULL")
    fill_cao(cao_db, sample.articles(2), [])
    later = dt.date.today() + dt.timedelta(days=30)
    cao_db.execute("UPDATE artikel SET LIEFERTERMIN = %s WHERE REC_ID = 1", (later,))
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])

    sync(settings)

    dates = dict(phoenix_db.rows("SELECT products_model, products_date_available FROM products"))
    assert dates == {"A-000001": dt.datetime.combine(later, dt.time()), "A-000002": None}
    assert set(storefront(phoenix_db, DE)) == {"A-000001", "A-000002"}

    cao_db.execute("UPDATE artikel SET LIEFERTERMIN = NULL WHERE REC_ID = 1")
    sync(settings)
    assert phoenix_db.scalar("SELECT products_date_available FROM products WHERE "
                             "products_model = 'A-000001'") is None


def test_tier_and_group_prices_are_counted_and_explained_never_written(
        cao_db, phoenix_db, namespace):
    """C5/C7: Phoenix core has neither; the shop price stays the level's price."""
    rows = sample.articles(3)
    for row in rows:
        row.update(VK1=Decimal("10.0000"))
    fill_cao(cao_db, rows, [])
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, MENGE2, "
                   "PREIS2) VALUES (1, -99, 3, 'VK', 10, 5), (2, -99, 3, 'VK', 0, 0)")
    cao_db.execute("INSERT INTO adressen (MATCHCODE, SHOP_KUNDE, SHOP_ID, PR_EBENE) VALUES "
                   "('A', 'Y', 1, 1), ('B', 'Y', 1, 3), ('C', 'Y', 1, 3), ('D', 'N', 1, 2)")
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])

    report, stats = sync(settings)

    assert stats["web"].unsupported == {"tier prices": 1} and stats["web"].dead == 0
    assert {v[1] for v in storefront(phoenix_db, DE).values()} == {Decimal("10.0000")}
    notes = check.run(settings).notes
    assert any("web: 1 article(s) have quantity-tier prices" in n for n in notes), notes
    assert any("web: 2 shop customer(s) have another price level in CAO (VK3: 2)" in n
               for n in notes), notes

    # A changed tier is a change of the article: it is published again.
    cao_db.execute("UPDATE artikel_preis SET PREIS2 = 7 WHERE ARTIKEL_ID = 1")
    report, _ = sync(settings)
    assert report.published["product.upserted"] == 1


def test_a_text_date_column_is_read_as_a_date(cao_db, phoenix_db, namespace):
    """Some installations keep the delivery date as text: CAST, never a silent NULL."""
    cao_db.execute("ALTER TABLE artikel ADD COLUMN LIEFERTERMIN VARCHAR(20) NULL")
    fill_cao(cao_db, sample.articles(1), [])
    cao_db.execute("UPDATE artikel SET LIEFERTERMIN = '2031-05-17' WHERE REC_ID = 1")
    sync(settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)]))
    assert phoenix_db.scalar("SELECT products_date_available FROM products") == \
        dt.datetime(2031, 5, 17)


def test_a_flag_field_missing_in_cao_is_named_not_a_silently_empty_shop(
        cao_db, phoenix_db, namespace):
    cao_db.execute("ALTER TABLE artikel DROP COLUMN USERFELD_07")
    settings = settings_for(namespace, cao_db, [
        shop_entry("web", phoenix_db, filter={"cao_shop_id": 1, "flag_field": "USERFELD_07"})])
    problems = check.run(settings).problems
    assert any("USERFELD_07 missing, but a shop's filter flag_field names them" in p
               for p in problems), problems
