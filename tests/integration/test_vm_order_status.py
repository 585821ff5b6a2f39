"""Order status back from CAO to a VirtueMart shop (O4), as VirtueMart's own admin status
change does it (consumers/virtuemart/statuses.py): order and item statuses, a history row
with carrier and tracking code, the stock moves of handleStockAfterStatusChangedPerProduct,
and the customer's e-mail through a real SMTP server (aiosmtpd); the whole way from CAO
through RabbitMQ in the first test, the applier alone in the others."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from consumers.cao import CaoOrderApplier
from consumers.virtuemart.applier import VirtueMartApplier
from consumers.virtuemart.store import VmProductStore
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.errors import MappingError
from tests.conftest import AMQP_URL, Database, add_cao_articles, config_data
from tests.helpers import consume, produce
from tests.integration import test_virtuemart_traps as traps
from tests.integration.test_order_import import ORDERS
from tests.integration.test_order_import import order as placed_order
from tests.integration.test_order_status import TRACKING, free_port, ship_in_cao
from tests.integration.test_order_status import smtp as smtp
from tests.virtuemart_db import PREFIX, shop_entry
from tests.vm_checkout import Address, VmLine, add_product, place_vm_order

P = PREFIX + "virtuemart_"
DHL = "https://www.dhl.de/de/privatkunden.html?piececode={code}"


def mail_config(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": "none",
            "sender": "shop@example.de", "tracking_urls": {"DHL": DHL}}


@pytest.fixture
def make_applier(vm: Database) -> Iterator[Any]:
    made: list[VirtueMartApplier] = []

    def make(port: int | None = None, **virtuemart: Any) -> VirtueMartApplier:
        entry = shop_entry("vm", vm, virtuemart={"prefix": PREFIX, **virtuemart},
                           **({"mail": mail_config(port)} if port else {}))
        settings = cfg.parse({
            "broker": {"url": AMQP_URL, "namespace": "sbtest-vm"},
            "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": "mysql://x/y"},
                         "shops": [entry]}]}, source="test")
        applier = VirtueMartApplier(shop=settings.tenants[0].shops[0])
        made.append(applier)
        return applier

    yield make
    for applier in made:
        applier.close()


def place(vm: Database, *lines: tuple[int, int], status: str = "C",
          email: str = "erika@example.de", first_name: str = "Erika",
          language: str = "de-DE") -> int:
    """An order of (product id, quantity) lines as VirtueMart's checkout writes it
    (tests/vm_checkout.py: reserved, history P, then ``status`` with its stock moves); one
    line of a product of its own where none is given. Its virtuemart_order_id."""
    if not lines:
        lines = ((add_product(vm, "S-0", in_stock=10), 1),)
    items = [VmLine(product_id, f"S-{product_id}", f"Artikel {product_id}", Decimal("10.00"),
                    quantity=quantity) for product_id, quantity in lines]
    return place_vm_order(vm, items=items, status=status, email=email, language=language,
                          billing=Address(first_name=first_name, last_name="Mustermann")).id


def status(order_id: int, status_id: int, v: int = 1, *, notify: bool = True,
           tracking: str | None = TRACKING, comment: str | None = "Unterwegs.") -> ev.Event:
    return ev.parse(ev.make_event(
        "order.status_changed", tenant="acme", source="cao:test", entity_key=f"vm:{order_id}",
        version=v, payload={"shop": "vm", "order_id": order_id, "status_id": status_id,
                            "comment": comment, "carrier": "DHL" if tracking else None,
                            "tracking_code": tracking, "notify": notify,
                            "erp_document": "RE-001001", "changed_at": None}))


def stock(vm: Database, product_id: int) -> tuple[int, int, int]:
    """(product_in_stock, product_ordered, product_sales)"""
    row = vm.rows(f"SELECT product_in_stock, product_ordered, product_sales FROM {P}products "
                  f"WHERE virtuemart_product_id = %s", (product_id,))[0]
    return int(row[0]), int(row[1]), int(row[2])


def histories(vm: Database, order_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in vm.rows(
        f"SELECT order_status_code, customer_notified, comments FROM {P}order_histories "
        f"WHERE virtuemart_order_id = %s ORDER BY virtuemart_order_history_id", (order_id,))]


def statuses(vm: Database, order_id: int) -> tuple[str, list[str]]:
    head = vm.scalar(f"SELECT order_status FROM {P}orders WHERE virtuemart_order_id = %s",
                     (order_id,))
    items = [r[0] for r in vm.rows(f"SELECT order_status FROM {P}order_items WHERE "
                                   f"virtuemart_order_id = %s", (order_id,))]
    return head, items


def test_shipping_in_cao_reaches_the_vm_order_with_history_stock_and_one_mail(
        vm, erp, namespace, smtp):
    """The whole way: a VirtueMart order imported into CAO, shipped there with a tracking
    code, published by the CAO producer and applied by the VirtueMart consumer."""
    inbox, port, _ = smtp
    add_cao_articles(erp)
    can = add_product(vm, "A-000001", in_stock=10)
    book = add_product(vm, "A-000002", in_stock=4)
    order_id = place(vm, (can, 2), (book, 1))
    assert stock(vm, can) == (10, 2, 0)                     # checkout reserved them
    entry = shop_entry("vm", vm, orders=copy.deepcopy(ORDERS), mail=mail_config(port),
                       filter={"cao_shop_id": 2})           # statuses only, no catalogue
    settings = cfg.parse(config_data(namespace, erp, [entry]), source="test")
    importer = CaoOrderApplier(tenant=settings.tenants[0], engine=erp.engine)
    importer.prepare()
    payload = {**placed_order(order_id).payload, "shop": "vm"}
    placed = ev.parse(ev.make_event("order.placed", tenant="acme", source="virtuemart:vm",
                                    entity_key=f"vm:{order_id}", version=1, payload=payload))
    assert importer.apply([placed]).applied == 1

    produce(settings)                 # O2: the import's status 2 ("processing") -> C
    consume(settings, "vm")
    assert statuses(vm, order_id) == ("C", ["C", "C"])
    assert histories(vm, order_id)[-1][:2] == ("C", 0)
    assert stock(vm, can) == (10, 2, 0)                     # C reserves, as the checkout did
    assert inbox.messages == []                             # imported_status_mail is off

    ship_in_cao(erp, "Ihre Ware ist unterwegs.")            # SHOP_STATUS 3, DHL, TRACKING
    report = produce(settings)
    consume(settings, "vm")

    assert report.published["order.status_changed"] == 1
    assert statuses(vm, order_id) == ("S", ["S", "S"])
    code, notified, comment = histories(vm, order_id)[-1]
    assert (code, notified) == ("S", 1)
    assert comment.split("<br />\n")[:2] == ["Ihre Ware ist unterwegs.", f"DHL: {TRACKING}"]
    assert f"piececode={TRACKING}" in comment
    assert stock(vm, can) == (10, 0, 2) and stock(vm, book) == (4, 0, 1)   # CAO books it
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail.rcpt_tos == ["erika@example.de"]
    body = mail.content.decode("utf-8", "replace")
    assert TRACKING in body and "piececode=" in body and "Versandt" in body

    again = produce(settings)                               # nothing changed in CAO
    consume(settings, "vm")
    assert again.published["order.status_changed"] == 0
    assert len(inbox.messages) == 1 and len(histories(vm, order_id)) == 4
    assert stock(vm, can) == (10, 0, 2)


# (old state, CAO status id -> new state, then the moves of in_stock, ordered and sales) for
# an order of 2: handleStockAfterStatusChangedPerProduct by stock handle.
TRANSITIONS = [
    ("C", 3, "S", -2, -2, 2),      # R -> O: shipped, out of stock and reservation
    ("C", 4, "X", 0, -2, 0),       # R -> A: cancelled, the reservation released
    ("P", 2, "C", 0, 0, 0),        # R -> R: nothing moves
    ("S", 2, "C", 2, 2, -2),       # O -> R: back in stock, reserved again
    ("S", 4, "X", 2, 0, -2),       # O -> A: back in stock
    ("X", 2, "C", 0, 2, 0),        # A -> R: reserved again
    ("X", 3, "S", -2, 0, 2),       # A -> O: out of stock
    ("X", 5, "R", 0, 0, 0),        # A -> A: nothing moves
]


@pytest.mark.parametrize("orders_reach_erp", [False, True])
@pytest.mark.parametrize(("old", "status_id", "new", "in_stock", "ordered", "sales"),
                         TRANSITIONS, ids=[f"{t[0]}-{t[2]}" for t in TRANSITIONS])
def test_stock_moves_as_virtuemarts_status_change(vm, make_applier, monkeypatch,
                                                  orders_reach_erp, old, status_id, new,
                                                  in_stock, ordered, sales):
    """Every move of VirtueMart's, ``product_in_stock`` only where the ERP's stock lacks
    open orders (``orders_reach_erp``): otherwise the ERP's booking brings the outflow."""
    monkeypatch.setattr(VmProductStore, "orders_reach_erp", orders_reach_erp)
    applier = make_applier(order_states={"1": "P", "2": "C", "3": "S", "4": "X", "5": "R"})
    product = add_product(vm, "S-1", in_stock=10)
    order_id = place(vm, (product, 2), status=old)
    before = stock(vm, product)

    assert applier.apply([status(order_id, status_id)]).applied == 1

    assert statuses(vm, order_id) == (new, [new])
    assert stock(vm, product) == (before[0] + (in_stock if orders_reach_erp else 0),
                                  before[1] + ordered, before[2] + sales)
    assert histories(vm, order_id)[-1][:2] == (new, 0)


