"""New CE Phoenix accounts -> customer.registered -> one ADRESSEN record in CAO-Faktura (K3).

Accounts are written with plain SQL in the order Phoenix's registration writes them
(customers, address_book, the default address id, customers_info last); the events are read
back from the tenant's ERP work queue and applied to a CAO database from the real DDL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from consumers.binder import Binder
from consumers.cao import CaoOrderApplier
from consumers.cao.registrations import register_customer
from producers.oscommerce.customers import PhoenixCustomerProducer
from shopbridge import config as cfg
from shopbridge import events as ev
from tests.conftest import Database, add_cao_articles, settings_for, shop_entry
from tests.integration import test_order_import as orders_into_cao
from tests.integration.test_order_producer import drain_erp_queue, publish_the_one_new

DE, BAYERN = 81, 81       # countries_id of Germany; zone_id of Bayern (phoenix.sql)
REGISTERED = datetime(2026, 11, 19, 8, 15, 42)


@dataclass
class Account:
    email: str = "anna@example.org"
    firstname: str = "Anna"
    lastname: str = "Müller"
    company: str | None = None
    street: str = "Hauptstraße 1"
    postcode: str = "10115"
    city: str = "Berlin"
    country_id: int = DE
    zone_id: int = 0
    state: str | None = None
    telephone: str = "030 1234"
    gender: str | None = "f"
    dob: date | None = date(1985, 2, 28)
    newsletter: str | None = "1"


def add_account(db: Database, account: Account, *, info: bool = True) -> int:
    """Register an account as Phoenix does (every NOT NULL column filled); its customers_id.

    info=False stops before the customers_info row, where registration writes it last.
    """
    a = account
    with db.engine.begin() as conn:
        customers_id = conn.exec_driver_sql(
            "INSERT INTO customers (customers_gender, customers_firstname, customers_lastname, "
            "customers_dob, customers_email_address, customers_telephone, customers_password, "
            "customers_newsletter) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (a.gender, a.firstname, a.lastname, a.dob, a.email, a.telephone,
             "$2y$10$" + "x" * 53, a.newsletter)).lastrowid
        address_id = conn.exec_driver_sql(
            "INSERT INTO address_book (customers_id, entry_gender, entry_company, "
            "entry_firstname, entry_lastname, entry_street_address, entry_suburb, "
            "entry_postcode, entry_city, entry_state, entry_country_id, entry_zone_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (customers_id, a.gender, a.company, a.firstname, a.lastname, a.street, "",
             a.postcode, a.city, a.state, a.country_id, a.zone_id)).lastrowid
        conn.exec_driver_sql("UPDATE customers SET customers_default_address_id = %s "
                             "WHERE customers_id = %s", (address_id, customers_id))
    if info:
        add_info(db, customers_id)
    return customers_id


def add_info(db: Database, customers_id: int) -> None:
    db.execute("INSERT INTO customers_info (customers_info_id, customers_info_number_of_logons, "
               "customers_info_date_account_created) VALUES (%s, %s, %s)",
               (customers_id, 0, REGISTERED))


@pytest.fixture
def settings(phoenix_db: Database, namespace: str) -> cfg.Settings:
    # The CAO URL is not read by the producer; the shop database stands in for it.
    return settings_for(namespace, phoenix_db, [shop_entry("web", phoenix_db)])


@pytest.fixture
def producer(settings: cfg.Settings) -> Iterator[PhoenixCustomerProducer]:
    made = PhoenixCustomerProducer(broker=settings.broker,
                                   shop=settings.tenants[0].shop("web"))
    made.prepare()
    yield made
    made.close()


def recorded(db: Database) -> dict[int, str]:
    return dict(db.rows("SELECT customers_id, event_id FROM shopbridge_customer_out"))


def register(applier: CaoOrderApplier, event: ev.Event) -> str | None:
    with applier.engine.connect() as conn:
        return register_customer(applier, conn, event)


def test_a_new_account_becomes_one_valid_customer_registered_event_and_only_once(
        phoenix_db, settings, producer):
    """Given a complete account with a company and a zone, one run publishes one event with
    every field of the account and its default address; a second run publishes nothing."""
    customers_id = add_account(phoenix_db, Account(company="Müller & Söhne", zone_id=BAYERN,
                                                   city="München", postcode="80331"))

    event = publish_the_one_new(producer, settings, "customer.registered", f"web:{customers_id}")

    assert event["payload"] == {
        "shop": "web", "shop_customer_id": customers_id, "email": "anna@example.org",
        "gender": "f", "firstname": "Anna", "lastname": "Müller",
        "date_of_birth": "1985-02-28", "telephone": "030 1234", "newsletter": True,
        "address": {"name": "Anna Müller", "company": "Müller & Söhne",
                    "street": "Hauptstraße 1", "suburb": None, "postcode": "80331",
                    "city": "München", "state": "Bayern", "country": "Deutschland",
                    "country_iso2": "DE"},
        "registered_at": "2026-11-19T08:15:42",
    }
    assert recorded(phoenix_db) == {customers_id: event["event_id"]}

    again = producer.run_once()

    assert (again.published, again.messages, again.rejected) == (0, 0, [])
    assert drain_erp_queue(settings) == []
    assert producer.count().new == 0


def test_an_account_without_its_customers_info_row_waits_until_registration_finished(
        phoenix_db, settings, producer):
    """Registration writes customers_info last: before it, the account is waiting, not sent."""
    customers_id = add_account(phoenix_db, Account(), info=False)

    report = producer.run_once()

    assert (report.published, report.waiting) == (0, 1)
    assert drain_erp_queue(settings) == [] and recorded(phoenix_db) == {}

    add_info(phoenix_db, customers_id)
    assert producer.run_once().published == 1
    assert [e["entity_key"] for e in drain_erp_queue(settings)] == [f"web:{customers_id}"]


def test_an_account_shopbridge_created_from_the_erp_is_not_sent_back(
        phoenix_db, settings, producer):
    """A customer with a 'customer' link row came from the ERP: never published, never
    recorded, not counted; another account of the same run is published."""
    from_erp = add_account(phoenix_db, Account(email="erp@example.org"))
    with phoenix_db.engine.begin() as conn:
        Binder().ensure_table(conn)
        conn.exec_driver_sql(
            "INSERT INTO shopbridge_link (entity_type, entity_key, target_id) "
            "VALUES (%s, %s, %s), (%s, %s, %s)",
            ("customer", "50001", from_erp, "product", "4711", from_erp + 1))
    new = add_account(phoenix_db, Account(email="new@example.org"))   # id from_erp + 1
    assert producer.count().new == 1

    report = producer.run_once()

    assert (report.published, report.rejected) == (1, [])
    assert [e["entity_key"] for e in drain_erp_queue(settings)] == [f"web:{new}"]
    assert set(recorded(phoenix_db)) == {new}


def test_a_registration_makes_one_cao_address_that_redelivery_and_orders_reuse(
        phoenix_db, erp, settings, producer, namespace):
    """The published event, applied to CAO, creates one ADRESSEN with KUNNUM1 and DEB_NUM
    from the number ranges and one contact person; applied again it changes nothing but
    the data; the customer's first order is booked on that same record."""
    customers_id = add_account(phoenix_db, Account())
    producer.run_once()
    [raw] = drain_erp_queue(settings)
    event = ev.parse(raw)
    applier = orders_into_cao.applier_for(orders_into_cao.settings(namespace, erp), erp)

    assert register(applier, event) is None
    assert register(applier, event) is None                        # redelivery

    [(addr_id, kunnum, deb_num, shop_id, shop_kunde_id, name1, land, email, newsletter,
      born)] = erp.rows(
        "SELECT REC_ID, KUNNUM1, DEB_NUM, SHOP_ID, SHOP_KUNDE_ID, NAME1, LAND, EMAIL, "
        "SHOP_NEWSLETTER, KUN_GEBDATUM FROM adressen")
    assert (kunnum, deb_num) == ("50001", 10001)                   # drawn once
    assert (shop_id, shop_kunde_id, name1, land, email) == (
        1, customers_id, "Anna Müller", "D", "anna@example.org")
    assert (newsletter, born) == ("Y", date(1985, 2, 28))
    assert erp.rows("SELECT ADDR_ID, NAME, VORNAME, EMAIL FROM adressen_asp") == [
        (addr_id, "Müller", "Anna", "anna@example.org")]
    assert erp.scalar("SELECT COUNT(*) FROM adressen_lief") == 0

    add_cao_articles(erp)
    result = applier.apply([orders_into_cao.order(17, customer_id=customers_id)])

    assert result.applied == 1
    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 1
    assert erp.scalar("SELECT COUNT(*) FROM adressen_asp") == 1
    assert erp.rows("SELECT ADDR_ID, KUN_NUM, GEGENKONTO FROM journal") == [
        (addr_id, "50001", 10001)]


def test_a_country_without_a_cao_code_is_refused_before_anything_is_written(
        phoenix_db, erp, settings, producer, namespace):
    """An account in a country neither mapped nor in CAO's LAND is a MappingError (dead
    letters) and leaves no ADRESSEN row and no drawn number behind."""
    from shopbridge.errors import MappingError

    add_account(phoenix_db, Account(country_id=204, city="Zürich", postcode="8001"))  # CH
    producer.run_once()
    [raw] = drain_erp_queue(settings)
    applier = orders_into_cao.applier_for(orders_into_cao.settings(namespace, erp), erp)

    with pytest.raises(MappingError, match="'CH'"):
        register(applier, ev.parse(raw))

    assert erp.scalar("SELECT COUNT(*) FROM adressen") == 0
    assert erp.scalar("SELECT VAL_INT2 FROM registry WHERE VAL_INT = 99") == 50001

