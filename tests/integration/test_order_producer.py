"""CE Phoenix orders (upstream install SQL) -> order.placed on the tenant's ERP queue.

Orders are written with plain SQL the way Phoenix's checkout writes them (orders, totals,
products, attributes, then the status-history row); the events are read back from the ERP
work queue with basic.get.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from kombu import Connection

from consumers.binder import Binder
from producers.feed import ShopFeed
from producers.oscommerce import PhoenixOrderProducer
from shopbridge import config as cfg
from shopbridge import schemas, topology
from tests.conftest import Database, settings_for, shop_entry

DE, AT = 81, 14
PLACED = datetime(2025, 3, 14, 9, 26, 53)


@dataclass
class Item:
    products_id: int
    name: str
    price: Decimal
    final_price: Decimal
    quantity: int = 1
    model: str | None = None
    tax: Decimal = Decimal("19.0000")
    attributes: Sequence[tuple[str, str, Decimal, str]] = ()   # option, value, price, prefix


@dataclass
class Address:
    name: str = "Erika Mustermann"
    company: str | None = None
    street: str = "Heidestraße 17"
    suburb: str | None = None
    postcode: str = "51147"
    city: str = "Köln"
    state: str | None = None
    country: str = "Deutschland"
    country_id: int = DE


@dataclass
class Order:
    customers_id: int = 0
    email: str = "erika@example.de"
    telephone: str = ""
    customer: Address = field(default_factory=Address)
    delivery: Address = field(default_factory=Address)
    billing: Address = field(default_factory=Address)
    payment_method: str = "Vorkasse"
    items: Sequence[Item] = (Item(30, "Kaffeebecher", Decimal("8.4034"), Decimal("8.4034")),)
    totals: Sequence[tuple[str, str, Decimal, int]] = (
        ("ot_subtotal", "Zwischensumme:", Decimal("8.4034"), 1),
        ("ot_total", "Summe:", Decimal("10.0000"), 4),
    )
    status: int = 1
    currency: str = "EUR"


def add_order(db: Database, order: Order, *, comment: str | None = "",
              history: bool = True, shop_sql_mode: bool = False) -> int:
    """Insert an order as Phoenix's checkout does (every NOT NULL column filled); its id.

    shop_sql_mode: write with the shop's own ``SET SESSION sql_mode=''`` (NOTES 1), which
    truncates over-long text instead of refusing it.
    """
    blocks = {"customers": order.customer, "delivery": order.delivery, "billing": order.billing}
    row: dict[str, Any] = {
        "customers_id": order.customers_id, "customers_telephone": order.telephone,
        "customers_email_address": order.email, "payment_method": order.payment_method,
        "date_purchased": PLACED, "orders_status": order.status, "currency": order.currency,
        "currency_value": Decimal("1.000000"),
    }
    for prefix, a in blocks.items():
        row.update({
            f"{prefix}_name": a.name, f"{prefix}_company": a.company,
            f"{prefix}_street_address": a.street, f"{prefix}_suburb": a.suburb,
            f"{prefix}_city": a.city, f"{prefix}_postcode": a.postcode,
            f"{prefix}_state": a.state, f"{prefix}_country": a.country,
            f"{prefix}_country_id": a.country_id, f"{prefix}_address_format_id": 5,
        })
    with db.engine.begin() as conn:
        if shop_sql_mode:
            conn.exec_driver_sql("SET SESSION sql_mode = ''")
        orders_id = conn.exec_driver_sql(
            f"INSERT INTO orders ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
            tuple(row.values())).lastrowid
        for class_, title, value, sort_order in order.totals:
            conn.exec_driver_sql(
                "INSERT INTO orders_total (orders_id, title, text, value, class, sort_order) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (orders_id, title, f"<strong>{value:.2f} €</strong>", value, class_, sort_order))
        for item in order.items:
            line_id = conn.exec_driver_sql(
                "INSERT INTO orders_products (orders_id, products_id, products_model, "
                "products_name, products_price, final_price, products_tax, products_quantity) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (orders_id, item.products_id, item.model, item.name, item.price,
                 item.final_price, item.tax, item.quantity)).lastrowid
            for option, value, price, prefix in item.attributes:
                conn.exec_driver_sql(
                    "INSERT INTO orders_products_attributes (orders_id, orders_products_id, "
                    "products_options, products_options_values, options_values_price, "
                    "price_prefix) VALUES (%s, %s, %s, %s, %s, %s)",
                    (orders_id, line_id, option, value, price, prefix))
        if history:
            add_history(conn, orders_id, order.status, comment)
    return orders_id


def add_history(conn: Any, orders_id: int, status: int, comment: str | None) -> None:
    conn.exec_driver_sql(
        "INSERT INTO orders_status_history (orders_id, orders_status_id, date_added, "
        "customer_notified, comments) VALUES (%s, %s, %s, %s, %s)",
        (orders_id, status, PLACED, 0, comment))


def add_customer(db: Database, customers_id: int, email: str) -> None:
    db.execute(
        "INSERT INTO customers (customers_id, customers_gender, customers_firstname, "
        "customers_lastname, customers_dob, customers_email_address, customers_telephone, "
        "customers_password) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (customers_id, "f", "Erika", "Mustermann", date(1980, 5, 17), email, "0221 123456",
         "$2y$10$" + "x" * 53))


def drain_erp_queue(settings: cfg.Settings) -> list[dict[str, Any]]:
    """Every event waiting on the tenant's ERP work queue (each message is a JSON array)."""
    queue = topology.work_queue(settings.broker.namespace, "acme", topology.ERP)
    events: list[dict[str, Any]] = []
    with Connection(settings.broker.url) as conn:
        # Declared as the ERP consumer would: a run that published nothing declared nothing.
        topology.declare(conn, settings.broker, [topology.Target.for_erp("acme")])
        channel = conn.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            body = orjson.loads(message.body)
            assert isinstance(body, list)
            events += body
    return events


