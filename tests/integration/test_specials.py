"""C6: a special with a window goes online and offline on time, by the consumer alone, with
exactly one specials row per product (osCommerce has no start date; NOTES 2)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from consumers.oscommerce import PhoenixApplier
from consumers.runner import ShopConsumer
from shopbridge import sample
from tests.conftest import fill_cao, settings_for, shop_entry
from tests.helpers import produce


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def storefront_price(db: Any, model: str) -> Decimal:
    """Phoenix's own rule (NOTES 3): IF(s.status, specials price, products_price), LEFT JOIN."""
    rows = db.rows("SELECT IF(s.status, s.specials_new_products_price, p.products_price) "
                   "FROM products p LEFT JOIN specials s ON s.products_id = p.products_id "
                   "WHERE p.products_model = %s", (model,))
    assert len(rows) == 1, f"the storefront lists {model} {len(rows)} times"
    return rows[0][0]


def specials(db: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.rows("SELECT status, specials_new_products_price, expires_date "
                                      "FROM specials")]


def test_a_special_is_off_before_on_during_and_off_after_its_window(cao_db, phoenix_db,
                                                                     namespace):
    rows = sample.articles(1)
    rows[0].update(VK1=Decimal("19.9900"))
    fill_cao(cao_db, rows, [])
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, PREIS, "
                   "GUELTIG_VON, GUELTIG_BIS) VALUES (1, -1, 0, 'AP', 9.99, '2026-12-01', "
                   "'2026-12-03')")
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    shop = settings.tenants[0].shop("web")
    clock = Clock(datetime(2026, 11, 30, 12, 0))
    applier = PhoenixApplier(shop=shop, clock=clock)
    produce(settings)
    ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(idle_exit_s=0.6)

    assert storefront_price(phoenix_db, "A-000001") == Decimal("19.9900")   # not yet
    clock.now = datetime(2026, 12, 1, 0, 0, 5)
    applier.idle()                                                         # no visitor needed
    assert storefront_price(phoenix_db, "A-000001") == Decimal("9.9900")
    assert specials(phoenix_db) == [(1, Decimal("9.9900"), datetime(2026, 12, 4))]
    clock.now = datetime(2026, 12, 3, 23, 59)
    applier.idle()
    assert storefront_price(phoenix_db, "A-000001") == Decimal("9.9900")  # BIS is inclusive
    clock.now = datetime(2026, 12, 4, 0, 0, 1)
    applier.idle()
    assert storefront_price(phoenix_db, "A-000001") == Decimal("19.9900")
    assert len(specials(phoenix_db)) == 1 and specials(phoenix_db)[0][0] == 0
    applier.close()


def test_a_special_ended_in_the_erp_ends_in_the_shop_and_a_second_row_is_removed(
        cao_db, phoenix_db, namespace):
    fill_cao(cao_db, sample.articles(1), [])
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, PREIS, "
                   "GUELTIG_VON, GUELTIG_BIS) VALUES (1, -1, 0, 'AP', 5.00, NULL, NULL)")
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    shop = settings.tenants[0].shop("web")
    clock = Clock(datetime(2026, 11, 30, 12, 0))

    def sync() -> None:
        produce(settings)
        applier = PhoenixApplier(shop=shop, clock=clock)
        ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(idle_exit_s=0.6)
        applier.close()

    sync()
    assert storefront_price(phoenix_db, "A-000001") == Decimal("5.0000")   # open window: on
    pid = phoenix_db.scalar("SELECT products_id FROM products")
    phoenix_db.execute("INSERT INTO specials (products_id, specials_new_products_price, status) "
                       "VALUES (%s, 1.00, 0)", (pid,))                     # an admin's extra row
    cao_db.execute("UPDATE artikel_preis SET PREIS = 4.50")
    sync()
    assert specials(phoenix_db)[0][:2] == (1, Decimal("4.5000"))
    assert len(specials(phoenix_db)) == 1                                   # never two rows

    cao_db.execute("DELETE FROM artikel_preis")                             # ended in the ERP
    sync()
    assert storefront_price(phoenix_db, "A-000001") == rows_price(cao_db)
    assert [s[0] for s in specials(phoenix_db)] == [0]


def rows_price(cao_db: Any) -> Decimal:
    return cao_db.scalar("SELECT VK1 FROM artikel WHERE REC_ID = 1")


def test_the_first_tick_after_a_restart_writes_only_the_specials_that_are_not_as_scheduled(
        cao_db, phoenix_db, namespace):
    """The first tick reconciles every scheduled product (NOTES 2: after a consumer was down).
    Specials already as scheduled get no statement, so their timestamps stay; one an admin
    changed in the shop is set back."""
    fill_cao(cao_db, sample.articles(3), [])
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, PREIS, "
                   "GUELTIG_VON, GUELTIG_BIS) VALUES (1, -1, 0, 'AP', 5.00, NULL, NULL), "
                   "(2, -1, 0, 'AP', 6.00, NULL, '2026-12-31'), "
                   "(3, -1, 0, 'AP', 7.00, NULL, NULL)")
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    shop = settings.tenants[0].shop("web")
    clock = Clock(datetime(2026, 11, 30, 12, 0))
    produce(settings)
    applier = PhoenixApplier(shop=shop, clock=clock)
    ShopConsumer(broker=settings.broker, shop=shop, applier=applier).run(idle_exit_s=0.6)
    applier.close()
    marked = datetime(2020, 1, 1)
    phoenix_db.execute("UPDATE specials SET specials_last_modified = %s", (marked,))
    phoenix_db.execute("UPDATE specials s JOIN products p USING (products_id) "
                       "SET s.specials_new_products_price = 1.00 "
                       "WHERE p.products_model = 'A-000002'")

    clock.now = datetime(2026, 11, 30, 12, 5)
    restarted = PhoenixApplier(shop=shop, clock=clock)
    updates: list[str] = []
    sa.event.listen(restarted.engine, "before_cursor_execute",
                    lambda _c, _cur, sql, *_: updates.append(sql)
                    if sql.startswith("UPDATE specials") else None)
    restarted.idle()                                        # its first tick
    restarted.close()

    assert len(updates) == 1                                # A-000002's alone

    assert [storefront_price(phoenix_db, f"A-00000{n}") for n in (1, 2, 3)] == [
        Decimal("5.0000"), Decimal("6.0000"), Decimal("7.0000")]
    assert phoenix_db.rows(
        "SELECT p.products_model, s.specials_last_modified = %s, s.expires_date "
        "FROM specials s JOIN products p USING (products_id) ORDER BY p.products_model",
        (marked,)) == [("A-000001", 1, None), ("A-000002", 0, datetime(2027, 1, 1)),
                       ("A-000003", 1, None)]
