"""Database errors say what happened, where, and to which database (issue 9, point 7).

A dead letter for a statement the database refused keeps the server's error code and
message, the table and the field, never the statement or its parameters (they hold customer
data, and headers are read by anyone who lists dead letters). Losing the CAO database in the
middle of a batch is logged as the server's error (MySQL 2013) on the CAO database, not as
the PendingRollbackError SQLAlchemy raises on the next use of the broken connection.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import pytest

from consumers.cao import CaoOrderApplier
from consumers.runner import ShopConsumer
from shopbridge import config as cfg
from shopbridge import dlq, sample, topology
from shopbridge import events as ev
from tests.conftest import add_cao_articles, config_data, fill_cao, shop_entry
from tests.helpers import consume, produce, wait_until_blocked
from tests.integration.test_order_import import ORDERS, order, publish_confirmed
from tests.tcp_proxy import TcpProxy


@pytest.mark.parametrize(("change", "error_class", "code", "field"), [
    # a value longer than the shop's column: refused for good, dead-lettered at once
    ("MODIFY products_model VARCHAR(4)", "TargetRejected", 1406, "products_model"),
    # a column a shop module added without a default: unexpected, climbs the retry tiers
    ("ADD COLUMN module_flag VARCHAR(10) NOT NULL", "DatabaseFailed", 1364, "module_flag"),
])
def test_a_dead_letter_for_a_refused_statement_names_code_table_and_field_not_the_sql(
        cao_db, phoenix_db, namespace, change, error_class, code, field):
    rows = sample.articles(2)
    fill_cao(cao_db, rows, [])
    phoenix_db.execute(f"ALTER TABLE products {change}")
    settings = cfg.parse(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)]),
                         source="test")
    produce(settings)

    stats = consume(settings, "web", idle_s=4)       # the retry tiers are 1 s and 2 s

    assert stats.dead == 2
    letters = dlq.list_dead(settings.broker, settings.tenants[0].shop("web"))
    assert len(letters) == 2
    for letter in letters:
        assert letter.error_class == error_class
        assert letter.error.startswith("database of shop 'web' (mysql+pymysql://")
        assert f"MySQL error {code} in table products, field {field}: " in letter.error
        for leak in ("INSERT", "[SQL", "parameters", "VALUES", *(r["ARTNUM"] for r in rows),
                     *(r["KURZNAME"] for r in rows)):
            assert leak not in letter.error, letter.error


def _waiting_on_journal(db: Any) -> bool:
    """A statement of another session on ``db`` waits for the journal table's lock."""
    return bool(db.scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
        "AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND STATE LIKE %s "
        "AND INFO LIKE %s", (db.name, "%lock%", "%journal%")))


def test_losing_the_cao_database_mid_batch_logs_the_server_error_on_the_cao_database(
        erp, namespace, caplog):
    """An order import of a batch of five is blocked on CAO's JOURNAL table when the
    connection is cut: the log says MySQL 2013 on the CAO database of tenant 'acme', once,
    and that it is back; no PendingRollbackError, no error line, no "shop database"; all
    five orders are imported once when the database is back."""
    add_cao_articles(erp)
    with TcpProxy(erp.url.port or 3306, erp.url.host or "127.0.0.1") as proxy:
        via = dataclasses.replace(erp, url=erp.url.set(host="127.0.0.1", port=proxy.port))
        settings = cfg.parse(config_data(namespace, via, [shop_entry("web", erp,
                                                                      orders=ORDERS)]),
                             source="test")
        target = topology.Target.for_erp("acme")
        applier = CaoOrderApplier(tenant=settings.tenants[0])
        consumer = ShopConsumer(broker=settings.broker, target=target, applier=applier)
        consumer.run(idle_exit_s=0.1)                       # declares the ERP queues
        publish_confirmed(namespace, ev.encode([order(i).raw for i in range(21, 26)]))
        caplog.set_level(logging.INFO)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["stats"] = consumer.run(idle_exit_s=3)
            except BaseException as err:   # reported below
                outcome["error"] = err

        thread = threading.Thread(target=run, name="consumer-erp", daemon=True)
        with erp.engine.connect() as lock:                  # directly, not through the proxy
            lock.exec_driver_sql("LOCK TABLES journal WRITE")
            try:
                thread.start()
                wait_until_blocked(thread, lambda: _waiting_on_journal(erp), outcome,
                                   poll=0.05)
                proxy.close()
                time.sleep(1)
            finally:
                lock.exec_driver_sql("UNLOCK TABLES")
        time.sleep(2)
        proxy.reopen()
        thread.join(timeout=60)
        consumer.stop_event.set()
        applier.close()

    assert "error" not in outcome, outcome.get("error")
    assert outcome["stats"].applied == 5
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 5
    text = caplog.text
    assert "PendingRollbackError" not in text and "shop database" not in text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    away = [r.getMessage() for r in caplog.records if "is unavailable" in r.getMessage()]
    assert len(away) == 1, away
    assert away[0].startswith("CAO database of tenant 'acme' (mysql+pymysql://")
    assert "MySQL error 2013: Lost connection" in away[0]
    assert sum("is back after" in r.getMessage() for r in caplog.records) == 1