def publish_the_one_new(producer: ShopFeed[Any], settings: cfg.Settings, event_type: str,
                        entity_key: str) -> dict[str, Any]:
    """One run of a shop feed with exactly one new row: the one valid event it published."""
    assert producer.count().new == 1

    report = producer.run_once()

    assert (report.published, report.waiting, report.rejected) == (1, 0, [])
    [event] = drain_erp_queue(settings)
    schemas.validate(event)
    assert (event["type"], event["tenant"], event["source"], event["entity_key"]) == (
        event_type, "acme", "oscommerce:web", entity_key)
    return event


@pytest.fixture
def settings(phoenix_db: Database, namespace: str) -> cfg.Settings:
    # The CAO URL is not read by the order producer; the shop database stands in for it.
    return settings_for(namespace, phoenix_db, [shop_entry("web", phoenix_db)])


@pytest.fixture
def producer(settings: cfg.Settings) -> Iterator[PhoenixOrderProducer]:
    made = PhoenixOrderProducer(broker=settings.broker, shop=settings.tenants[0].shop("web"))
    made.prepare()
    yield made
    made.close()


def recorded(db: Database) -> dict[int, str]:
    return dict(db.rows("SELECT orders_id, event_id FROM shopbridge_order_out"))


def test_a_final_order_becomes_one_complete_valid_order_placed_event(
        phoenix_db, settings, producer):
    """Given a registered customer's order with two lines (one with an attribute), shipping,
    a checkout comment and one linked product, one run publishes exactly one event whose
    payload carries every field of the order."""
    add_customer(phoenix_db, 7, "erika@example.de")
    with phoenix_db.engine.begin() as conn:
        Binder().ensure_table(conn)
        conn.exec_driver_sql(
            "INSERT INTO shopbridge_link (entity_type, entity_key, target_id) "
            "VALUES (%s, %s, %s), (%s, %s, %s)",
            ("product", "4711", 28, "category", "12", 29))   # 29 is no *product* link
    orders_id = add_order(phoenix_db, Order(
        customers_id=7, telephone="0221 123456",
        delivery=Address(name="Max Mustermann", company="Muster GmbH", street="Ring 1",
                         postcode="1010", city="Wien", country="Österreich", country_id=AT),
        payment_method="Nachnahme",
        items=[
            Item(28, "Kaffeebecher „Köln“", Decimal("12.5000"), Decimal("15.0000"), quantity=2,
                 model="KB-01", attributes=[("Farbe", "Blau", Decimal("2.5000"), "+")]),
            Item(29, "Untersetzer", Decimal("4.9900"), Decimal("4.9900"),
                 tax=Decimal("7.0000")),
        ],
        totals=[
            ("ot_subtotal", "Zwischensumme:", Decimal("34.9900"), 1),
            ("ot_shipping", "Versandkostenpauschale (Standardversand):", Decimal("5.0000"), 2),
            ("ot_tax", "MwSt. 19%:", Decimal("6.6481"), 3),
            ("ot_total", "Summe:", Decimal("46.6381"), 4),
        ]), comment="Bitte beim Nachbarn abgeben.\nDanke!")

    event = publish_the_one_new(producer, settings, "order.placed", f"web:{orders_id}")

    home = {"name": "Erika Mustermann", "company": None, "street": "Heidestraße 17",
            "suburb": None, "postcode": "51147", "city": "Köln", "state": None,
            "country": "Deutschland", "country_iso2": "DE"}
    assert event["payload"] == {
        "shop": "web", "order_id": orders_id, "placed_at": "2025-03-14T09:26:53",
        "currency": "EUR", "currency_value": "1.000000", "prices_include_tax": False,
        "status_id": 1, "language": None,
        "customer": {"shop_customer_id": 7, "email": "erika@example.de",
                     "telephone": "0221 123456", "guest": False, "gender": "f",
                     "date_of_birth": "1980-05-17"},
        "addresses": {
            "customer": home, "billing": home,
            "delivery": {"name": "Max Mustermann", "company": "Muster GmbH", "street": "Ring 1",
                         "suburb": None, "postcode": "1010", "city": "Wien", "state": None,
                         "country": "Österreich", "country_iso2": "AT"}},
        "payment_method": "Nachnahme",
        "shipping_method": "Versandkostenpauschale (Standardversand)",
        "items": [
            {"line": 1, "shop_product_id": 28, "erp_id": 4711, "sku": "KB-01",
             "name": "Kaffeebecher „Köln“", "quantity": 2, "price_net": "12.5000",
             "final_price_net": "15.0000", "tax_rate": "19.0000",
             "attributes": [{"option": "Farbe", "value": "Blau", "price_net": "2.5000",
                             "prefix": "+"}]},
            {"line": 2, "shop_product_id": 29, "erp_id": None, "sku": None,
             "name": "Untersetzer", "quantity": 1, "price_net": "4.9900",
             "final_price_net": "4.9900", "tax_rate": "7.0000", "attributes": []},
        ],
        "totals": [
            {"class": "ot_subtotal", "title": "Zwischensumme:", "value": "34.9900",
             "sort_order": 1},
            {"class": "ot_shipping", "title": "Versandkostenpauschale (Standardversand):",
             "value": "5.0000", "sort_order": 2},
            {"class": "ot_tax", "title": "MwSt. 19%:", "value": "6.6481", "sort_order": 3},
            {"class": "ot_total", "title": "Summe:", "value": "46.6381", "sort_order": 4},
        ],
        "comment": "Bitte beim Nachbarn abgeben.\nDanke!",
    }
    assert recorded(phoenix_db) == {orders_id: event["event_id"]}
    assert producer.count().new == 0


