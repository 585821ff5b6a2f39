"""Issue 12 K3: VirtueMart shopper accounts without an order -> customer.registered -> one
CAO address with contact person and customer number, once.

Real MariaDB (a VirtueMart 4.4 shop from the upstream SQL, CAO's DDL) and RabbitMQ. Accounts
are written with plain SQL as Joomla and VirtueMart's registration write them (``#__users``,
``#__virtuemart_vmusers``, the BT row of ``#__virtuemart_userinfos``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from producers.virtuemart.accounts import VmAccountProducer
from shopbridge import cli, schemas
from shopbridge import config as cfg
from tests.conftest import config_data
from tests.helpers import consume, produce, to_toml
from tests.integration.test_customers_to_shop import add_erp_customer
from tests.integration.test_order_producer import drain_erp_queue
from tests.integration.test_vm_orders import BOOK, ORDERS
from tests.integration.test_vm_orders import shop as shop
from tests.virtuemart_db import PREFIX, shop_entry
from tests.vm_checkout import GERMANY, Method, place_vm_order

BAYERN = 561                       # virtuemart_state_id of Freistaat Bayern
REGISTERED = datetime(2026, 11, 19, 8, 15, 42)


@dataclass
class VmAccount:
    email: str = "anna@example.org"
    first_name: str = "Anna"
    middle_name: str | None = None
    last_name: str = "Müller"
    title: str | None = "Mrs"
    company: str | None = None
    address_1: str = "Hauptstraße 1"
    zip: str = "10115"
    city: str = "Berlin"
    country_id: int = GERMANY
    state_id: int = 0
    phone_1: str | None = "030 1234"
    block: int = 0
    activation: str = ""
    vendor: bool = False


def add_vm_account(vm: Any, a: VmAccount, *, bill_to: bool = True) -> int:
    """An account as VirtueMart's registration writes it; its Joomla user id.

    bill_to=False: a Joomla registration whose shopper has not entered an address yet."""
    with vm.engine.begin() as conn:
        user_id = conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}users (name, username, email, password, block, "
            "registerDate, activation, params) VALUES (%s, %s, %s, %s, %s, %s, %s, '{}')",
            (f"{a.first_name} {a.last_name}", a.email, a.email, "$2y$10$" + "x" * 53,
             a.block, REGISTERED, a.activation)).lastrowid
        conn.exec_driver_sql(
            f"INSERT INTO {PREFIX}virtuemart_vmusers (virtuemart_user_id, "
            "virtuemart_vendor_id, user_is_vendor, customer_number, agreed, created_on) "
            "VALUES (%s, %s, %s, %s, 1, %s)",
            (user_id, int(a.vendor), int(a.vendor), f"AN{user_id:07d}", REGISTERED))
    if bill_to:
        add_bill_to(vm, user_id, a)
    return int(user_id)


def add_bill_to(vm: Any, user_id: int, a: VmAccount) -> None:
    vm.execute(
        f"INSERT INTO {PREFIX}virtuemart_userinfos (virtuemart_user_id, address_type, "
        "company, title, first_name, middle_name, last_name, phone_1, address_1, zip, city, "
        "virtuemart_country_id, virtuemart_state_id, created_on) "
        "VALUES (%s, 'BT', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (user_id, a.company, a.title, a.first_name, a.middle_name, a.last_name, a.phone_1,
         a.address_1, a.zip, a.city, a.country_id, a.state_id, REGISTERED))


def entry(vm: Any, **orders: Any) -> dict[str, Any]:
    return shop_entry("vm", vm, orders={**ORDERS, **orders})


@pytest.fixture
def settings(vm: Any, erp: Any, namespace: str) -> cfg.Settings:
    return cfg.parse(config_data(namespace, erp, [entry(vm)]), source="test")


@pytest.fixture
def producer(settings: cfg.Settings) -> Iterator[VmAccountProducer]:
    made = VmAccountProducer(broker=settings.broker, shop=settings.tenants[0].shop("vm"))
    made.prepare()
    yield made
    made.close()


def write_config(tmp_path: Path, namespace: str, erp: Any, vm: Any, **orders: Any) -> Path:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, erp, [entry(vm, **orders)])))
    return path


def run(path: Path, *args: str) -> int:
    return cli.main(["-c", str(path), "orders", *args, "--shop", "vm"])


def recorded(vm: Any) -> dict[int, str]:
    return dict(vm.rows("SELECT virtuemart_user_id, event_id FROM shopbridge_customer_out"))


def test_an_account_becomes_one_valid_event_with_its_bill_to_address_and_only_once(
        vm, settings, producer):
    user_id = add_vm_account(vm, VmAccount(company="Müller & Söhne", middle_name="Maria",
                                           state_id=BAYERN, city="München", zip="80331"))
    assert producer.count().new == 1

    report = producer.run_once()

    assert (report.published, report.waiting, report.rejected) == (1, 0, [])
    [event] = drain_erp_queue(settings)
    schemas.validate(event)
    assert (event["type"], event["source"], event["entity_key"]) == (
        "customer.registered", "virtuemart:vm", f"vm:{user_id}")
    assert event["payload"] == {
        "shop": "vm", "shop_customer_id": user_id, "email": "anna@example.org",
        "gender": "f", "firstname": "Anna Maria", "lastname": "Müller",
        "date_of_birth": None, "telephone": "030 1234", "newsletter": False,
        "address": {"name": "Anna Maria Müller", "company": "Müller & Söhne",
                    "street": "Hauptstraße 1", "suburb": None, "postcode": "80331",
                    "city": "München", "state": "Freistaat Bayern", "country": "Germany",
                    "country_iso2": "DE"},
        "registered_at": "2026-11-19T08:15:42",
    }
    assert recorded(vm) == {user_id: event["event_id"]}

    again = producer.run_once()

    assert (again.published, again.messages, again.rejected) == (0, 0, [])
    assert drain_erp_queue(settings) == [] and producer.count().new == 0


def test_accounts_wait_for_their_bill_to_row_and_activation_blocked_and_vendor_never_go(
        vm, settings, producer):
    """No BT row yet and an activation pending: waiting. Blocked by an administrator and
    the vendor's own account: no customers, neither sent nor counted."""
    no_address = add_vm_account(vm, VmAccount(email="new@example.org"), bill_to=False)
    add_vm_account(vm, VmAccount(email="pending@example.org", block=1, activation="abc123"))
    add_vm_account(vm, VmAccount(email="blocked@example.org", block=1))
    add_vm_account(vm, VmAccount(email="shop@example.org", vendor=True))

    report = producer.run_once()

    assert (report.published, report.waiting) == (0, 2)
    assert drain_erp_queue(settings) == [] and recorded(vm) == {}

    add_bill_to(vm, no_address, VmAccount())
    assert producer.run_once().published == 1
    assert [e["entity_key"] for e in drain_erp_queue(settings)] == [f"vm:{no_address}"]


