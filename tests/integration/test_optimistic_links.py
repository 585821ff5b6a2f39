"""Optimistic links (consumers/binder.py): a batch none of whose products is linked yet (an
initial load) creates no placeholder link rows up front and inserts its links once, at the
end. Nothing then serialises two consumers on such a key, so a key another consumer links
in the meantime must fail the attempt as a race, leave nothing of it behind, and land every
product exactly once when the applier applies the batch again, locked.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from consumers.oscommerce import PhoenixApplier
from shopbridge import config as cfg
from shopbridge import events as ev
from tests.conftest import Database, shop_entry
from tests.helpers import wait_until_blocked
from tests.unit.test_events import product_payload

KEYS = ("1", "2", "3")


def _applier(db: Database) -> PhoenixApplier:
    data = {"tenants": [{"name": "acme", "erp": {"url": "mysql://x@y/z"},
                         "shops": [shop_entry("web", db, languages=["de"])]}]}
    applier = PhoenixApplier(shop=cfg.parse(data).tenants[0].shops[0], engine=db.engine)
    applier.prepare()
    return applier


def _upserts(version: int = 10) -> list[ev.Event]:
    return [ev.parse(ev.make_event(
        "product.upserted", tenant="acme", source="t", entity_key=key, version=version,
        payload=product_payload(sku=f"A-{key}", erp_id=int(key)))) for key in KEYS]


def _link_inserts_waiting(db: Database) -> int:
    return int(db.scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
        "AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE %s",
        (db.name, "INSERT INTO shopbridge_link%")))


def test_an_initial_batch_leaves_no_link_row_without_its_product(phoenix_db):
    _applier(phoenix_db).apply(_upserts())

    assert phoenix_db.rows(
        "SELECT l.entity_key, p.products_model FROM shopbridge_link l "
        "LEFT JOIN products p ON p.products_id = l.target_id "
        "WHERE l.entity_type = 'product' ORDER BY l.entity_key") == [
        (key, f"A-{key}") for key in KEYS]


def test_a_key_linked_by_another_consumer_meanwhile_is_a_race_the_batch_survives(
        phoenix_db, caplog):
    applier = _applier(phoenix_db)
    failed: list[BaseException] = []
    attempts: list[str] = []
    sa.event.listen(applier.engine, "before_cursor_execute",
                    lambda _c, _cur, sql, *_: attempts.append(sql)
                    if sql.startswith("INSERT INTO products (") else None)

    def apply() -> None:
        try:
            applier.apply(_upserts())
        except BaseException as err:     # handed to the test thread
            failed.append(err)

    with phoenix_db.engine.connect() as other:
        # "Another consumer" creates the link of key 2 and has not committed yet: the
        # batch does not see it, so it goes optimistic and waits at its own link INSERT.
        other.exec_driver_sql(
            "INSERT INTO shopbridge_link (entity_type, entity_key, version) "
            "VALUES ('product', '2', 5)")
        worker = threading.Thread(target=apply)
        with caplog.at_level(logging.INFO, logger="consumers.shop_applier"):
            worker.start()
            wait_until_blocked(worker, lambda: _link_inserts_waiting(phoenix_db), failed)
            other.commit()
            worker.join(30)

    assert not failed and not worker.is_alive(), failed
    assert "product 2 linked by another consumer meanwhile" in caplog.text
    assert len(attempts) == 2               # the first attempt's products were rolled back
    assert sorted(phoenix_db.rows("SELECT products_model FROM products")) == [
        (f"A-{key}",) for key in KEYS]
    assert phoenix_db.scalar("SELECT COUNT(*) FROM products_description") == len(KEYS)
    assert phoenix_db.rows(
        "SELECT entity_key, version, target_id IS NOT NULL FROM shopbridge_link "
        "WHERE entity_type = 'product' ORDER BY entity_key") == [
        (key, 10, 1) for key in KEYS]


def test_a_batch_with_a_linked_key_locks_as_before(phoenix_db):
    """One key of the batch is linked: every key is locked up front (placeholders for the
    others), so a second batch of the same keys waits at the start, not at the end."""
    applier = _applier(phoenix_db)
    applier.apply([e for e in _upserts(version=5) if e.entity_key == "2"])
    with phoenix_db.engine.connect() as conn:
        links = applier.binder.lock(conn, "product", KEYS, optimistic=True)
        assert [links[k].unheld for k in KEYS] == [False, False, False]
        assert conn.exec_driver_sql(
            "SELECT COUNT(*) FROM shopbridge_link WHERE entity_type = 'product'"
        ).scalar() == len(KEYS)
        conn.rollback()
