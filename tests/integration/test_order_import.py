"""Shop orders into CAO-Faktura (real DDL): once, complete, with customers found or created."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from consumers.cao import CaoOrderApplier
from consumers.runner import ShopConsumer
from shopbridge import brokers, dlq, topology
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge.publisher import OutMessage
from tests.conftest import add_cao_articles, broker_entry, config_data, shop_entry

ORDERS = {"payment_methods": {"Cash on Delivery": 3, "Vorkasse": 1},
          "shipping_methods": {"Flat Rate": 2}, "countries": {"DE": "D"}}


def settings(namespace: str, cao_db: Any, **orders: Any) -> cfg.Settings:
    entry = shop_entry("web", cao_db, orders={**copy.deepcopy(ORDERS), **orders})
    return cfg.parse(config_data(namespace, cao_db, [entry]), source="test")


def address(name: str = "Anna Müller", street: str = "Hauptstraße 1", **more: Any) -> dict:
    return {"name": name, "company": None, "street": street, "suburb": None,
            "postcode": "10115", "city": "Berlin", "state": None, "country": "Deutschland",
            "country_iso2": "DE", **more}


def order(order_id: int = 17, *, email: str = "anna@example.org", guest: bool = False,
          customer_id: int | None = 5, payment: str = "Cash on Delivery", **changes: Any
          ) -> ev.Event:
    payload: dict[str, Any] = {
        "shop": "web", "order_id": order_id, "placed_at": "2026-11-20T14:03:00",
        "currency": "EUR", "currency_value": "1.000000", "prices_include_tax": False,
        "status_id": 1, "language": "de",
        "customer": {"shop_customer_id": None if guest else customer_id, "email": email,
                     "telephone": "030 1234", "guest": guest},
        "addresses": {"customer": address(), "billing": address(), "delivery": address()},
        "payment_method": payment, "shipping_method": "Flat Rate",
        "items": [
            {"line": 1, "shop_product_id": 7, "erp_id": 1, "sku": "A-000001",
             "name": "Gießkanne", "quantity": 2, "price_net": "10.0000",
             "final_price_net": "12.5000", "tax_rate": "19.0000",
             "attributes": [{"option": "Farbe", "value": "Blau", "price_net": "2.5000",
                             "prefix": "+"}]},
            {"line": 2, "shop_product_id": 8, "erp_id": 2, "sku": "A-000002",
             "name": "Buch", "quantity": 1, "price_net": "20.0000",
             "final_price_net": "20.0000", "tax_rate": "7.0000", "attributes": []},
        ],
        "totals": [
            {"class": "ot_subtotal", "title": "Zwischensumme:", "value": "45.0000",
             "sort_order": 1},
            {"class": "ot_shipping", "title": "Flat Rate:", "value": "5.0000", "sort_order": 2},
            {"class": "ot_tax", "title": "MwSt:", "value": "7.1000", "sort_order": 3},
            {"class": "ot_total", "title": "Summe:", "value": "57.1000", "sort_order": 4},
        ],
        "comment": "Bitte klingeln – Hinterhaus",
    }
    payload.update(changes)
    raw = ev.make_event("order.placed", tenant="acme", source="oscommerce:web",
                        entity_key=f"web:{order_id}", version=1, payload=payload)
    return ev.parse(raw)


@pytest.fixture(autouse=True)
def articles(erp: Any) -> None:
    """The CAO articles the orders of this module book."""
    add_cao_articles(erp)


def publish_confirmed(namespace: str, body: bytes) -> None:
    """With confirms: a fire-and-forget publish right before closing can be lost. On the
    test's broker kind (``broker_kind``; RabbitMQ where the test does not ask)."""
    entry = broker_entry()
    broker = cfg.BrokerConfig(url=entry["url"], namespace=namespace, kind=entry["kind"])
    with brokers.publishing(broker) as publisher:
        publisher.publish([OutMessage(exchange=namespace, routing_key="acme.order.placed",
                                      body=body)])


def applier_for(s: cfg.Settings, cao_db: Any) -> CaoOrderApplier:
    applier = CaoOrderApplier(tenant=s.tenants[0], engine=cao_db.engine)
    applier.prepare()
    return applier