def test_accounts_below_first_customer_id_are_never_sent(vm, erp, namespace, tmp_path, capsys):
    old = add_vm_account(vm, VmAccount(email="old@example.org"))
    add_vm_account(vm, VmAccount(email="new@example.org"))
    path = write_config(tmp_path, namespace, erp, vm, first_customer_id=old + 1)

    assert run(path, "import") == cli.EXIT_OK

    assert "sent 1 new account(s) and 0 order(s)" in capsys.readouterr().out
    assert erp.rows("SELECT EMAIL FROM adressen") == [("new@example.org",)]


def test_a_new_account_becomes_one_cao_address_with_contact_and_number_once(
        vm, erp, namespace, tmp_path, capsys):
    """``orders import`` sends the account before the orders; CAO gets one ADRESSEN with
    KUNNUM1 and DEB_NUM from its number ranges and one contact person. Again, and after a
    forced re-send (the producer's record lost), it stays one record with the same number."""
    user_id = add_vm_account(vm, VmAccount())
    path = write_config(tmp_path, namespace, erp, vm)

    assert run(path, "import") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "sent 1 new account(s) and 0 order(s)" in out
    assert "1 order(s)/account(s) imported" in out
    assert run(path, "import") == cli.EXIT_OK
    assert "sent 0 new account(s)" in capsys.readouterr().out
    vm.execute("DELETE FROM shopbridge_customer_out")                # forced re-send
    assert run(path, "import") == cli.EXIT_OK
    assert "sent 1 new account(s)" in capsys.readouterr().out

    [(addr_id, kunnum, deb_num, shop_id, shop_kunde_id, name1, land, email)] = erp.rows(
        "SELECT REC_ID, KUNNUM1, DEB_NUM, SHOP_ID, SHOP_KUNDE_ID, NAME1, LAND, EMAIL "
        "FROM adressen")
    assert (kunnum, deb_num) == ("50001", 10001)                     # drawn once
    assert (shop_id, shop_kunde_id, name1, land, email) == (
        1, user_id, "Anna Müller", "D", "anna@example.org")
    assert erp.rows("SELECT ADDR_ID, NAME, VORNAME, EMAIL FROM adressen_asp") == [
        (addr_id, "Müller", "Anna", "anna@example.org")]
    assert erp.scalar("SELECT VAL_INT2 FROM registry WHERE VAL_INT = 99") == 50002


def test_an_account_shopbridge_wrote_from_cao_is_not_sent_back(
        vm, erp, namespace, tmp_path, capsys):
    """A CAO customer the customer consumer made a VirtueMart shopper (linked as 'customer')
    does not come back as a new CAO address; a shop account registered beside it does."""
    add_erp_customer(erp)
    data = config_data(namespace, erp, [entry(vm)])
    settings = cfg.parse(data, source="test")
    assert produce(settings).published["customer.upserted"] == 1
    assert consume(settings, "vm").applied == 1
    [(from_erp,)] = vm.rows(f"SELECT id FROM {PREFIX}users")
    new = add_vm_account(vm, VmAccount(email="new@example.org", first_name="Nina"))
    path = write_config(tmp_path, namespace, erp, vm)

    assert run(path, "import") == cli.EXIT_OK

    assert "sent 1 new account(s) and 0 order(s)" in capsys.readouterr().out
    assert set(recorded(vm)) == {new} and from_erp != new
    assert erp.rows("SELECT REC_ID, EMAIL FROM adressen ORDER BY REC_ID") == [
        (1, "anna@example.org"), (2, "new@example.org")]
    assert erp.scalar("SELECT SHOP_KUNDE_ID FROM adressen WHERE REC_ID = 2") == new


def test_the_accounts_later_order_is_booked_on_its_address(shop, erp, namespace, tmp_path):
    """The order of a shopper whose account reached CAO before finds that ADRESSEN record
    by ``virtuemart_user_id``: still one address, one contact person."""
    user_id = add_vm_account(shop, VmAccount())
    path = write_config(tmp_path, namespace, erp, shop)
    assert run(path, "import") == cli.EXIT_OK
    [(addr_id,)] = erp.rows("SELECT REC_ID FROM adressen")

    order = place_vm_order(shop, items=[BOOK], guest=False, user_id=user_id,
                           payment=Method(1))
    assert run(path, "import") == cli.EXIT_OK

    assert erp.rows("SELECT ADDR_ID, KUN_NUM FROM journal WHERE SHOP_ORDERID = %s",
                    (order.id,)) == [(addr_id, "50001")]
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 1
    assert erp.scalar("SELECT COUNT(*) FROM adressen_asp") == 1