def test_the_comment_is_the_first_history_rows_and_later_rows_do_not_change_it(
        phoenix_db, settings, producer):
    """The admin's later status rows are not the customer's comment; an empty checkout
    comment and no shipping total give null."""
    orders_id = add_order(phoenix_db, Order(), comment="")
    with phoenix_db.engine.begin() as conn:
        add_history(conn, orders_id, 2, "Zahlung eingegangen")

    producer.run_once()

    [event] = drain_erp_queue(settings)
    assert event["payload"]["comment"] is None
    assert event["payload"]["shipping_method"] is None


def test_an_order_without_status_history_waits_until_its_first_history_row(
        phoenix_db, settings, producer):
    """An unpaid "preparing" order (no history row) is counted as waiting, never published
    and never recorded; once the shop writes its history row, the next run publishes it."""
    orders_id = add_order(phoenix_db, Order(payment_method="PayPal"), history=False)
    assert (producer.count().new, producer.count().waiting) == (0, 1)

    report = producer.run_once()

    assert (report.published, report.waiting, report.rejected) == (0, 1, [])
    assert drain_erp_queue(settings) == []
    assert recorded(phoenix_db) == {}

    with phoenix_db.engine.begin() as conn:
        add_history(conn, orders_id, 1, "")
    assert (producer.count().new, producer.count().waiting) == (1, 0)
    report = producer.run_once()

    assert (report.published, report.waiting) == (1, 0)
    assert [e["entity_key"] for e in drain_erp_queue(settings)] == [f"web:{orders_id}"]
    assert set(recorded(phoenix_db)) == {orders_id}