def test_an_order_is_imported_once_with_positions_and_totals_per_vat_code(erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)

    first = applier.apply([order()])
    again = applier.apply([order()])                       # redelivery

    assert (first.applied, again.applied, again.skipped) == (1, 0, 1)
    journal = erp.rows("SELECT REC_ID, QUELLE, VRENUM, SHOP_ID, SHOP_ORDERID, ORGNUM, KUN_NAME1, "
                       "INFO, ZAHLART, LIEFART, NSUMME_1, NSUMME_2, MSUMME_1, MSUMME_2, NSUMME, "
                       "MSUMME, BSUMME, TKOST, WARE, ADDR_ID FROM journal")
    assert len(journal) == 1
    (rec_id, quelle, vrenum, shop_id, shop_order, orgnum, name, info, zahlart, liefart,
     n1, n2, m1, m2, net, vat, gross, tkost, ware, addr_id) = journal[0]
    assert (quelle, vrenum, shop_id, shop_order, orgnum) == (13, "RE-001001", 1, 17, "17")
    assert (name, info, zahlart, liefart) == ("Anna Müller", "Bitte klingeln – Hinterhaus", 3, 2)
    positions = erp.rows("SELECT POSITION, ARTIKEL_ID, ARTIKELTYP, BEZEICHNUNG, MENGE, EPREIS, "
                         "GPREIS, STEUER_CODE FROM journalpos WHERE JOURNAL_ID = %s "
                         "ORDER BY POSITION", (rec_id,))
    assert [p[1] for p in positions] == [1, 2, -1]
    assert positions[0][3] == "Gießkanne\nFarbe: Blau"
    assert positions[2][2:4] == ("F", "Flat Rate")
    for code, (n, m) in {1: (n1, m1), 2: (n2, m2)}.items():
        assert n == sum(p[6] for p in positions if p[7] == code)
        assert m == (n * (7 if code == 1 else 19) / Decimal(100)).quantize(Decimal("0.01"))
    assert (net, vat, gross) == (n1 + n2, m1 + m2, n1 + n2 + m1 + m2)
    assert (tkost, ware, gross) == (Decimal("5.00"), Decimal("45.00"), Decimal("57.10"))
    assert erp.scalar("SELECT notes FROM shopbridge_order_import") is None   # totals agree
    assert erp.scalar("SELECT KUNNUM1 FROM adressen WHERE REC_ID = %s", (addr_id,)) == "50001"
    assert erp.scalar("SELECT COUNT(*) FROM adressen_asp WHERE ADDR_ID = %s", (addr_id,)) == 1


class Crash(BaseException):
    """Escapes every handler, as a killed process leaves the database."""


def test_an_import_cut_off_between_header_and_positions_is_completed_not_duplicated(
        erp, namespace, monkeypatch):
    applier = applier_for(settings(namespace, erp), erp)
    real = CaoOrderApplier._write_positions

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(CaoOrderApplier, "_write_positions", crash)
    with pytest.raises(Crash):
        applier.apply([order()])
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 1
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 0
    monkeypatch.setattr(CaoOrderApplier, "_write_positions", real)

    result = applier.apply([order()])

    assert result.applied == 1
    assert erp.rows("SELECT VRENUM FROM journal") == [("RE-001001",)]   # same number, once
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 3
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 1
    assert erp.scalar("SELECT state FROM shopbridge_order_import") == "complete"


def test_two_guest_orders_with_one_email_make_one_address(erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)
    applier.apply([order(17, email="gast@example.org", guest=True)])
    moved = address(street="Neue Straße 9")
    applier.apply([order(18, email="GAST@example.org", guest=True,
                         addresses={"customer": moved, "billing": moved, "delivery": moved})])

    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 1
    assert erp.scalar("SELECT STRASSE FROM adressen") == "Neue Straße 9"    # updated, same row
    assert erp.scalar("SELECT COUNT(DISTINCT ADDR_ID) FROM journal") == 1
    assert erp.scalar("SELECT COUNT(*) FROM adressen_asp") == 0             # guests: no contact


def test_a_registered_customer_is_found_by_shop_id_and_a_new_delivery_address_is_kept(
        erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)
    applier.apply([order(17, email="old@example.org")])
    elsewhere = address(name="Anna Müller", street="Lieferweg 3")
    applier.apply([order(18, email="new@example.org",
                         addresses={"customer": address(), "billing": address(),
                                    "delivery": elsewhere})])

    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 1
    assert erp.scalar("SELECT EMAIL FROM adressen") == "new@example.org"
    lief = erp.rows("SELECT REC_ID, STRASSE FROM adressen_lief")
    assert [r[1] for r in lief] == ["Lieferweg 3"]
    assert erp.scalar("SELECT LIEF_ADDR_ID FROM journal WHERE SHOP_ORDERID = 18") == lief[0][0]


