"""Order status back from CAO to the shop (O2, O4): status, history comment with carrier and
tracking code, and the customer's e-mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consumers.cao import CaoOrderApplier
from consumers.runner import ShopConsumer
from shopbridge import config as cfg
from shopbridge import topology
from tests.conftest import add_cao_articles, config_data, shop_entry
from tests.helpers import consume, produce
from tests.integration.test_order_import import ORDERS
from tests.integration.test_order_producer import Item, Order, add_order

TRACKING = "00340434161094042557"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int, list[Controller]]]:
    """A real SMTP server on a free port; the test may stop and restart it."""
    inbox, port = Inbox(), free_port()
    controllers = [Controller(inbox, hostname="127.0.0.1", port=port)]
    controllers[0].start()
    yield inbox, port, controllers
    for controller in controllers:
        with contextlib.suppress(AssertionError, RuntimeError):  # stopped by the test already
            controller.stop()


def setup(erp: Any, phoenix_db: Any, namespace: str, port: int) -> tuple[cfg.Settings, int]:
    add_cao_articles(erp)
    mug = Item(30, "Kaffeebecher", Decimal("8.4034"), Decimal("8.4034"), model="KB-30")
    orders_id = add_order(phoenix_db, Order(email="erika@example.de", items=(mug,)),
                          comment="Danke!")
    mail = {"host": "127.0.0.1", "port": port, "security": "none",
            "sender": "shop@example.de",
            "tracking_urls": {"DHL": "https://www.dhl.de/de/privatkunden.html?piececode={code}"}}
    entry = shop_entry("web", phoenix_db, orders=ORDERS, mail=mail)
    settings = cfg.parse(config_data(namespace, erp, [entry]), source="test")
    return settings, orders_id


def import_orders(settings: cfg.Settings, erp: Any) -> None:
    from producers.oscommerce import PhoenixOrderProducer

    producer = PhoenixOrderProducer(broker=settings.broker, shop=settings.tenants[0].shops[0])
    producer.prepare()
    producer.run_once()
    producer.close()
    applier = CaoOrderApplier(tenant=settings.tenants[0], engine=erp.engine)
    ShopConsumer(broker=settings.broker, applier=applier,
                 target=topology.Target.for_erp("acme")).run(idle_exit_s=0.6)


def ship_in_cao(erp: Any, comment: str) -> None:
    journal_id = erp.scalar("SELECT REC_ID FROM journal")
    erp.execute("UPDATE journal SET SHOP_STATUS = 3, USR1 = 'DHL', USR2 = %s", (TRACKING,))
    erp.execute("INSERT INTO journal_ssh (JOURNAL_ID, DATUM, KOMMENTAR, SHOP_STATUS) "
                "VALUES (%s, NOW(), %s, 3)", (journal_id, comment))


def history(phoenix_db: Any, orders_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in phoenix_db.rows(
        "SELECT orders_status_id, customer_notified, comments FROM orders_status_history "
        "WHERE orders_id = %s ORDER BY orders_status_history_id", (orders_id,))]


def test_import_then_shipping_reach_the_shop_with_tracking_and_one_mail(
        erp, phoenix_db, namespace, smtp):
    inbox, port, _ = smtp
    settings, orders_id = setup(erp, phoenix_db, namespace, port)
    import_orders(settings, erp)

    produce(settings)                 # O2: the import's "processing" goes back to the shop
    consume(settings, "web")
    assert phoenix_db.scalar("SELECT orders_status FROM orders WHERE orders_id = %s",
                             (orders_id,)) == 2
    assert history(phoenix_db, orders_id)[-1][:2] == (2, 0)
    assert inbox.messages == []                       # imported_status_mail is off

    ship_in_cao(erp, "Ihre Ware ist unterwegs.")
    report = produce(settings)
    consume(settings, "web")

    assert report.published["order.status_changed"] == 1
    assert phoenix_db.scalar("SELECT orders_status FROM orders WHERE orders_id = %s",
                             (orders_id,)) == 3
    status, notified, comment = history(phoenix_db, orders_id)[-1]
    assert (status, notified) == (3, 1)
    assert comment.splitlines()[:2] == ["Ihre Ware ist unterwegs.", f"DHL: {TRACKING}"]
    assert f"piececode={TRACKING}" in comment
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail.rcpt_tos == ["erika@example.de"]
    body = mail.content.decode("utf-8", "replace")
    assert TRACKING in body and "piececode=" in body

    again = produce(settings)                          # nothing changed in CAO
    consume(settings, "web")
    assert again.published["order.status_changed"] == 0
    assert len(inbox.messages) == 1 and len(history(phoenix_db, orders_id)) == 3


def test_with_the_smtp_server_down_the_status_is_written_and_the_mail_sent_later(
        erp, phoenix_db, namespace, smtp):
    inbox, port, controllers = smtp
    settings, orders_id = setup(erp, phoenix_db, namespace, port)
    import_orders(settings, erp)
    produce(settings)
    consume(settings, "web")
    controllers[0].stop()

    ship_in_cao(erp, "Unterwegs.")
    produce(settings)
    stats = consume(settings, "web")

    assert stats.dead == 0
    assert history(phoenix_db, orders_id)[-1][:2] == (3, 0)       # written, not notified
    pending = phoenix_db.rows("SELECT state, attempts, last_error FROM shopbridge_mail_outbox")
    assert pending[0][0] == "pending" and pending[0][1] >= 1 and pending[0][2]

    restarted = Controller(inbox, hostname="127.0.0.1", port=port)
    restarted.start()
    controllers.append(restarted)
    shop = settings.tenants[0].shop("web")
    from consumers import make_applier

    applier = make_applier(shop)
    applier.prepare()
    applier.idle()                                   # what the consumer does after batches
    applier.close()

    assert len(inbox.messages) == 1
    assert history(phoenix_db, orders_id)[-1][:2] == (3, 1)
    assert phoenix_db.scalar("SELECT state FROM shopbridge_mail_outbox") == "sent"
