"""Issue 12 O1-O3: VirtueMart orders into CAO-Faktura, once each and to the cent.

Real MariaDB (a VirtueMart 4.4 shop from the upstream SQL, CAO's DDL) and RabbitMQ. The orders
are written by ``tests/vm_checkout.py`` as VirtueMart's checkout writes them; the ERP document
must carry the shop's gross total and VAT per rate (order_billTax) exactly.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from consumers.binder import TABLE as LINK_TABLE
from consumers.cao import CaoOrderApplier
from shopbridge import cli
from shopbridge import config as cfg
from shopbridge.owntables import ensure
from tests.conftest import add_cao_articles, config_data
from tests.helpers import to_toml
from tests.virtuemart_db import PREFIX, shop_entry
from tests.vm_checkout import (
    AUSTRIA,
    Address,
    Method,
    VmLine,
    VmOrder,
    add_method,
    place_vm_order,
    set_vm_status,
)

ORDERS = {"payment_methods": {"Vorkasse": 1, "Nachnahme": 3},
          "shipping_methods": {"DHL Paket": 2}, "countries": {"DE": "D", "AT": "AT"}}
RATE_CODE = {Decimal(0): 0, Decimal(7): 1, Decimal(19): 2}
# VirtueMart product id -> (entity type, CAO REC_ID), as the catalogue consumer links them.
LINKS = {101: ("product", 1), 102: ("product", 2), 110: ("product", 10),
         111: ("vm_variant", 11), 112: ("vm_variant", 12)}
WATERING_CAN = VmLine(101, "A-000001", "Gießkanne", Decimal("12.50"), Decimal(19), 2)
BOOK = VmLine(102, "A-000002", "Buch", Decimal("19.90"), Decimal(7), 1)
SHIRT_BLUE_XL = VmLine(111, "TS-100-BLAU-XL", "T-Shirt Blau XL", Decimal("16.80"),
                       Decimal(19), 1, attributes={"7": {"23": ""}})


@pytest.fixture
def shop(vm: Any, erp: Any) -> Any:
    """The VirtueMart shop with its methods, products linked to CAO articles, and CAO with
    those articles."""
    add_cao_articles(erp)
    erp.execute("INSERT INTO artikel (REC_ID, ARTNUM, KURZNAME) VALUES (%s, %s, %s)",
                [(10, "TS-100", "T-Shirt"), (11, "TS-100-BLAU-XL", "T-Shirt Blau XL"),
                 (12, "TS-100-ROT-XL", "T-Shirt Rot XL")])
    add_method(vm, "shipment", 1, {"de-DE": "DHL Paket", "en-GB": "DHL parcel"})
    add_method(vm, "payment", 1, {"de-DE": "Vorkasse", "en-GB": "Prepayment"})
    add_method(vm, "payment", 2, {"de-DE": "Nachnahme", "en-GB": "Cash on delivery"})
    vm.execute(f"INSERT INTO {PREFIX}virtuemart_products (virtuemart_product_id, "
               "product_parent_id, product_sku, product_in_stock, published) "
               "VALUES (%s, %s, %s, 10, 1)",
               [(101, 0, "A-000001"), (102, 0, "A-000002"), (110, 0, "TS-100"),
                (111, 110, "TS-100-BLAU-XL"), (112, 110, "TS-100-ROT-XL")])
    with vm.engine.begin() as conn:
        ensure(conn, LINK_TABLE)
        conn.exec_driver_sql(
            "INSERT INTO shopbridge_link (entity_type, entity_key, target_id) "
            "VALUES (%s, %s, %s)", [(t, str(e), p) for p, (t, e) in LINKS.items()])
    return vm


def write_config(tmp_path: Path, namespace: str, erp: Any, vm: Any, **orders: Any) -> Path:
    entry = shop_entry("vm", vm, orders={**ORDERS, **orders})
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, erp, [entry])))
    return path


def run(path: Path, *args: str) -> int:
    return cli.main(["-c", str(path), "orders", *args, "--shop", "vm"])


def document(erp: Any, order: VmOrder) -> dict[str, Any]:
    header = erp.rows(
        "SELECT REC_ID, ORGNUM, INFO, ZAHLART, LIEFART, BSUMME, MSUMME, BRUTTO_FLAG, "
        "MSUMME_0, MSUMME_1, MSUMME_2, BSUMME_0, BSUMME_1, BSUMME_2, ADDR_ID, KUN_LAND, "
        "SHOP_STATUS FROM journal WHERE SHOP_ORDERID = %s", (order.id,))
    assert len(header) == 1, f"order {order.id}: {len(header)} documents"
    (rec_id, orgnum, info, zahlart, liefart, gross, vat, brutto, m0, m1, m2, b0, b1, b2,
     addr_id, land, status) = header[0]
    positions = erp.rows("SELECT ARTIKEL_ID, BEZEICHNUNG, MENGE, EPREIS, GPREIS, STEUER_CODE "
                         "FROM journalpos WHERE JOURNAL_ID = %s ORDER BY POSITION", (rec_id,))
    return {"orgnum": orgnum, "info": info, "zahlart": zahlart, "liefart": liefart,
            "gross": gross, "vat": vat, "brutto": brutto, "vat_by_code": {0: m0, 1: m1, 2: m2},
            "gross_by_code": {0: b0, 1: b1, 2: b2}, "addr_id": addr_id, "land": land,
            "status": status, "positions": positions}


def assert_as_charged(doc: dict[str, Any], order: VmOrder) -> None:
    """Gross total, VAT in all and VAT per rate: the shop's figures to the cent."""
    cent = Decimal("0.01")
    assert doc["gross"] == order.total.quantize(cent)
    assert doc["vat"] == order.tax.quantize(cent)
    expected = {code: Decimal("0.00") for code in (0, 1, 2)}
    for rate, amount in order.vat_by_rate.items():
        expected[RATE_CODE[rate]] += amount.quantize(cent)
    assert doc["vat_by_code"] == expected
    assert sum(p[4] for p in doc["positions"]) == doc["gross"]       # positions add up


