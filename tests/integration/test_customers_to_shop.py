"""ERP customers -> shop accounts (K1), without a usable password (K2)."""

from __future__ import annotations

from typing import Any

from tests.conftest import settings_for, shop_entry
from tests.helpers import consume, produce

ZIP = "10115"


def add_erp_customer(erp: Any, rec_id: int = 1, **changes: Any) -> None:
    row = {"REC_ID": rec_id, "MATCHCODE": "MUELLER", "KUNNUM1": "50001", "NAME1": "Anna Müller",
           "STRASSE": "Hauptstraße 1", "PLZ": ZIP, "ORT": "Berlin", "LAND": "D",
           "EMAIL": "anna@example.org", "TELE1": "030 1234", "SHOP_KUNDE": "Y", "SHOP_ID": 1,
           "SHOP_NEWSLETTER": "Y", "KUN_GEBDATUM": "1980-05-17", "GESCHLECHT": "W"}
    row.update(changes)
    erp.execute(f"INSERT INTO adressen ({', '.join(row)}) VALUES "
                f"({', '.join(['%s'] * len(row))})", tuple(row.values()))


def account(shop: Any, email: str = "anna@example.org") -> tuple[Any, ...]:
    return tuple(shop.rows(
        "SELECT c.customers_id, c.customers_firstname, c.customers_lastname, "
        "c.customers_password, c.customers_newsletter, c.customers_dob, a.entry_street_address, "
        "a.entry_postcode, a.entry_country_id, i.customers_info_id "
        "FROM customers c JOIN address_book a ON a.address_book_id = "
        "c.customers_default_address_id LEFT JOIN customers_info i "
        "ON i.customers_info_id = c.customers_id WHERE c.customers_email_address = %s",
        (email,))[0])


def test_an_erp_customer_becomes_an_account_with_no_usable_password(erp, phoenix_db, namespace):
    add_erp_customer(erp)
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])

    report = produce(settings)
    consume(settings, "web")

    assert report.published["customer.upserted"] == 1
    (cid, first, last, password, newsletter, dob, street, postcode, country,
     info) = account(phoenix_db)
    assert (first, last, newsletter, str(dob)) == ("Anna", "Müller", "1", "1980-05-17")
    assert (street, postcode, country) == ("Hauptstraße 1", ZIP, 81)   # DEU -> Deutschland
    assert password == ""                     # no hash: no password logs in, least of all ZIP
    assert info == cid                        # customers_info: the reset page needs it
    assert phoenix_db.scalar("SELECT gender FROM (SELECT customers_gender AS gender FROM "
                             "customers) g") == "f"


def test_erp_changes_update_the_account_and_never_the_password_the_shop_set(
        erp, phoenix_db, namespace):
    add_erp_customer(erp)
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])
    produce(settings)
    consume(settings, "web")
    shop_hash = "$2y$10$abcdefghijklmnopqrstuu5xUqWJn2hV0H2X9ZsA8w3JjHqD1gk6S"
    phoenix_db.execute("UPDATE customers SET customers_password = %s", (shop_hash,))

    erp.execute("UPDATE adressen SET STRASSE = 'Neuer Weg 5', SHOP_NEWSLETTER = 'N'")
    report = produce(settings)
    consume(settings, "web")

    assert report.published["customer.upserted"] == 1
    row = account(phoenix_db)
    assert (row[3], row[4], row[6]) == (shop_hash, "0", "Neuer Weg 5")
    assert phoenix_db.scalar("SELECT COUNT(*) FROM customers") == 1
    assert phoenix_db.scalar("SELECT COUNT(*) FROM address_book") == 1
    assert produce(settings).published["customer.upserted"] == 0     # idle: nothing


