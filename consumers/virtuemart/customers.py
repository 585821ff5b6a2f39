"""ERP customers -> VirtueMart shoppers (K1, K2): a Joomla account with VirtueMart's rows.

The rows of one customer (NOTES 6, VirtueMart's models/user.php ``saveUserData`` and
``storeAddress``):

1. ``#__users``: name, a unique username (joomla_users.py: the e-mail where Joomla takes it,
   since the reset confirmation asks for it), the e-mail, ``block=0``, ``activation=''``,
   ``registerDate`` in UTC, ``params='{}'`` and a password nothing verifies against
   (``UNUSABLE_PASSWORD``). The customer sets one through Joomla's own "forgot your password"
   form, which accepts the account (ResetModel::processResetRequest: the e-mail's user exists,
   is not blocked, passes Joomla's user check). The password is written on INSERT only, so one
   the customer set survives every later ERP change.
2. ``#__user_usergroup_map``: the configured group (``user_group``, 2 = Registered).
3. ``#__virtuemart_vmusers``: vendor 0, not a vendor, the CAO customer number (else
   VirtueMart's own scheme: two letters of the username and 7 of its md5), ``agreed=0``
   (the customer accepted no terms in the shop; the checkout asks for them).
4. ``#__virtuemart_vmuser_shoppergroups``: the groups ``shopper_groups`` maps to the
   customer's CAO price level. VirtueMart stores no row for its default groups (``default``
   1 and 2), and neither does this writer; rows of groups the option does not name are the
   shop's and stay.
5. ``#__virtuemart_userinfos``: the BT (bill-to) address; the country by ISO code. The
   ERP's default delivery address (customer.upserted v2 ``delivery_address``) is an ST row
   named ``SHIP_TO_NAME`` where it differs from the BT address; when it goes (or becomes the
   same) that row is deleted. ST rows the customer made in the shop are theirs and stay.

Later ERP changes update name, e-mail, customer number, shopper groups and the BT address.
A text longer than its column is a ``MappingError`` naming the field and column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.errors import MappingError
from shopbridge.events import Event

from ..customers import AccountWriter
from .joomla_users import (
    EMAIL_MAX,
    NAME_MAX,
    UNUSABLE_PASSWORD,
    display_name,
    is_email_address,
    usernames,
)
from .options import VirtueMartOptions
from .shop import Tables

BILL_TO, SHIP_TO = "BT", "ST"
SHIP_TO_NAME = "Lieferanschrift"          # address_type_name of the ERP's ST row (varchar 32)
TITLES = {"m": "Mr", "f": "Mrs"}          # the values of VirtueMart's title field (id 23)
# userinfos column -> its width (install_essential_data.sql) and the payload field it takes,
# the latter under ``address.`` or ``delivery_address.`` where it starts with '.'.
ADDRESS_COLUMNS = {"company": (64, "company"), "title": (32, "gender"),
                   "first_name": (96, "firstname"), "last_name": (96, "lastname"),
                   "phone_1": (32, "telephone"), "address_1": (96, ".street"),
                   "zip": (32, ".postcode"), "city": (96, ".city")}


@dataclass(frozen=True, kw_only=True)
class CustomerWriter(AccountWriter):
    """customer.upserted -> a Joomla/VirtueMart account (the batch rules:
    consumers/customers.py)."""

    tables: Tables
    options: VirtueMartOptions

    def _account_by_email(self, conn: Connection, email: str) -> int | None:
        # The column's collation ignores case, as Joomla's own lookups (LOWER = LOWER) do.
        row = conn.exec_driver_sql(
            f"SELECT id FROM {self.tables.core('users')} WHERE email = %s ORDER BY id LIMIT 1 "
            f"FOR UPDATE", (email,)).first()
        return int(row[0]) if row else None

    def _write(self, conn: Connection, event: Event, account_id: int | None,
               now: datetime) -> int:
        p: dict[str, Any] = event.payload
        address = self._bill_to(event)
        country_id = self._country(conn, event)
        ship_to = self._ship_to(conn, event, {**address, "virtuemart_country_id": country_id})
        email = p["email"]
        if len(email) > EMAIL_MAX:
            raise MappingError(f"{event}: field payload.email: {len(email)} characters exceed "
                               f"#__users.email varchar({EMAIL_MAX})")
        if not is_email_address(email):
            raise MappingError(f"{event}: field payload.email: {email!r} is no e-mail address "
                               "to Joomla (MailHelper::isEmailAddress): the account could "
                               "not reset its password")
        name = display_name(p.get("firstname"), p["lastname"])
        if len(name) > NAME_MAX:
            raise MappingError(f"{event}: field payload.lastname: the name has {len(name)} "
                               f"characters, more than #__users.name varchar({NAME_MAX})")
        users = self.tables.core("users")
        if account_id is not None and not conn.exec_driver_sql(
                f"SELECT id FROM {users} WHERE id = %s FOR UPDATE", (account_id,)).first():
            account_id = self._account_by_email(conn, email)      # deleted in the shop
        other = conn.exec_driver_sql(
            f"SELECT id FROM {users} WHERE email = %s AND id <> %s LIMIT 1",
            (email, account_id or 0)).first()
        if other is not None and account_id is not None:
            raise MappingError(f"{event}: field payload.email: {email} is the e-mail of "
                               f"another shop account (user {other[0]}); Joomla allows each "
                               "e-mail once")
        if account_id is None:
            username = self._free_username(conn, email, int(p["erp_id"]))
            account_id = int(conn.exec_driver_sql(
                f"INSERT INTO {users} (name, username, email, password, block, sendEmail, "
                f"registerDate, activation, params) VALUES (%s, %s, %s, %s, 0, 0, %s, '', '{{}}')",
                (name, username, email, UNUSABLE_PASSWORD, now)).lastrowid)
        else:
            conn.exec_driver_sql(f"UPDATE {users} SET name = %s, email = %s WHERE id = %s",
                                 (name, email, account_id))
            username = str(conn.exec_driver_sql(
                f"SELECT username FROM {users} WHERE id = %s", (account_id,)).scalar())
        self._user_group(conn, account_id)
        self._vm_user(conn, account_id, p.get("customer_number"), username, now)
        self._shopper_groups(conn, account_id, p.get("price_level"))
        self._address(conn, account_id, BILL_TO, "",
                      {**address, "virtuemart_country_id": country_id}, now)
        self._address(conn, account_id, SHIP_TO, SHIP_TO_NAME, ship_to, now)
        return account_id

    def _bill_to(self, event: Event) -> dict[str, str | None]:
        """The BT columns of the payload.

        Raises:
            MappingError: a text is longer than its column.
        """
        p = event.payload
        a = p["address"]
        return _fitted(event, "address", {
            "company": p.get("company"), "title": TITLES.get(p.get("gender") or ""),
            "first_name": p.get("firstname"), "last_name": p["lastname"],
            "phone_1": p.get("telephone"), "address_1": a["street"], "zip": a["postcode"],
            "city": a["city"]})

    def _ship_to(self, conn: Connection, event: Event, bill_to: dict[str, Any]
                 ) -> dict[str, Any] | None:
        """The ST columns of the delivery address, None where it has none or it is the
        bill-to address."""
        d = event.payload.get("delivery_address")
        if not d:
            return None
        values: dict[str, Any] = _fitted(event, "delivery_address", {
            "company": d.get("company"), "first_name": d.get("firstname"),
            "last_name": d["lastname"], "address_1": d["street"], "zip": d["postcode"],
            "city": d["city"]})
        values["virtuemart_country_id"] = self._country(conn, event, "delivery_address")
        same = all(values[c] == bill_to[c] for c in values)
        return None if same else values

    def _country(self, conn: Connection, event: Event, field: str = "address") -> int:
        iso3 = event.payload[field].get("country_iso3")
        row = conn.exec_driver_sql(
            f"SELECT virtuemart_country_id FROM {self.tables.countries} "
            f"WHERE country_3_code = %s", (iso3,)).first() if iso3 else None
        if row is None:
            raise self.unknown_country(event, field)
        return int(row[0])

    def _free_username(self, conn: Connection, email: str, erp_id: int) -> str:
        users = self.tables.core("users")
        for name in usernames(email, erp_id):
            if not conn.exec_driver_sql(f"SELECT 1 FROM {users} WHERE username = %s",
                                        (name,)).first():
                return name
        raise MappingError(f"customer {erp_id}: no free Joomla username for {email}")

    def _user_group(self, conn: Connection, user_id: int) -> None:
        table, group = self.tables.core("user_usergroup_map"), self.options.user_group
        if not conn.exec_driver_sql(f"SELECT 1 FROM {table} WHERE user_id = %s AND "
                                    f"group_id = %s", (user_id, group)).first():
            conn.exec_driver_sql(f"INSERT INTO {table} (user_id, group_id) VALUES (%s, %s)",
                                 (user_id, group))

    def _vm_user(self, conn: Connection, user_id: int, number: str | None, username: str,
                 now: datetime) -> None:
        """The vmusers row: the CAO number where the ERP has one, else the shop's own."""
        t = self.tables
        if conn.exec_driver_sql(f"SELECT 1 FROM {t.vmusers} WHERE virtuemart_user_id = %s "
                                f"FOR UPDATE", (user_id,)).first():
            if number:
                conn.exec_driver_sql(
                    f"UPDATE {t.vmusers} SET customer_number = %s, modified_on = %s "
                    f"WHERE virtuemart_user_id = %s", (number, now, user_id))
            return
        conn.exec_driver_sql(
            f"INSERT INTO {t.vmusers} (virtuemart_user_id, virtuemart_vendor_id, "
            f"user_is_vendor, customer_number, agreed, created_on, modified_on) "
            f"VALUES (%s, 0, 0, %s, 0, %s, %s)",
            (user_id, number or _vm_number(username), now, now))

    def _shopper_groups(self, conn: Connection, user_id: int, level: int | None) -> None:
        """The groups of the customer's price level; VirtueMart's defaults get no row."""
        t = self.tables
        defaults = {int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT virtuemart_shoppergroup_id FROM {t.shoppergroups} WHERE `default` > 0")}
        managed = {g for g in self.options.shopper_groups if g and g not in defaults}
        wanted = {g for g in managed if self.options.shopper_groups[g] == level}
        have = {int(r[0]) for r in conn.exec_driver_sql(
            f"SELECT virtuemart_shoppergroup_id FROM {t.vmuser_shoppergroups} "
            f"WHERE virtuemart_user_id = %s", (user_id,))}
        gone = sorted((have & managed) - wanted)
        if gone:
            conn.exec_driver_sql(
                f"DELETE FROM {t.vmuser_shoppergroups} WHERE virtuemart_user_id = %s AND "
                f"virtuemart_shoppergroup_id IN ({', '.join(['%s'] * len(gone))})",
                (user_id, *gone))
        for group in sorted(wanted - have):
            conn.exec_driver_sql(
                f"INSERT INTO {t.vmuser_shoppergroups} (virtuemart_user_id, "
                f"virtuemart_shoppergroup_id) VALUES (%s, %s)", (user_id, group))

    def _address(self, conn: Connection, user_id: int, kind: str, name: str,
                 values: dict[str, Any] | None, now: datetime) -> None:
        """The user's ``kind`` row: written, or deleted where ``values`` is None. The BT row
        is the user's one (VirtueMart keeps one); an ST row is the one named ``name``."""
        t = self.tables
        named = (name,) if kind != BILL_TO else ()
        row = conn.exec_driver_sql(
            f"SELECT virtuemart_userinfo_id FROM {t.userinfos} WHERE virtuemart_user_id = %s "
            f"AND address_type = %s{' AND address_type_name = %s' if named else ''} "
            f"ORDER BY virtuemart_userinfo_id LIMIT 1 FOR UPDATE",
            (user_id, kind, *named)).first()
        if values is None:
            if row is not None:
                conn.exec_driver_sql(f"DELETE FROM {t.userinfos} WHERE "
                                     f"virtuemart_userinfo_id = %s", (row[0],))
            return
        columns = list(values)
        if row is not None:
            conn.exec_driver_sql(
                f"UPDATE {t.userinfos} SET {', '.join(f'{c} = %s' for c in columns)}, "
                f"modified_on = %s WHERE virtuemart_userinfo_id = %s",
                (*values.values(), now, row[0]))
            return
        conn.exec_driver_sql(
            f"INSERT INTO {t.userinfos} (virtuemart_user_id, address_type, address_type_name, "
            f"{', '.join(columns)}, created_on, modified_on) "
            f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(columns))}, %s, %s)",
            (user_id, kind, name, *values.values(), now, now))


def _fitted(event: Event, field: str, values: dict[str, str | None]) -> dict[str, str | None]:
    """``values`` (userinfos columns) of the payload's ``field`` address, each checked
    against its column's width.

    Raises:
        MappingError: a text is longer than its column, naming both.
    """
    for column, value in values.items():
        width, source = ADDRESS_COLUMNS[column]
        if value is not None and len(value) > width:
            where = f"{field}{source}" if source.startswith(".") else (
                source if field == "address" else f"{field}.{source}")
            raise MappingError(
                f"{event}: field payload.{where}: {len(value)} characters exceed "
                f"#__virtuemart_userinfos.{column} varchar({width})")
    return values


def _vm_number(username: str) -> str:
    """VirtueMart's own customer number (saveUserData): two letters of the username upper-
    cased and the first 7 hex digits of its md5."""
    digest = hashlib.md5(username.encode("utf-8"), usedforsecurity=False).hexdigest()
    return username[:2].upper() + digest[:7]