def test_a_variant_line_moves_the_childs_stock_or_its_parents_when_shared(vm, make_applier):
    applier = make_applier()
    parent = add_product(vm, "S-1", in_stock=50)
    child = add_product(vm, "S-1-BL", in_stock=10, parent_id=parent)
    shared = add_product(vm, "S-1-RT", in_stock=0, parent_id=parent,
                         params="shared_stock=1|")
    order_id = place(vm, (child, 2), (shared, 1))
    vm.execute(f"UPDATE {P}products SET product_ordered = 1 WHERE virtuemart_product_id = %s",
               (parent,))     # VirtueMart reserved the shared child's quantity on its parent
    vm.execute(f"UPDATE {P}products SET product_ordered = 0 WHERE virtuemart_product_id = %s",
               (shared,))

    applier.apply([status(order_id, 3)])

    assert stock(vm, child) == (10, 0, 2)
    assert stock(vm, parent) == (50, 0, 1)
    assert stock(vm, shared) == (0, 0, 0)


def test_the_same_status_twice_writes_one_row_and_moves_stock_once_and_older_is_ignored(
        vm, make_applier):
    applier = make_applier()
    product = add_product(vm, "S-1", in_stock=10)
    order_id = place(vm, (product, 2))

    applier.apply([status(order_id, 3, v=5)])
    applier.apply([status(order_id, 3, v=5)])               # redelivered
    applier.apply([status(order_id, 3, v=6)])               # newer, the same content
    applier.apply([status(order_id, 2, v=4)])               # older: ignored

    assert len(histories(vm, order_id)) == 3                # the checkout's P, C and one S
    assert statuses(vm, order_id) == ("S", ["S"])
    assert stock(vm, product) == (10, 0, 2)


