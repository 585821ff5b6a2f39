"""Products a batch inserts into Phoenix get their category links and specials without a
DELETE or locking read first (``consumers.fresh``: an initial load is all new products),
except where an id handed out again after the products table was emptied still has rows in
one of those tables: then they are rewritten as for any product."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from consumers.oscommerce import PhoenixApplier
from consumers.oscommerce.specials import SCHEDULE_TABLE
from consumers.runner import ShopConsumer
from shopbridge import sample
from tests.conftest import fill_cao, settings_for, shop_entry
from tests.contract.test_outside_consumer import CAO_CATALOGUE_NAMES
from tests.helpers import produce


def _catalogue(cao_db: Any) -> None:
    """Two articles, each in a category; the first with a special (80 % of its price)."""
    rows = sample.articles(2)
    fill_cao(cao_db, rows, [])
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[1], today=date.today())


def _sync(cao_db: Any, phoenix_db: Any, namespace: str, before: Any = None) -> list[str]:
    """Produce, then consume with a Phoenix applier whose statements are recorded;
    ``before()`` runs once the applier made its tables."""
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    shop = settings.tenants[0].shop("web")
    applier = PhoenixApplier(shop=shop)
    statements: list[str] = []
    sa.event.listen(applier.engine, "before_cursor_execute",
                    lambda conn, cursor, sql, *rest: statements.append(sql))
    try:
        applier.prepare()
        if before is not None:
            before()
        produce(settings)
        stats = ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(
            idle_exit_s=0.6)
    finally:
        applier.close()
    assert (stats.dead, stats.retried) == (0, 0)
    return statements


def _state(phoenix_db: Any) -> dict[str, Any]:
    """Per product: its category links (the linked categories' CAO keys), its specials
    (status, price) and its special windows."""
    def by_model(sql: str) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for model, *rest in phoenix_db.rows(sql):
            out.setdefault(model, []).append(tuple(rest))
        return out
    return {
        "ids": dict(phoenix_db.rows("SELECT products_model, products_id FROM products")),
        "categories": by_model(
            "SELECT p.products_model, l.entity_key FROM products_to_categories c "
            "JOIN products p ON p.products_id = c.products_id LEFT JOIN shopbridge_link l "
            "ON l.entity_type = 'category' AND l.target_id = c.categories_id "
            "ORDER BY p.products_model, l.entity_key"),
        "specials": by_model(
            "SELECT p.products_model, s.status, s.specials_new_products_price FROM specials s "
            "JOIN products p ON p.products_id = s.products_id ORDER BY s.specials_id"),
        "windows": by_model(
            f"SELECT p.products_model, w.price FROM {SCHEDULE_TABLE} w "
            f"JOIN products p ON p.products_id = w.products_id ORDER BY w.seq"),
    }


def test_new_products_get_links_and_specials_without_deletes_or_locking_reads(
        cao_db, phoenix_db, namespace):
    _catalogue(cao_db)
    statements = _sync(cao_db, phoenix_db, namespace)

    state = _state(phoenix_db)
    assert sorted(state["categories"]) == ["A-000001", "A-000002"]
    assert all(len(links) == 1 and links[0][0] is not None
               for links in state["categories"].values())
    special = state["specials"]["A-000001"]
    assert len(special) == 1 and special[0][0] == 1
    assert list(state["specials"]) == ["A-000001"] and list(state["windows"]) == ["A-000001"]
    assert not [s for s in statements if s.startswith("DELETE FROM products_to_categories")
                or s.startswith(f"DELETE FROM {SCHEDULE_TABLE}")
                or (s.startswith("SELECT specials_id") and "FOR UPDATE" in s)]


ORPHANS = {
    "products_to_categories": "INSERT INTO products_to_categories (products_id, "
                              "categories_id) VALUES (1, 999), (2, 998)",
    "specials": "INSERT INTO specials (products_id, specials_new_products_price, "
                "specials_date_added, status) VALUES (1, 1.00, NOW(), 1), (2, 2.00, NOW(), 1)",
    SCHEDULE_TABLE: f"INSERT INTO {SCHEDULE_TABLE} (products_id, seq, price) "
                    f"VALUES (1, 0, 1.00), (2, 0, 2.00)",
}


@pytest.mark.parametrize("table", list(ORPHANS))
def test_rows_left_under_an_id_the_products_table_hands_out_again_are_replaced(
        cao_db, phoenix_db, namespace, table):
    """Given a shop whose products table was emptied (TRUNCATE: its ids start at 1 again)
    with rows left under ids 1 and 2 in one of the tables a product's writers replace, when
    two products arrive, then they get ids 1 and 2 in one batch (no failed attempt used ids
    up) and each ends with exactly the ERP's: its one category, one special shown for the
    first, none shown for the second."""
    _catalogue(cao_db)
    _sync(cao_db, phoenix_db, namespace, before=lambda: phoenix_db.execute(ORPHANS[table]))

    state = _state(phoenix_db)
    assert state["ids"] == {"A-000001": 1, "A-000002": 2}
    assert all(len(links) == 1 and links[0][0] is not None
               for links in state["categories"].values())
    assert [s[0] for s in state["specials"]["A-000001"]] == [1]
    assert [s[0] for s in state["specials"].get("A-000002", [])] in ([], [0])
    assert state["windows"] == {"A-000001": [state["specials"]["A-000001"][0][1:]]}

