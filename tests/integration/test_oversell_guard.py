"""Issue 15 B3, the oversell guard: the stock each guarded shop is sent lacks the orders CAO's
stock does not lack yet (on their way, or imported drafts nobody booked) and the shop's
safety buffer. One CAO database feeds a CE Phoenix (osCommerce) shop 'osc' and a VirtueMart
shop 'vm', both guarded; the producer, the importer and both consumers run in-process
against real MariaDB and RabbitMQ; orders are published to the broker as the shop order
feeds publish them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from kombu import Connection

from consumers.cao import CaoOrderApplier
from producers.cao import CaoProducer
from producers.cao.guard import LEDGER, StockGuard
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge import sample
from shopbridge.errors import ConfigError
from shopbridge.publisher import OutMessage, Publisher
from tests import virtuemart_db
from tests.conftest import AMQP_URL, Database, config_data, fill_cao, shop_entry
from tests.helpers import consume

VM = virtuemart_db.PREFIX + "virtuemart_"
ORDERS = {"payment_methods": {"Vorkasse": 1}, "shipping_methods": {"Flat Rate": 2},
          "countries": {"DE": "D"}}
LAST_ONE, PLENTY = 1, 2        # REC_IDs: an article with 1 unit, one with 5


def settings(namespace: str, erp: Database, phoenix: Database, vm: Database, *,
             osc_buffer: int = 0, vm_buffer: int = 0) -> cfg.Settings:
    return cfg.parse(config_data(namespace, erp, [
        shop_entry("osc", phoenix, orders=copy.deepcopy(ORDERS),
                   oversell={"enabled": True, "buffer": osc_buffer}),
        virtuemart_db.shop_entry("vm", vm, orders=copy.deepcopy(ORDERS),
                                 oversell={"enabled": True, "buffer": vm_buffer}),
    ]), source="test")


@pytest.fixture
def cao(erp: Database) -> Database:
    rows = sample.articles(2, shop_ids=(1,))
    rows[0]["MENGE_AKT"], rows[1]["MENGE_AKT"] = Decimal(1), Decimal(5)
    fill_cao(erp, rows, sample.translations(rows))
    return erp


@pytest.fixture
def producer(cao: Database, phoenix_db: Database, vm: Database,
             namespace: str) -> Iterator[CaoProducer]:
    made = CaoProducer(broker=settings(namespace, cao, phoenix_db, vm).broker,
                       tenant=settings(namespace, cao, phoenix_db, vm).tenants[0],
                       engine=cao.engine)
    made.prepare()
    made.run_once()          # declares the reservation queue before any order is placed
    yield made
    made.close()


def order(shop: str, order_id: int, erp_id: int, quantity: int = 1) -> dict[str, Any]:
    address = {"name": "Anna Müller", "company": None, "street": "Hauptstraße 1",
               "suburb": None, "postcode": "10115", "city": "Berlin", "state": None,
               "country": "Deutschland", "country_iso2": "DE"}
    payload = {
        "shop": shop, "order_id": order_id, "placed_at": "2026-12-07T10:00:00",
        "currency": "EUR", "currency_value": "1.000000", "prices_include_tax": False,
        "status_id": 1, "language": "de",
        "customer": {"shop_customer_id": None, "email": "anna@example.org", "guest": True},
        "addresses": {"customer": address, "billing": address, "delivery": address},
        "payment_method": "Vorkasse", "shipping_method": "Flat Rate",
        "items": [{"line": 1, "shop_product_id": 7, "erp_id": erp_id,
                   "sku": f"A-{erp_id:06d}", "name": "Artikel", "quantity": quantity,
                   "price_net": "10.0000", "final_price_net": "10.0000",
                   "tax_rate": "19.0000", "attributes": []}],
        "totals": [{"class": "ot_subtotal", "title": "Zwischensumme:",
                    "value": f"{10 * quantity}.0000", "sort_order": 1},
                   {"class": "ot_total", "title": "Summe:",
                    "value": f"{Decimal('11.9') * quantity:.4f}", "sort_order": 2}],
    }
    return ev.make_event("order.placed", tenant="acme", source=f"shop:{shop}",
                         entity_key=f"{shop}:{order_id}", version=1, payload=payload)


def place(namespace: str, *events: dict[str, Any]) -> None:
    """What a shop's order feed does: order.placed to the tenant's ERP routing key."""
    with Connection(AMQP_URL) as conn:
        Publisher(conn).publish([OutMessage(exchange=namespace, routing_key="acme.order.placed",
                                            body=ev.encode([event])) for event in events])


def import_into_cao(s: cfg.Settings, cao: Database, *events: dict[str, Any]) -> None:
    applier = CaoOrderApplier(tenant=s.tenants[0], engine=cao.engine)
    applier.prepare()
    result = applier.apply([ev.parse(e) for e in events])
    assert result.applied == len(events), result.notes


def journal_of(cao: Database, order_id: int) -> int:
    return int(cao.scalar("SELECT REC_ID FROM journal WHERE SHOP_ORDERID = %s", (order_id,)))


def shown(s: cfg.Settings, phoenix: Database, vm: Database) -> dict[str, Any]:
    """Each shop after its consumer ran: osCommerce's quantity; VirtueMart's in_stock,
    ordered and what its front end offers (in_stock - ordered), per article."""
    consume(s, "osc")
    consume(s, "vm")
    osc = {sku: int(q) for sku, q in phoenix.rows(
        "SELECT products_model, products_quantity FROM products")}
    vms = {sku: (int(i), int(o)) for sku, i, o in vm.rows(
        f"SELECT product_sku, product_in_stock, product_ordered FROM {VM}products")}
    return {"osc": osc, "vm": vms}


def ledger(cao: Database) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in cao.rows(
        f"SELECT shop, order_id, erp_id, quantity, state FROM {LEDGER} ORDER BY shop, order_id")]


A1, A2 = "A-000001", "A-000002"


def test_the_last_unit_sold_in_one_shop_shows_0_in_the_other_before_cao_has_the_order(
        cao, phoenix_db, vm, namespace, producer):
    s = settings(namespace, cao, phoenix_db, vm)
    assert shown(s, phoenix_db, vm) == {"osc": {A1: 1, A2: 5}, "vm": {A1: (1, 0), A2: (5, 0)}}

    # Checkout in osCommerce: it lowers its own quantity; the feed publishes the order.
    phoenix_db.execute("UPDATE products SET products_quantity = 0 WHERE products_model = %s",
                       (A1,))
    place(namespace, order("osc", 501, LAST_ONE))
    report = producer.stock_scan()

    assert report.published["stock.changed"] == 1
    assert shown(s, phoenix_db, vm) == {"osc": {A1: 0, A2: 5}, "vm": {A1: (0, 0), A2: (5, 0)}}
    assert ledger(cao) == [("osc", 501, LAST_ONE, Decimal(1), "pending")]

    # The import lands as a draft: CAO's stock has not moved, the unit stays reserved.
    import_into_cao(s, cao, order("osc", 501, LAST_ONE))
    assert producer.stock_scan().published["stock.changed"] == 0
    assert ledger(cao)[0][4] == "imported"
    assert shown(s, phoenix_db, vm)["vm"][A1] == (0, 0)

    # The CAO user books it: the stock moves and the reservation goes, counted once.
    cao.execute("UPDATE journal SET QUELLE = 3 WHERE REC_ID = %s", (journal_of(cao, 501),))
    cao.execute("UPDATE artikel SET MENGE_AKT = 0 WHERE REC_ID = %s", (LAST_ONE,))
    assert producer.stock_scan().published["stock.changed"] == 1
    assert ledger(cao)[0][4] == "released"
    assert shown(s, phoenix_db, vm) == {"osc": {A1: 0, A2: 5}, "vm": {A1: (0, 0), A2: (5, 0)}}
    assert producer.stock_scan().published["stock.changed"] == 0


def test_a_draft_deleted_in_cao_gives_the_unit_back_to_every_shop(
        cao, phoenix_db, vm, namespace, producer):
    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    place(namespace, order("osc", 502, PLENTY, quantity=2))
    producer.stock_scan()
    assert shown(s, phoenix_db, vm) == {"osc": {A1: 1, A2: 3}, "vm": {A1: (1, 0), A2: (3, 0)}}

    import_into_cao(s, cao, order("osc", 502, PLENTY, quantity=2))
    producer.stock_scan()
    journal = journal_of(cao, 502)
    cao.execute("DELETE FROM journalpos WHERE JOURNAL_ID = %s", (journal,))
    cao.execute("DELETE FROM journal WHERE REC_ID = %s", (journal,))
    assert producer.stock_scan().published["stock.changed"] == 1

    assert shown(s, phoenix_db, vm) == {"osc": {A1: 1, A2: 5}, "vm": {A1: (1, 0), A2: (5, 0)}}
    assert ledger(cao)[0][4] == "released"


def test_virtuemart_does_not_deduct_its_own_open_order_twice(
        cao, phoenix_db, vm, namespace, producer):
    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    # Checkout in VirtueMart counts the order in product_ordered; in_stock stays.
    vm.execute(f"UPDATE {VM}products SET product_ordered = 1 WHERE product_sku = %s", (A2,))
    place(namespace, order("vm", 601, PLENTY))
    producer.stock_scan()

    after = shown(s, phoenix_db, vm)
    assert after["vm"][A2] == (5, 1)         # offers 4: deducted once, by VirtueMart itself
    assert after["osc"][A2] == 4             # the other shop lacks it as well

    import_into_cao(s, cao, order("vm", 601, PLENTY))
    producer.stock_scan()
    assert shown(s, phoenix_db, vm)["vm"][A2] == (5, 1)


def test_the_safety_buffer_holds_back_units_per_shop_and_a_new_one_is_sent_to_every_article(
        cao, phoenix_db, vm, namespace, producer):
    shown(settings(namespace, cao, phoenix_db, vm), phoenix_db, vm)
    buffered = settings(namespace, cao, phoenix_db, vm, osc_buffer=2)
    again = CaoProducer(broker=buffered.broker, tenant=buffered.tenants[0], engine=cao.engine)
    try:
        again.run_once()
    finally:
        again.close()

    assert shown(buffered, phoenix_db, vm) == {"osc": {A1: 0, A2: 3},
                                               "vm": {A1: (1, 0), A2: (5, 0)}}


def test_an_order_seen_twice_or_across_a_crash_before_the_ack_is_reserved_once(
        cao, phoenix_db, vm, namespace, producer, monkeypatch):
    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    twice = order("osc", 503, PLENTY)
    place(namespace, twice, twice)             # a replayed order: the same event again

    class Crash(BaseException):
        """Escapes every handler, as a killed process."""

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    # The producer dies after recording the order, before acknowledging the message.
    monkeypatch.setattr("amqp.channel.Channel.basic_ack", crash)
    with pytest.raises(Crash):
        producer.stock_scan()
    monkeypatch.undo()
    producer.close()

    restarted = CaoProducer(broker=s.broker, tenant=s.tenants[0], engine=cao.engine)
    try:
        restarted.stock_scan()
        assert ledger(cao) == [("osc", 503, PLENTY, Decimal(1), "pending")]
        assert shown(s, phoenix_db, vm) == {"osc": {A1: 1, A2: 4},
                                            "vm": {A1: (1, 0), A2: (4, 0)}}
        assert restarted.stock_scan().published["stock.changed"] == 0
    finally:
        restarted.close()
    # What a preview (sync --dry-run) reads: the same sums, nothing taken from the queue.
    preview = StockGuard(broker=s.broker, tenant=s.tenants[0])
    with cao.engine.connect() as conn:
        preview.read_open(conn)
    assert preview.reserved == {PLENTY: {"osc": Decimal(1)}}


def test_a_shop_kind_without_a_guard_says_so(cao, phoenix_db, vm, namespace, monkeypatch):
    from consumers.oscommerce.kind import OsCommerceSink

    monkeypatch.setattr(OsCommerceSink, "open_orders_deducted", lambda self: None)
    with pytest.raises(ConfigError, match="shop kind 'oscommerce' has no oversell guard yet"):
        settings(namespace, cao, phoenix_db, vm)


def test_an_ordered_variant_child_comes_off_its_own_stock_and_its_masters_sum(
        erp, phoenix_db, vm, namespace):
    from tests.integration.test_variants import NAMES
    from tests.integration.test_variants import articles as shirt_articles

    fill_cao(erp, shirt_articles(), [])       # master SHIRT (1), children 3..6: 3, 2, 5, -1
    data = config_data(namespace, erp, [
        shop_entry("osc", phoenix_db, orders=copy.deepcopy(ORDERS),
                   oversell={"enabled": True}),
        virtuemart_db.shop_entry("vm", vm, orders=copy.deepcopy(ORDERS),
                                 oversell={"enabled": True})])
    data["tenants"][0]["erp"]["variants"] = {"enabled": True, "names": NAMES}
    s = cfg.parse(data, source="test")
    made = CaoProducer(broker=s.broker, tenant=s.tenants[0], engine=erp.engine)
    try:
        made.run_once()
        before = shown(s, phoenix_db, vm)
        blue_m = order("osc", 701, 3, quantity=2)
        blue_m["payload"]["items"][0]["variant"] = {"erp_id": 3, "dims": {"A": "Blau", "B": "M"}}
        blue_m["payload"]["items"][0]["erp_id"] = 1
        place(namespace, blue_m)
        assert made.stock_scan().published["stock.changed"] == 1
        after = shown(s, phoenix_db, vm)
    finally:
        made.close()

    assert (before["osc"]["SHIRT"], after["osc"]["SHIRT"]) == (10, 8)
    assert (before["vm"]["SHIRT-BL-M"], after["vm"]["SHIRT-BL-M"]) == ((3, 0), (1, 0))
    assert after["vm"]["SHIRT-RT-M"] == (5, 0)
    assert ledger(erp) == [("osc", 701, 3, Decimal(2), "pending")]


def test_a_producer_killed_between_recording_and_publishing_publishes_after_its_restart(
        cao, phoenix_db, vm, namespace, producer, monkeypatch):
    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    place(namespace, order("vm", 504, LAST_ONE))

    class Crash(BaseException):
        """Escapes every handler, as a killed process."""

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(producer, "_publish", crash)
    with pytest.raises(Crash):
        producer.stock_scan()         # recorded and acknowledged, nothing published
    producer.close()
    assert ledger(cao) == [("vm", 504, LAST_ONE, Decimal(1), "pending")]

    restarted = CaoProducer(broker=s.broker, tenant=s.tenants[0], engine=cao.engine)
    try:
        assert restarted.stock_scan().published["stock.changed"] == 1
    finally:
        restarted.close()
    # VirtueMart's own order is its product_ordered's to count (not simulated here).
    assert shown(s, phoenix_db, vm) == {"osc": {A1: 0, A2: 5}, "vm": {A1: (1, 0), A2: (5, 0)}}


@pytest.mark.parametrize("signal", ["off", "gate", "triggers"])
def test_following_the_other_shop_shows_the_sale_and_the_booking_within_seconds(
        cao, phoenix_db, vm, namespace, producer, signal):
    """``produce --follow``'s loop, in a thread, on each change signal: with triggers or the
    table clock no CAO write tells of a reservation, so the loop refreshes the guard on the
    stock period itself."""
    import threading
    import time

    from producers.cao import capture

    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    if signal == "triggers":
        with cao.engine.begin() as conn:
            capture.install(conn)
    thread = threading.Thread(target=producer.follow,
                              kwargs={"full_interval_s": 60.0, "signal": signal})
    thread.start()

    def vm_within(expected: tuple[int, int], seconds: float = 10.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if shown(s, phoenix_db, vm)["vm"][A1] == expected:
                return time.monotonic() - started
        raise AssertionError(f"VirtueMart did not show {expected} within {seconds} s")

    try:
        place(namespace, order("osc", 505, LAST_ONE))
        vm_within((0, 0))
        import_into_cao(s, cao, order("osc", 505, LAST_ONE))
        journal = journal_of(cao, 505)
        cao.execute("DELETE FROM journalpos WHERE JOURNAL_ID = %s", (journal,))
        cao.execute("DELETE FROM journal WHERE REC_ID = %s", (journal,))   # cancelled in CAO
        vm_within((1, 0))
    finally:
        producer.stop_event.set()
        thread.join(10)
    assert ledger(cao)[0][4] == "released"


def test_an_order_that_never_reaches_cao_stops_reserving_after_pending_hours_until_it_does(
        cao, phoenix_db, vm, namespace, producer):
    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    place(namespace, order("osc", 506, PLENTY, quantity=3))
    producer.stock_scan()
    assert shown(s, phoenix_db, vm)["vm"][A2] == (2, 0)

    cao.execute(f"UPDATE {LEDGER} SET recorded_at = recorded_at - INTERVAL 73 HOUR")
    producer.guard._full_at = -1e9     # the pass every 10 s, now
    producer.stock_scan()
    assert ledger(cao)[0][4] == "expired"
    assert shown(s, phoenix_db, vm)["vm"][A2] == (5, 0)

    import_into_cao(s, cao, order("osc", 506, PLENTY, quantity=3))   # replayed at last
    producer.stock_scan()
    assert ledger(cao)[0][4] == "imported"
    assert shown(s, phoenix_db, vm)["vm"][A2] == (2, 0)


def test_a_reserved_child_taken_out_of_the_shop_does_not_republish_its_master_forever(
        erp, phoenix_db, vm, namespace):
    """Review: a reserved variant child with SHOP_DEL_FLAG = 'Y' is left out of its master's
    payload; the guard must still digest the same reservations it compares, or every
    refresh republishes the master's stock to every shop."""
    from tests.integration.test_variants import NAMES
    from tests.integration.test_variants import articles as shirt_articles

    fill_cao(erp, shirt_articles(), [])
    data = config_data(namespace, erp, [
        shop_entry("osc", phoenix_db, orders=copy.deepcopy(ORDERS),
                   oversell={"enabled": True})])
    data["tenants"][0]["erp"]["variants"] = {"enabled": True, "names": NAMES}
    s = cfg.parse(data, source="test")
    made = CaoProducer(broker=s.broker, tenant=s.tenants[0], engine=erp.engine)
    try:
        made.run_once()
        blue_m = order("osc", 702, 3, quantity=1)
        blue_m["payload"]["items"][0]["variant"] = {"erp_id": 3, "dims": {"A": "Blau", "B": "M"}}
        blue_m["payload"]["items"][0]["erp_id"] = 1
        place(namespace, blue_m)
        made.stock_scan()
        erp.execute("UPDATE artikel SET SHOP_DEL_FLAG = 'Y' WHERE REC_ID = 3")
        made.run_once()
        published = []
        for _ in range(3):
            made.guard._full_at = 0.0          # the refresh's full pass, every time
            published.append(made.stock_scan().published["stock.changed"])
    finally:
        made.close()

    assert published == [0, 0, 0]


def test_a_sale_during_a_long_full_cycle_on_triggers_reaches_the_other_shop_before_it_ends(
        cao, phoenix_db, vm, namespace, producer):
    """On the change signal a full cycle publishes, between its pages, the stock the change
    table names (``_stock_when_due``); a reservation is no CAO write, so that stock scan
    refreshes the guard too, or a sale made while a cycle of minutes runs would show in the
    other shop only after it. Here: one such between-pages scan, with no change row."""
    from producers.cao import capture

    s = settings(namespace, cao, phoenix_db, vm)
    shown(s, phoenix_db, vm)
    with cao.engine.begin() as conn:
        capture.install(conn)
    producer.signalled = True
    producer._stock_period_s = 0.0     # as while following: the scan is due at every page

    place(namespace, order("osc", 606, LAST_ONE))
    producer._stock_when_due()

    assert shown(s, phoenix_db, vm)["vm"][A1] == (0, 0)
    assert ledger(cao)[0][:4] == ("osc", 606, LAST_ONE, 1)