def test_an_unmapped_status_or_a_code_the_shop_lacks_is_refused_naming_the_order(
        vm, make_applier):
    product = add_product(vm, "S-1", in_stock=10)
    order_id = place(vm, (product, 2))

    with pytest.raises(MappingError, match=rf"payload\.status_id.*status 9 of order "
                                           rf"{order_id}.*order_states"):
        make_applier().apply([status(order_id, 9)])
    with pytest.raises(MappingError, match=r"payload\.status_id.*'Z'.*orderstates"):
        make_applier(order_states={"3": "Z"}).apply([status(order_id, 3)])
    with pytest.raises(MappingError, match=r"payload\.order_id.*order 987654"):
        make_applier().apply([status(987654, 3)])

    assert statuses(vm, order_id) == ("C", ["C"]) and len(histories(vm, order_id)) == 2
    assert stock(vm, product) == (10, 2, 0)


def test_the_mail_is_in_the_orders_language_with_the_shops_own_status_name(
        vm, make_applier, smtp):
    inbox, port, _ = smtp
    vm.execute(f"INSERT INTO {P}orderstates (order_status_code, order_status_name, "
               f"order_stock_handle, virtuemart_vendor_id) VALUES ('K', 'Beim Kurier', 'O', 1)")
    applier = make_applier(port, order_states={"3": "S", "7": "K"})
    english = place(vm, email="jane@example.org", first_name="Jane", language="en-GB")
    german = place(vm)
    order_number = vm.scalar(f"SELECT order_number FROM {P}orders "
                             f"WHERE virtuemart_order_id = %s", (german,))

    applier.apply([status(english, 3), status(german, 7)])

    assert len(inbox.messages) == 2
    by_recipient = {m.rcpt_tos[0]: m.content.decode("utf-8", "replace") for m in inbox.messages}
    assert "Subject: Your order" in by_recipient["jane@example.org"]
    assert '"Shipped"' in by_recipient["jane@example.org"]
    assert f"Ihre Bestellung {order_number}" in by_recipient["erika@example.de"]
    assert "Beim Kurier" in by_recipient["erika@example.de"]
    assert histories(vm, english)[-1][1] == 1 and histories(vm, german)[-1][1] == 1


class Refusing:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        return "550 5.1.1 mailbox unavailable"


def test_notified_stays_0_when_the_smtp_server_refuses_the_mail(vm, make_applier):
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        applier = make_applier(port)
        order_id = place(vm)
        applier.apply([status(order_id, 3)])
    finally:
        controller.stop()

    assert histories(vm, order_id)[-1][:2] == ("S", 0)
    state, attempts, error = vm.rows("SELECT state, attempts, last_error "
                                     "FROM shopbridge_mail_outbox")[0]
    assert state == "pending" and attempts == 1 and "550" in error