def test_emoji_and_overlong_text_are_fitted_and_recorded_never_failing_the_order(erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)
    long_name = "Maximiliane Alexandra Kunigunde von und zu Schwanstein-Hohenberg 🦄"
    odd = address(name=long_name, street="Łódź-Straße 🏠 12")

    result = applier.apply([order(addresses={"customer": odd, "billing": odd,
                                             "delivery": odd})])

    assert result.applied == 1
    name, street = erp.rows("SELECT KUN_NAME1, KUN_STRASSE FROM journal")[0]
    assert len(name) <= 40 and name.startswith("Maximiliane Alexandra")
    assert street == "Lódz-Straße  12"          # ó fits latin1; Ł and ź do not
    notes = erp.scalar("SELECT notes FROM shopbridge_order_import")
    assert "billing name" in notes and "billing street" in notes


def test_an_unknown_sku_becomes_a_flagged_free_text_position_where_the_shop_wants_that(
        erp, namespace):
    applier = applier_for(settings(namespace, erp, unknown_articles="free_text"), erp)
    item = {"line": 1, "shop_product_id": 99, "erp_id": None, "sku": "SHOP-ONLY",
            "name": "Gutschein", "quantity": 1, "price_net": "10.0000",
            "final_price_net": "10.0000", "tax_rate": "19.0000", "attributes": []}

    applier.apply([order(items=[item])])

    assert erp.rows("SELECT ARTIKEL_ID, ARTIKELTYP, ARTNUM FROM journalpos "
                    "WHERE POSITION = 1") == [(-1, "F", "SHOP-ONLY")]
    assert "SKU SHOP-ONLY" in erp.scalar("SELECT notes FROM shopbridge_order_import")


def test_an_order_already_in_cao_is_left_alone(erp, namespace):
    erp.execute("INSERT INTO journal (QUELLE, VRENUM, RDATUM, SHOP_ID, SHOP_ORDERID) "
                "VALUES (13, 'CAO-1', NOW(), 1, 17)")
    applier = applier_for(settings(namespace, erp), erp)

    result = applier.apply([order(17)])

    assert (result.applied, result.skipped) == (0, 1)
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 1


def test_an_unmapped_payment_method_is_dead_lettered_and_replayed_once_after_the_fix(
        broker_kind, erp, namespace):
    bad = settings(namespace, erp, payment_methods={"Vorkasse": 1})
    target = topology.Target.for_erp("acme")

    def run(s: cfg.Settings) -> Any:
        applier = CaoOrderApplier(tenant=s.tenants[0], engine=erp.engine)
        return ShopConsumer(broker=s.broker, target=target, applier=applier).run(idle_exit_s=0.6)

    run(bad)                                                   # declares the ERP queues
    publish_confirmed(namespace, ev.encode([order().raw]))
    assert run(bad).dead == 1
    letters = dlq.list_dead(bad.broker, target)
    assert "payment method 'Cash on Delivery'" in letters[0].error
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 0     # nothing half-written

    fixed = settings(namespace, erp)
    assert dlq.replay(fixed.broker, target).moved == 1
    assert run(fixed).applied == 1
    publish_confirmed(namespace, ev.encode([order().raw]))     # and once more: a duplicate
    run(fixed)
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 1


def test_a_phoenix_order_reaches_cao_once_through_the_orders_import_command(
        broker_kind, erp, phoenix_db, namespace, tmp_path, capsys):
    """Shop -> queue -> CAO end to end with the real command: an order with two items (one
    with an attribute), shipping and a customer comment; a second run changes nothing."""
    from shopbridge import cli
    from tests.helpers import to_toml
    from tests.integration.test_order_producer import Item, Order, add_order

    # Not linked (no catalogue sync ran): CAO's articles are found by their SKUs.
    items = (Item(7, "Gießkanne", Decimal("10.0000"), Decimal("12.5000"), quantity=2,
                  model="A-000001", attributes=(("Farbe", "Blau", Decimal("2.5000"), "+"),)),
             Item(8, "Buch", Decimal("20.0000"), Decimal("20.0000"), tax=Decimal("7.0000"),
                  model="A-000002"))
    totals = (("ot_subtotal", "Zwischensumme:", Decimal("45.0000"), 1),
              ("ot_shipping", "Flat Rate:", Decimal("5.0000"), 2),
              ("ot_total", "Summe:", Decimal("57.1000"), 4))
    orders_id = add_order(phoenix_db, Order(items=items, totals=totals),
                          comment="Bitte klingeln")
    data = config_data(namespace, erp, [shop_entry("web", phoenix_db, orders=ORDERS)])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    assert cli.main(["-c", str(path), "orders", "count", "--shop", "web"]) == cli.EXIT_OK
    assert "1 new order(s)" in capsys.readouterr().out
    assert cli.main(["-c", str(path), "orders", "import", "--shop", "web"]) == cli.EXIT_OK
    assert "1 order(s)/account(s) imported" in capsys.readouterr().out
    assert cli.main(["-c", str(path), "orders", "import", "--shop", "web"]) == cli.EXIT_OK

    journal = erp.rows("SELECT REC_ID, SHOP_ORDERID, INFO, BSUMME FROM journal")
    assert [(r[1], r[2], r[3]) for r in journal] == [(orders_id, "Bitte klingeln",
                                                      Decimal("57.10"))]
    texts = [r[0] for r in erp.rows("SELECT BEZEICHNUNG FROM journalpos WHERE JOURNAL_ID = %s "
                                    "ORDER BY POSITION", (journal[0][0],))]
    assert texts == ["Gießkanne\nFarbe: Blau", "Buch", "Flat Rate"]