def test_an_existing_shop_account_with_the_same_email_is_linked_not_duplicated(
        erp, phoenix_db, namespace):
    phoenix_db.execute(
        "INSERT INTO customers (customers_firstname, customers_lastname, "
        "customers_email_address, customers_telephone, customers_password) "
        "VALUES ('A', 'M', 'anna@example.org', '', '$2y$10$keepme')")
    add_erp_customer(erp)
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])

    produce(settings)
    consume(settings, "web")

    assert phoenix_db.scalar("SELECT COUNT(*) FROM customers") == 1
    assert account(phoenix_db)[1:4] == ("Anna", "Müller", "$2y$10$keepme")


def test_customers_of_another_cao_shop_or_not_marked_get_no_account(erp, phoenix_db, namespace):
    add_erp_customer(erp, 1, SHOP_ID=2, EMAIL="other@example.org")
    add_erp_customer(erp, 2, SHOP_KUNDE="N", EMAIL="guest@example.org")
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])

    report = produce(settings)
    consume(settings, "web")

    assert report.published["customer.upserted"] == 1      # the other shop's customer
    assert phoenix_db.scalar("SELECT COUNT(*) FROM customers") == 0


def add_contact(erp: Any, addr_id: int = 1, **changes: Any) -> None:
    row = {"ADDR_ID": addr_id, "ANREDE": "Frau", "VORNAME": "Petra", "NAME": "Schmidt",
           "EMAIL": "info@mueller.example"}
    row.update(changes)
    erp.execute(f"INSERT INTO adressen_asp ({', '.join(row)}) VALUES "
                f"({', '.join(['%s'] * len(row))})", tuple(row.values()))


def add_company(erp: Any, **changes: Any) -> None:
    add_erp_customer(erp, ANREDE="Firma", NAME1="Müller GmbH", GESCHLECHT="-",
                     EMAIL="info@mueller.example", **changes)


def names(shop: Any) -> tuple[Any, ...]:
    """(first, last, gender) of the account, (company, first, last) of its address."""
    return tuple(shop.rows(
        "SELECT c.customers_firstname, c.customers_lastname, c.customers_gender, "
        "a.entry_company, a.entry_firstname, a.entry_lastname FROM customers c "
        "JOIN address_book a ON a.address_book_id = c.customers_default_address_id")[0])


def test_a_company_account_is_named_after_its_contact_person(erp, phoenix_db, namespace):
    """The contact with the address's e-mail names the account, not NAME2 or the first one."""
    add_company(erp, NAME2="z. Hd. Herrn Meier")
    add_contact(erp, VORNAME="Hans", NAME="Meier", ANREDE="Herr", EMAIL="hans@mueller.example")
    add_contact(erp)
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])

    produce(settings)
    consume(settings, "web")

    assert names(phoenix_db) == ("Petra", "Schmidt", "f", "Müller GmbH", "Petra", "Schmidt")


def test_a_changed_contact_person_renames_the_account(erp, phoenix_db, namespace):
    add_company(erp)
    add_contact(erp)
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])
    produce(settings)
    consume(settings, "web")

    erp.execute("UPDATE adressen_asp SET VORNAME = 'Petra Maria'")   # ADRESSEN unchanged
    report = produce(settings)
    consume(settings, "web")

    assert report.published["customer.upserted"] == 1
    assert names(phoenix_db)[:2] == ("Petra Maria", "Schmidt")
    assert produce(settings).published["customer.upserted"] == 0     # idle: nothing


def test_a_company_without_contact_is_named_after_its_attention_line(erp, phoenix_db,
                                                                     namespace):
    """The tester's case: NAME2 "z. Hd. Frau Petra Schmidt" was first name "z. Hd. Frau Petra"."""
    add_company(erp, NAME2="z. Hd. Frau Petra Schmidt")
    settings = settings_for(namespace, erp, [shop_entry("web", phoenix_db)])

    produce(settings)
    consume(settings, "web")

    assert names(phoenix_db) == ("Petra", "Schmidt", "f", "Müller GmbH", "Petra", "Schmidt")