def test_without_notify_no_mail_is_queued(vm, make_applier, smtp):
    inbox, port, _ = smtp
    applier = make_applier(port)
    order_id = place(vm)

    applier.apply([status(order_id, 3, notify=False, tracking=None, comment=None)])

    assert inbox.messages == []
    assert histories(vm, order_id)[-1] == ("S", 0, None)


def test_confirmed_marks_the_order_paid_as_virtuemart_does(vm, make_applier):
    """calculatePaidByOS: a status in os_trigger_paid (default C) with nothing paid."""
    applier = make_applier()
    order_id = place(vm, (add_product(vm, "S-1", in_stock=5), 2), status="P")

    applier.apply([status(order_id, 2)])

    paid, paid_on, total = vm.rows(f"SELECT paid, paid_on, order_total FROM {P}orders "
                                   f"WHERE virtuemart_order_id = %s", (order_id,))[0]
    assert paid == total and paid_on is not None


def stock_event(n: int, quantity: str, v: int) -> ev.Event:
    return traps.event("stock.changed", str(n), v, {"erp_id": n, "sku": f"S-{n}",
                                                    "stock": quantity, "variants": []})


def available(vm: Database, product_id: int) -> int:
    in_stock, ordered, _ = stock(vm, product_id)
    return in_stock - ordered


@pytest.mark.parametrize("booking_first", [True, False])
def test_a_shipment_and_a_cancellation_count_once_with_the_catalogues_stock(
        vm, make_applier, booking_first):
    """CAO (``orders_reach_erp`` False): its stock lacks an order once the CAO user books
    it; in_stock = ERP stock, the status writer moves only ``product_ordered``. Whichever of
    the booking's stock.changed and the status comes first, the shipment counts once."""
    applier = make_applier(order_states={"3": "S", "4": "X"})
    applier.apply([traps.category(1, "Garten"), traps.product(1, stock="10")])
    product = traps.pid(vm, 1)
    shipped = place(vm, (product, 2))
    cancelled = place(vm, (product, 3))
    assert available(vm, product) == 5                  # 10 in the ERP, 5 reserved

    if booking_first:                                   # the stock scan is the faster one
        applier.apply([stock_event(1, "8.000", 2)])
        assert available(vm, product) == 3              # too low, until the status
        applier.apply([status(shipped, 3)])
    else:
        applier.apply([status(shipped, 3)])
        assert available(vm, product) == 7              # as the ERP: not booked yet
        applier.apply([stock_event(1, "8.000", 2)])
    assert stock(vm, product) == (8, 3, 2) and available(vm, product) == 5

    applier.apply([status(cancelled, 4)])               # cancelled in CAO, never booked
    assert stock(vm, product) == (8, 0, 2) and available(vm, product) == 8
    applier.apply([stock_event(1, "8.000", 3)])         # a later resync changes nothing
    assert stock(vm, product) == (8, 0, 2)


def test_where_the_erps_stock_lacks_open_orders_every_move_is_virtuemarts(
        vm, make_applier, monkeypatch):
    """``orders_reach_erp`` True: in_stock = ERP stock + ordered, the status writer moves
    in_stock too, and the next stock.changed writes what is already there."""
    monkeypatch.setattr(VmProductStore, "orders_reach_erp", True)
    applier = make_applier(order_states={"3": "S", "4": "X"})
    applier.apply([traps.category(1, "Garten"), traps.product(1, stock="10")])
    product = traps.pid(vm, 1)
    shipped = place(vm, (product, 2))
    cancelled = place(vm, (product, 3))
    applier.apply([stock_event(1, "5.000", 2)])          # the ERP reserved both orders
    assert stock(vm, product) == (10, 5, 0) and available(vm, product) == 5

    applier.apply([status(shipped, 3)])
    assert stock(vm, product) == (8, 3, 2) and available(vm, product) == 5
    applier.apply([stock_event(1, "5.000", 3)])          # shipping left the ERP's stock
    assert stock(vm, product) == (8, 3, 2)

    applier.apply([status(cancelled, 4)])
    assert stock(vm, product) == (8, 0, 2) and available(vm, product) == 8
    applier.apply([stock_event(1, "8.000", 4)])          # the ERP took the 3 back
    assert stock(vm, product) == (8, 0, 2)


def test_an_item_in_a_state_the_shop_does_not_know_gets_the_status_but_moves_no_stock(
        vm, make_applier):
    """handleStockAfterStatusChangedPerProduct: "the workflow ... is unknown", no move."""
    applier = make_applier()
    product = add_product(vm, "S-1", in_stock=10)
    order_id = place(vm, (product, 2))
    vm.execute(f"UPDATE {P}order_items SET order_status = 'Q' WHERE virtuemart_order_id = %s",
               (order_id,))

    applier.apply([status(order_id, 3)])

    assert statuses(vm, order_id) == ("S", ["S"])
    assert stock(vm, product) == (10, 2, 0)