def test_a_guest_and_a_registered_order_reach_cao_once_each_as_the_shop_charged(
        shop, erp, namespace, tmp_path, capsys):
    """Both kinds of checkout, each with shipment (default VAT: the biggest group's) and
    payment (its own tax rule) costs, a coupon over two VAT rates, a comment and (the
    registered one) a different delivery address; re-running and a forced re-send (the
    producer's record lost) change nothing."""
    guest = place_vm_order(shop, items=[WATERING_CAN, BOOK], guest=True,
                           email="gast@example.org", shipment=Method(1, Decimal("4.90")),
                           payment=Method(2, Decimal("2.00"), Decimal(19)),
                           coupon=("SOMMER5", Decimal("5.00")), comment="Bitte klingeln")
    registered = place_vm_order(
        shop, items=[BOOK, WATERING_CAN], guest=False, user_id=42, email="bert@example.org",
        billing=Address(first_name="Bert", last_name="Berger", company="Berger GmbH"),
        shipping_address=Address(first_name="Bert", last_name="Berger", address_1="Lager 3",
                                 zip="1010", city="Wien", country_id=AUSTRIA),
        shipment=Method(1, Decimal("4.90")), payment=Method(1), status="U")
    path = write_config(tmp_path, namespace, erp, shop)

    assert run(path, "count") == cli.EXIT_OK
    assert "2 new order(s)" in capsys.readouterr().out
    assert run(path, "import") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "sent 0 new account(s) and 2 order(s)" in out
    assert "2 order(s)/account(s) imported" in out
    assert run(path, "import") == cli.EXIT_OK                         # nothing new
    shop.execute("DELETE FROM shopbridge_order_out")                  # forced re-send
    assert run(path, "import") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "2 order(s) to the ERP queue" in out and "2 already there" in out

    assert erp.scalar("SELECT COUNT(*) FROM journal") == 2
    first, second = document(erp, guest), document(erp, registered)
    assert_as_charged(first, guest)
    assert_as_charged(second, registered)
    assert (first["orgnum"], second["orgnum"]) == (guest.number, registered.number)
    assert (first["info"], second["info"]) == ("Bitte klingeln", None)
    assert (first["zahlart"], first["liefart"], second["zahlart"]) == (3, 2, 1)
    assert first["brutto"] == "Y"
    assert [p[:3] for p in first["positions"]] == [
        (1, "Gießkanne", Decimal(2)), (2, "Buch", Decimal(1)), (-1, "DHL Paket", Decimal(1)),
        (-1, "Nachnahme", Decimal(1)), (-1, "Gutschein SOMMER5 (7 % MwSt.)", Decimal(1)),
        (-1, "Gutschein SOMMER5 (19 % MwSt.)", Decimal(1))]
    # 12.50 net at 19 % is 14.88 gross (VirtueMart rounds the unit's gross), twice.
    assert first["positions"][0][3:] == (Decimal("14.88"), Decimal("29.76"), 2)
    assert first["status"] == 2                                      # imported_status (O2)
    guest_addr = erp.rows("SELECT NAME1, EMAIL FROM adressen WHERE REC_ID = %s",
                          (first["addr_id"],))
    company = erp.rows("SELECT NAME1, SHOP_KUNDE_ID FROM adressen WHERE REC_ID = %s",
                       (second["addr_id"],))
    assert guest_addr == [("Anna Müller", "gast@example.org")]
    assert company == [("Berger GmbH", 42)]
    assert erp.rows("SELECT ORT, LAND FROM adressen_lief") == [("Wien", "AT")]


def test_a_variant_line_books_the_childs_own_article(shop, erp, namespace, tmp_path):
    order = place_vm_order(shop, items=[SHIRT_BLUE_XL, WATERING_CAN],
                           payment=Method(1), shipment=Method(1, Decimal("4.90")))
    path = write_config(tmp_path, namespace, erp, shop)

    assert run(path, "import") == cli.EXIT_OK

    doc = document(erp, order)
    assert [p[:2] for p in doc["positions"][:2]] == [(11, "T-Shirt Blau XL"), (1, "Gießkanne")]
    assert_as_charged(doc, order)


