"""ERP customers -> Phoenix accounts (K1, K2).

A new account gets every row the shop needs (NOTES 4): ``customers``, a default
``address_book`` entry and ``customers_info`` (the password-reset page reads it). Its password
is the empty string, which no login accepts (Phoenix validates against password_hash and the
two legacy formats, none of which matches ''): nothing guessable like the ZIP code a seed
system uses. The customer sets a password through the shop's own "password forgotten" page,
which e-mails a reset link. Later ERP changes update names, address, phone, birthday and
newsletter flag; the password is never written again, so one the shop set survives.

An account that already exists with the same e-mail (UNIQUE in Phoenix) is linked, not
duplicated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.events import Event

from ..customers import AccountWriter

NO_PASSWORD = ""   # no hash at all: no password can log in with it (K2)


class CustomerWriter(AccountWriter):
    """customer.upserted -> a Phoenix account (the batch rules: consumers/customers.py)."""

    def _country(self, conn: Connection, event: Event) -> int:
        iso3 = event.payload["address"].get("country_iso3")
        row = conn.exec_driver_sql("SELECT countries_id FROM countries WHERE "
                                   "countries_iso_code_3 = %s", (iso3,)).first() if iso3 else None
        if row is None:
            raise self.unknown_country(event)
        return int(row[0])

    def _account_by_email(self, conn: Connection, email: str) -> int | None:
        row = conn.exec_driver_sql("SELECT customers_id FROM customers WHERE "
                                   "customers_email_address = %s FOR UPDATE", (email,)).first()
        return int(row[0]) if row else None

    def _write(self, conn: Connection, event: Event, customer_id: int | None,
               now: datetime) -> int:
        p: dict[str, Any] = event.payload
        country_id = self._country(conn, event)
        person = (p.get("gender"), p.get("firstname") or "", p["lastname"], p.get("date_of_birth"),
                  p["email"], p.get("telephone") or "", "1" if p["newsletter"] else "0")
        address = (p.get("gender"), p.get("company"), p.get("firstname") or "", p["lastname"],
                   p["address"]["street"], p["address"]["postcode"], p["address"]["city"],
                   country_id)
        if customer_id is None:
            customer_id = int(conn.exec_driver_sql(
                "INSERT INTO customers (customers_gender, customers_firstname, "
                "customers_lastname, customers_dob, customers_email_address, customers_telephone, "
                "customers_newsletter, customers_password, status) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*person, NO_PASSWORD, 1)).lastrowid)
            conn.exec_driver_sql(
                "INSERT INTO customers_info (customers_info_id, customers_info_number_of_logons, "
                "customers_info_date_account_created, global_product_notifications) "
                "VALUES (%s, %s, %s, %s)", (customer_id, 0, now, 0))
        else:
            conn.exec_driver_sql(
                "UPDATE customers SET customers_gender = %s, customers_firstname = %s, "
                "customers_lastname = %s, customers_dob = %s, customers_email_address = %s, "
                "customers_telephone = %s, customers_newsletter = %s WHERE customers_id = %s",
                (*person, customer_id))
            conn.exec_driver_sql(
                "UPDATE customers_info SET customers_info_date_account_last_modified = %s "
                "WHERE customers_info_id = %s", (now, customer_id))
        default = conn.exec_driver_sql(
            "SELECT customers_default_address_id FROM customers WHERE customers_id = %s",
            (customer_id,)).scalar()
        updated = 0
        if default:
            updated = conn.exec_driver_sql(
                "UPDATE address_book SET entry_gender = %s, entry_company = %s, "
                "entry_firstname = %s, entry_lastname = %s, entry_street_address = %s, "
                "entry_postcode = %s, entry_city = %s, entry_country_id = %s "
                "WHERE address_book_id = %s AND customers_id = %s",
                (*address, default, customer_id)).rowcount
        if not updated:
            address_id = conn.exec_driver_sql(
                "INSERT INTO address_book (customers_id, entry_gender, entry_company, "
                "entry_firstname, entry_lastname, entry_street_address, entry_postcode, "
                "entry_city, entry_country_id, entry_zone_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (customer_id, *address, 0)).lastrowid
            conn.exec_driver_sql("UPDATE customers SET customers_default_address_id = %s "
                                 "WHERE customers_id = %s", (address_id, customer_id))
        return customer_id