def test_a_registered_customer_with_a_one_word_name_gets_a_contact_person(erp, namespace):
    """ADRESSEN_ASP.VORNAME is NOT NULL in CAO: an empty first name, not NULL."""
    applier = applier_for(settings(namespace, erp), erp)
    single = address(name="Madonna")

    result = applier.apply([order(addresses={"customer": single, "billing": single,
                                             "delivery": single})])

    assert result.applied == 1
    assert erp.rows("SELECT NAME, VORNAME FROM adressen_asp") == [("Madonna", "")]


def test_a_registered_customer_who_moved_updates_the_same_address(erp, namespace):
    applier = applier_for(settings(namespace, erp), erp)
    applier.apply([order(17)])
    moved = address(street="Umzugsweg 8", postcode="80331", city="München")

    applier.apply([order(18, addresses={"customer": moved, "billing": moved, "delivery": moved})])

    assert erp.rows("SELECT STRASSE, PLZ, ORT FROM adressen") == [
        ("Umzugsweg 8", "80331", "München")]
    assert erp.scalar("SELECT COUNT(DISTINCT ADDR_ID) FROM journal") == 1
    assert erp.rows("SELECT KUN_STRASSE FROM journal ORDER BY SHOP_ORDERID") == [
        ("Hauptstraße 1",), ("Umzugsweg 8",)]       # each document keeps its own snapshot


@pytest.mark.parametrize(("name2", "contact", "kept"), [
    ("z. Hd. Frau Dr. Petra Schmidt", None, True),      # the same person, CAO's way
    (None, ("Petra", "Schmidt"), True),                 # the person is a contact only
    ("z. Hd. Herrn Hans Meier", None, False),           # someone else: the order says who
], ids=["attention-line", "contact-person", "other-person"])
def test_an_order_leaves_a_company_addresss_name_lines_alone_when_they_name_its_person(
        erp, namespace, name2, contact, kept):
    """K1 names the shop account after the company's person (systems/cao/names.py); the
    order's billing address then names that person plainly, which must not overwrite the
    merchant's salutation, title and attention line in CAO."""
    erp.execute("INSERT INTO adressen (REC_ID, ANREDE, NAME1, NAME2, STRASSE, EMAIL, SHOP_ID, "
                "SHOP_KUNDE_ID, SHOP_KUNDE, KUNNUM1) VALUES (40, 'Firma', 'Muster GmbH', %s, "
                "'Alte Straße 1', 'petra@muster.de', 1, 5, 'Y', '40000')", (name2,))
    if contact:
        erp.execute("INSERT INTO adressen_asp (ADDR_ID, VORNAME, NAME, EMAIL) "
                    "VALUES (40, %s, %s, 'petra@muster.de')", contact)
    billing = address(name="Petra Schmidt", company="Muster GmbH", street="Neue Straße 2")
    applier = applier_for(settings(namespace, erp), erp)

    applier.apply([order(email="petra@muster.de", addresses={
        "customer": billing, "billing": billing, "delivery": billing})])

    row = erp.rows("SELECT ANREDE, NAME1, NAME2, STRASSE FROM adressen WHERE REC_ID = 40")[0]
    expected = ("Firma", "Muster GmbH", name2 if kept else "Petra Schmidt", "Neue Straße 2")
    assert row == expected