def test_a_second_run_publishes_nothing(phoenix_db, settings, producer):
    """Published orders are recorded: an idle run sends no message and nothing twice."""
    ids = [add_order(phoenix_db, Order()) for _ in range(3)]
    first = producer.run_once()
    assert first.published == 3 and first.messages == 1      # packed into one message
    assert sorted(e["payload"]["order_id"] for e in drain_erp_queue(settings)) == ids

    second = producer.run_once()

    assert (second.published, second.messages, second.rejected) == (0, 0, [])
    assert drain_erp_queue(settings) == []
    assert producer.count().new == 0


@pytest.mark.parametrize("customers_id", [0, 999], ids=["guest-checkout", "deleted-customer"])
def test_an_order_without_a_customer_row_is_a_guest_order(
        phoenix_db, settings, producer, customers_id):
    """customers_id 0 (guest checkout) or a customer row that no longer exists: guest=true and
    no shop customer id, gender or date of birth."""
    add_order(phoenix_db, Order(customers_id=customers_id, email="gast@example.de"))

    producer.run_once()

    [event] = drain_erp_queue(settings)
    assert event["payload"]["customer"] == {
        "shop_customer_id": None, "email": "gast@example.de", "telephone": None,
        "guest": True, "gender": None, "date_of_birth": None}


NAME_300 = ("Zoë 🦄 Øster-Gößweiñ 👩‍👩‍👧 " * 12)[:300]


def test_emoji_and_a_name_cut_to_the_column_by_the_shop_survive_unchanged(
        phoenix_db, settings, producer):
    """A stock Phoenix column is varchar(255): the shop (sql_mode '') stores the first 255
    characters of a 300-character name. Emoji are one character each in MariaDB and in JSON
    Schema alike, so whatever the shop stored fits the schema and arrives unchanged."""
    assert len(NAME_300) == 300
    orders_id = add_order(phoenix_db, Order(
        customer=Address(name=NAME_300), delivery=Address(name=NAME_300),
        items=[Item(5, "Tasse ☕ mit 🐍 und Ümläuten", Decimal("9.9900"), Decimal("9.9900"))]),
        comment="Geschenk 🎁 – bitte ohne Rechnung 🙏", shop_sql_mode=True)
    stored = phoenix_db.scalar("SELECT delivery_name FROM orders WHERE orders_id = %s",
                               (orders_id,))
    assert stored == NAME_300[:255]

    report = producer.run_once()

    assert (report.published, report.rejected) == (1, [])
    [event] = drain_erp_queue(settings)
    payload = event["payload"]
    assert payload["addresses"]["delivery"]["name"] == stored
    assert payload["addresses"]["customer"]["name"] == stored
    assert payload["items"][0]["name"] == "Tasse ☕ mit 🐍 und Ümläuten"
    assert payload["comment"] == "Geschenk 🎁 – bitte ohne Rechnung 🙏"