def test_a_pending_order_is_counted_as_waiting_and_sent_once_confirmed(
        shop, erp, namespace, tmp_path, capsys):
    """Status P may still be deleted by VirtueMart (deleteOldPendingOrder): never sent."""
    order = place_vm_order(shop, items=[BOOK], payment=Method(1), status="P")
    path = write_config(tmp_path, namespace, erp, shop)

    assert run(path, "count") == cli.EXIT_OK
    assert "0 new order(s) not yet sent to the ERP, 1 waiting" in capsys.readouterr().out
    assert run(path, "import") == cli.EXIT_OK
    assert "0 order(s) to the ERP queue; 1 waiting" in capsys.readouterr().out
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 0

    set_vm_status(shop, order.id, "C")
    assert run(path, "import") == cli.EXIT_OK

    assert_as_charged(document(erp, order), order)


class Crash(BaseException):
    """Escapes every handler, as a killed process leaves the databases and the broker."""


def test_an_import_killed_between_header_and_positions_completes_once(
        shop, erp, namespace, tmp_path, monkeypatch, capsys):
    """The consumer dies after CAO has the header: the unacknowledged message comes back
    and the next run completes the same document (same number), never a second one."""
    order = place_vm_order(shop, items=[WATERING_CAN, BOOK], payment=Method(1),
                           shipment=Method(1, Decimal("4.90")))
    path = write_config(tmp_path, namespace, erp, shop)
    real = CaoOrderApplier._write_positions

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(CaoOrderApplier, "_write_positions", crash)
    with pytest.raises(Crash):
        run(path, "import")
    assert erp.scalar("SELECT COUNT(*) FROM journalpos") == 0
    assert erp.scalar("SELECT state FROM shopbridge_order_import") == "started"
    monkeypatch.setattr(CaoOrderApplier, "_write_positions", real)

    assert run(path, "import") == cli.EXIT_OK

    assert "0 order(s) to the ERP queue" in capsys.readouterr().out  # redelivered, not re-sent
    assert erp.scalar("SELECT COUNT(*) FROM journal") == 1
    assert erp.scalar("SELECT state FROM shopbridge_order_import") == "complete"
    assert_as_charged(document(erp, order), order)


def test_random_carts_at_two_rates_land_to_the_cent(shop, erp, namespace, tmp_path):
    """Many carts (quantities, prices, coupons, costs drawn at random): every document's
    gross, VAT and VAT per rate equal the shop's."""
    draw = random.Random(12)
    products = [(101, "A-000001", "Gießkanne"), (102, "A-000002", "Buch"),
                (111, "TS-100-BLAU-XL", "T-Shirt Blau XL"), (112, "TS-100-ROT-XL", "T-Shirt")]
    orders = []
    for _ in range(25):
        lines = [VmLine(pid, sku, name, Decimal(draw.randint(50, 9999)) / 100,
                        Decimal(draw.choice((7, 19))), draw.randint(1, 7))
                 for pid, sku, name in draw.sample(products, draw.randint(1, 4))]
        coupon = (("RABATT", Decimal(draw.randint(1, 500)) / 100)
                  if draw.random() < 0.5 else None)
        orders.append(place_vm_order(
            shop, items=lines, guest=draw.random() < 0.5, user_id=7,
            shipment=Method(1, Decimal(draw.randint(0, 990)) / 100),
            payment=Method(2, Decimal(draw.randint(0, 300)) / 100,
                           draw.choice((None, Decimal(19), Decimal(7)))),
            coupon=coupon))
    path = write_config(tmp_path, namespace, erp, shop)

    assert run(path, "import") == cli.EXIT_OK

    for order in orders:
        assert_as_charged(document(erp, order), order)
    assert erp.scalar("SELECT COUNT(*) FROM shopbridge_order_import WHERE notes IS NOT NULL") \
        == 0


def test_check_lists_what_recent_orders_use(shop, erp, namespace):
    """The VirtueMart probe reads the methods' names and countries the producer sends."""
    from producers.virtuemart.kind import SOURCE

    place_vm_order(shop, items=[BOOK], payment=Method(2), shipment=Method(1, Decimal("4.90")),
                   shipping_address=Address(country_id=AUSTRIA))
    place_vm_order(shop, items=[BOOK], payment=Method(1), status="P")
    settings = cfg.parse(config_data(namespace, erp, [shop_entry("vm", shop)]), source="test")
    shop_config = settings.tenants[0].shops[0]

    with shop.engine.connect() as conn:
        found = SOURCE.check(conn, shop_config, None, sample=50)

    assert found.problems == []
    assert found.usage.orders == 1                                   # P is not sent
    assert dict(found.usage.payments) == {"Nachnahme": 1}
    assert dict(found.usage.shippings) == {"DHL Paket": 1}
    assert dict(found.usage.countries) == {"DE": 1, "AT": 1}