def test_a_name_longer_than_the_schema_allows_is_rejected_and_retried_not_cut(
        phoenix_db, settings, producer):
    """Given a shop whose delivery_name column was widened to 300 characters, an order with a
    300-character name is reported in ``rejected`` (naming the order and the field), is not
    recorded and stays "new"; the other orders of the same page are published."""
    phoenix_db.execute("ALTER TABLE orders MODIFY delivery_name VARCHAR(300) NOT NULL")
    good = add_order(phoenix_db, Order())
    bad = add_order(phoenix_db, Order(delivery=Address(name=NAME_300)))
    after = add_order(phoenix_db, Order())

    report = producer.run_once()

    assert report.published == 2
    [problem] = report.rejected
    assert f"order {bad} " in problem and "payload.addresses.delivery.name" in problem
    assert sorted(e["payload"]["order_id"] for e in drain_erp_queue(settings)) == [good, after]
    assert set(recorded(phoenix_db)) == {good, after}
    assert producer.count().new == 1

    again = producer.run_once()                      # retried every cycle, never half-sent
    assert (again.published, len(again.rejected)) == (0, 1)
    assert drain_erp_queue(settings) == []


def test_count_works_before_the_bookkeeping_table_exists(phoenix_db, settings):
    """'orders count' is read-only: on a shop never prepared, every final order is new."""
    add_order(phoenix_db, Order())
    add_order(phoenix_db, Order(), history=False)
    reader = PhoenixOrderProducer(broker=settings.broker, shop=settings.tenants[0].shop("web"))
    try:
        counted = reader.count()
    finally:
        reader.close()

    assert (counted.new, counted.waiting) == (1, 1)
    assert phoenix_db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                             "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'shopbridge_order_out'"
                             ) == 0


def test_pages_and_packs_cover_every_order_once(phoenix_db, settings, monkeypatch):
    """More orders than a page and a pack: each is published exactly once."""
    import producers.oscommerce.orders as orders_module

    monkeypatch.setattr(orders_module, "PAGE", 4)
    ids = [add_order(phoenix_db, Order()) for _ in range(9)]
    add_order(phoenix_db, Order(), history=False)
    small = PhoenixOrderProducer(broker=dataclasses.replace(settings.broker, pack_size=3),
                                 shop=settings.tenants[0].shop("web"))
    try:
        report = small.run_once()
    finally:
        small.close()

    # pages of 4, 4 and 1 orders; packs of 3 + 1, 3 + 1 and 1 events
    assert (report.published, report.waiting, report.messages) == (9, 1, 5)
    assert sorted(e["payload"]["order_id"] for e in drain_erp_queue(settings)) == ids


def test_orders_before_the_configured_first_order_id_are_never_sent(phoenix_db, namespace):
    """Switching over from another import: the shop's history must not flood the ERP."""
    old = [add_order(phoenix_db, Order()) for _ in range(3)]
    new = add_order(phoenix_db, Order())
    settings = settings_for(namespace, phoenix_db, [shop_entry(
        "web", phoenix_db, orders={"first_order_id": new})])
    producer = PhoenixOrderProducer(broker=settings.broker,
                                    shop=settings.tenants[0].shop("web"))
    try:
        producer.prepare()
        assert producer.count().new == 1
        report = producer.run_once()
    finally:
        producer.close()

    assert report.published == 1
    assert [e["payload"]["order_id"] for e in drain_erp_queue(settings)] == [new]
    assert not set(old) & set(recorded(phoenix_db))
