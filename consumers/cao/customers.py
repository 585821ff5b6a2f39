"""Shop customers in CAO-Faktura's ADRESSEN (K3, K4): found or created, never duplicated.

A registered shop customer is found by (SHOP_ID, SHOP_KUNDE_ID), else by e-mail; a guest by
e-mail, so a returning guest updates the same record. New ones get KUNNUM1 and DEB_NUM from
CAO's number ranges (99 and 31, as CAO's own shop import does: NOTES 3). A registered
customer gets a contact person (ADRESSEN_ASP); a delivery address that differs from the
billing address becomes an ADRESSEN_LIEF row, reused when the same address comes again.
An order updates an existing address from its billing address, except for name lines that
already name the same company and person (CAO's "z. Hd. Frau Dr. Petra Schmidt", or the
person as a contact): the shop shows the person plainly (K1), and writing that back would
only lose the merchant's salutation, title and attention line.

A batch of orders (issue 14) reads the addresses and contact persons of all its customers
in a few statements first (``Known``) and then decides each order in memory, writing only
what changes: a new address, contact or delivery address, or an address whose columns
differ from the order's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from systems.cao import DEB_NUM_RANGE, KUNNUM_RANGE, NumberRanges
from systems.cao.names import split_person_name, without_firma

from .text import Fitter


@dataclass(frozen=True)
class Customer:
    addr_id: int
    kunnum: str | None
    deb_num: int | None
    asp_id: int
    lief_addr_id: int
    created: bool


def split_name(name: str) -> tuple[str, str]:
    """'Anna Maria Schmidt' -> ('Anna Maria', 'Schmidt')."""
    parts = name.strip().rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])


def _loose(value: Any) -> str:
    """A value as a case-insensitive comparison might see it (only to know when to ask)."""
    return str(value or "").rstrip(" ").casefold()


def _plain(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _person(text: str | None) -> tuple[str, str]:
    """A name line as (first, last), without salutation, title and attention marker."""
    name = split_person_name(text)
    return _plain(name.first), _plain(name.last)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("name", "company", "street", "postcode", "city", "country_iso2")
    return all((a.get(k) or "") == (b.get(k) or "") for k in keys)


DELIVERY_COLUMNS = ("NAME1", "NAME2", "STRASSE", "PLZ", "ORT", "LAND")
# What an order writes into an existing address, and what finding and comparing read.
ADDRESS_COLUMNS = ("REC_ID", "SHOP_ID", "SHOP_KUNDE_ID", "SHOP_KUNDE", "EMAIL", "ANREDE",
                   "NAME1", "NAME2", "STRASSE", "PLZ", "ORT", "LAND", "TELE1", "GEAEND",
                   "KUNNUM1", "DEB_NUM")


def email_key(email: str | None) -> str:
    """How a case-insensitive CAO column compares an e-mail address (ASCII only: ``Known``
    is not used for others)."""
    return (email or "").rstrip(" ").lower()


@dataclass
class Known:
    """The ADRESSEN rows (and their contact persons) a batch of orders can find, read at
    once, kept up to date as the batch writes; lookups answer as the single-order SQL would.

    Complete for the batch: every row with one of its e-mail addresses, and every row of its
    registered customers' (SHOP_ID, SHOP_KUNDE_ID), so the lowest REC_ID in memory is the one
    ``ORDER BY REC_ID LIMIT 1`` would find."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, list[tuple[int, str, str, str]]] = field(default_factory=dict)
    # ADDR_ID -> its delivery addresses (REC_ID, (NAME1, NAME2, STRASSE, PLZ, ORT, LAND)),
    # in REC_ID order; complete for every address in ``rows``.
    deliveries: dict[int, list[tuple[int, tuple[Any, ...]]]] = field(default_factory=dict)
    # Customer and debtor numbers reserved for the batch's new addresses.
    kunnums: list[str] = field(default_factory=list)
    deb_nums: list[int] = field(default_factory=list)
    by_customer: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    by_email: dict[str, set[int]] = field(default_factory=dict)

    def put(self, addr_id: int, row: dict[str, Any]) -> None:
        """Remember a row as it now is in ADRESSEN (read, inserted or updated)."""
        old = self.rows.get(addr_id)
        if old is not None:
            self.by_customer.get((old["SHOP_ID"], old["SHOP_KUNDE_ID"]), set()).discard(addr_id)
            self.by_email.get(email_key(old["EMAIL"]), set()).discard(addr_id)
        self.rows[addr_id] = row
        self.by_customer.setdefault((row["SHOP_ID"], row["SHOP_KUNDE_ID"]), set()).add(addr_id)
        self.by_email.setdefault(email_key(row["EMAIL"]), set()).add(addr_id)

    @classmethod
    def read(cls, conn: Connection, t: Mapping[str, str], payloads: Sequence[Mapping[str, Any]],
             cao_shop_ids: Sequence[int]) -> Known | None:
        """None where memory could answer differently from MariaDB: a non-ASCII e-mail, or
        a row that MariaDB matched but the ASCII comparison would not (a collation that is
        not case-insensitive ASCII); the batch then finds each customer by SQL."""
        emails = sorted({p["customer"]["email"].strip() for p in payloads})
        if not all(e.isascii() for e in emails):
            return None
        known = cls()
        columns = ", ".join(ADDRESS_COLUMNS)
        registered: dict[int, set[int]] = {}
        for payload, shop_id in zip(payloads, cao_shop_ids, strict=True):
            customer = payload["customer"]
            if not customer["guest"] and customer.get("shop_customer_id") is not None:
                registered.setdefault(shop_id, set()).add(int(customer["shop_customer_id"]))
        for shop_id, ids in sorted(registered.items()):
            for row in conn.exec_driver_sql(
                    f"SELECT {columns} FROM {t['ADRESSEN']} WHERE SHOP_ID = %s AND "
                    f"SHOP_KUNDE_ID IN ({', '.join(['%s'] * len(ids))})",
                    (shop_id, *sorted(ids))).all():
                known.put(int(row[0]), dict(zip(ADDRESS_COLUMNS, row, strict=True)))
        wanted = {email_key(e) for e in emails}
        for row in conn.exec_driver_sql(
                f"SELECT {columns} FROM {t['ADRESSEN']} WHERE EMAIL IN "
                f"({', '.join(['%s'] * len(emails))})", tuple(emails)).all():
            if email_key(row[4]) not in wanted:
                return None
            known.put(int(row[0]), dict(zip(ADDRESS_COLUMNS, row, strict=True)))
        if known.rows:
            addr_ids = sorted(known.rows)
            for addr_id, rec_id, email, first, last in conn.exec_driver_sql(
                    f"SELECT ADDR_ID, REC_ID, EMAIL, VORNAME, NAME FROM {t['ADRESSEN_ASP']} "
                    f"WHERE ADDR_ID IN ({', '.join(['%s'] * len(addr_ids))}) ORDER BY REC_ID",
                    tuple(addr_ids)).all():
                known.contacts.setdefault(int(addr_id), []).append(
                    (int(rec_id), email or "", first or "", last or ""))
            # Without an index on ADDR_ID (CAO has none) one scan for the batch, not one
            # per order.
            for row in conn.exec_driver_sql(
                    f"SELECT REC_ID, ADDR_ID, {', '.join(DELIVERY_COLUMNS)} FROM "
                    f"{t['ADRESSEN_LIEF']} WHERE ADDR_ID IN ({', '.join(['%s'] * len(addr_ids))})"
                    f" ORDER BY REC_ID", tuple(addr_ids)).all():
                known.deliveries.setdefault(int(row[1]), []).append((int(row[0]), tuple(row[2:])))
        return known

    def count_new(self, orders: Iterable[tuple[int, int | None, str]]) -> int:
        """How many new addresses the orders (cao_shop_id, shop customer id or None,
        e-mail), imported in turn, create: each one found or created changes what the
        next can find (its e-mail, shop and customer id), so this plays that through on a
        copy. The batch reserves that many numbers at once."""
        sim = Known()
        for addr_id, row in self.rows.items():
            sim.put(addr_id, {c: row[c] for c in ("SHOP_ID", "SHOP_KUNDE_ID", "EMAIL")})
        new = 0
        for shop_id, shop_customer_id, email in orders:
            found = sim.find(shop_id, shop_customer_id, email)
            if found is None:
                new += 1
                found = -new
                row = {"SHOP_ID": shop_id, "SHOP_KUNDE_ID": -1, "EMAIL": email}
            else:
                row = {**sim.rows[found], "SHOP_ID": shop_id, "EMAIL": email}
            if shop_customer_id is not None:
                row["SHOP_KUNDE_ID"] = shop_customer_id
            sim.put(found, row)
        return new

    def delivery(self, addr_id: int, values: tuple[Any, ...]) -> int | None:
        """The delivery address with exactly these values (None: ask MariaDB, whose
        comparison ignores case and trailing spaces; 0: the address has none, so MariaDB
        would find none either)."""
        rows = self.deliveries.get(addr_id, [])
        if not rows:
            return 0
        loose = [_loose(v) for v in values]
        for rec_id, stored in rows:
            if stored == values:
                return rec_id
            if [_loose(v) for v in stored] == loose:
                return None     # an earlier row MariaDB may count as the same: its call
        return None

    def find(self, cao_shop_id: int, shop_customer_id: int | None, email: str) -> int | None:
        if shop_customer_id is not None:
            hits = self.by_customer.get((cao_shop_id, shop_customer_id))
            if hits:
                return min(hits)
        hits = self.by_email.get(email_key(email))
        return min(hits) if hits else None

    def contact(self, addr_id: int, email: str) -> int | None:
        key = email.lower()
        return next((rec for rec, e, _, _ in self.contacts.get(addr_id, [])
                     if e.lower() == key), None)

    def names(self, addr_id: int) -> Iterable[tuple[str, str]]:
        return [(first, last) for _, _, first, last in self.contacts.get(addr_id, [])]


class Customers:
    def __init__(self, *, t: Mapping[str, str], numbers: NumberRanges) -> None:
        self.t = t
        self.numbers = numbers

    def reserve(self, conn: Connection, known: Known, payloads: Sequence[Mapping[str, Any]],
                cao_shop_ids: Sequence[int]) -> None:
        """Reserve the customer and debtor numbers of the addresses the batch's orders will
        create (``Known.count_new``): two statements per range instead of two per address."""
        orders = []
        for payload, shop_id in zip(payloads, cao_shop_ids, strict=True):
            customer = payload["customer"]
            orders.append((shop_id, None if customer["guest"] else
                           customer.get("shop_customer_id"), customer["email"].strip()))
        new = known.count_new(orders)
        known.kunnums = self.numbers.many_formatted(conn, KUNNUM_RANGE, new, "customer number")
        known.deb_nums = self.numbers.many_ints(conn, DEB_NUM_RANGE, new, "debtor number")

    def find_or_create(self, conn: Connection, payload: Mapping[str, Any], *, cao_shop_id: int,
                       land: str, delivery_land: str, price_level: int,
                       fit: Fitter, known: Known | None = None) -> Customer:
        """The order's customer, found (and updated from the order) or created.

        Args:
            known: the batch's addresses read at once; without it every lookup is SQL.
        """
        customer = payload["customer"]
        billing = payload["addresses"]["billing"]
        email = customer["email"].strip()
        shop_customer_id = None if customer["guest"] else customer.get("shop_customer_id")
        addr_id = (known.find(cao_shop_id, shop_customer_id, email) if known is not None
                   else self._find(conn, cao_shop_id, shop_customer_id, email))
        first, last = split_name(billing["name"])
        company = billing.get("company")
        values = {
            "ANREDE": fit("ADRESSEN.ANREDE", "Firma" if company else None),
            "NAME1": fit("ADRESSEN.NAME1", company or billing["name"], label="customer name"),
            "NAME2": fit("ADRESSEN.NAME2", billing["name"] if company else None),
            "STRASSE": fit("ADRESSEN.STRASSE", billing["street"], label="customer street"),
            "PLZ": fit("ADRESSEN.PLZ", billing["postcode"]),
            "ORT": fit("ADRESSEN.ORT", billing["city"], label="customer city"),
            "LAND": land,
            "EMAIL": fit("ADRESSEN.EMAIL", email),
            "TELE1": fit("ADRESSEN.TELE1", customer.get("telephone") or None),
            "SHOP_ID": cao_shop_id,
            "GEAEND": date.today(),
        }
        if shop_customer_id is not None:
            # Only account holders are shop customers: a guest marked so would get an
            # account created back in the shop (K1).
            values["SHOP_KUNDE_ID"] = shop_customer_id
            values["SHOP_KUNDE"] = "Y"
        created = addr_id is None
        kunnum = deb_num = None
        if addr_id is None:
            if known is not None and known.kunnums and known.deb_nums:
                kunnum, deb_num = known.kunnums.pop(0), known.deb_nums.pop(0)
            else:
                kunnum = self.numbers.next_formatted(conn, KUNNUM_RANGE, "customer number")
                deb_num = self.numbers.next_int(conn, DEB_NUM_RANGE, "debtor number")
            values.update({
                "MATCHCODE": fit("ADRESSEN.MATCHCODE", (company or last or email).upper()),
                "KUNNUM1": kunnum, "DEB_NUM": deb_num, "PR_EBENE": price_level,
                "KUN_SEIT": date.today(), "ERSTELLT": date.today(), "ERST_NAME": "shopbridge",
            })
            columns = ", ".join(values)
            result = conn.exec_driver_sql(
                f"INSERT INTO {self.t['ADRESSEN']} ({columns}) "
                f"VALUES ({', '.join(['%s'] * len(values))})", tuple(values.values()))
            addr_id = int(result.lastrowid)
            if known is not None:
                known.put(addr_id, {**dict.fromkeys(ADDRESS_COLUMNS), "SHOP_KUNDE_ID": -1,
                                    "SHOP_KUNDE": "N", **values, "REC_ID": addr_id})
        elif known is None:
            if self._names_agree(conn, addr_id, company, billing["name"]):
                for column in ("ANREDE", "NAME1", "NAME2"):
                    del values[column]
            self._update(conn, addr_id, values)
            row = conn.exec_driver_sql(f"SELECT KUNNUM1, DEB_NUM FROM {self.t['ADRESSEN']} "
                                       f"WHERE REC_ID = %s", (addr_id,)).one()
            kunnum, deb_num = row[0], row[1]
        else:
            stored = known.rows[addr_id]
            if self._agree(stored["ANREDE"], stored["NAME1"], stored["NAME2"], company,
                           billing["name"], lambda: known.names(addr_id)):
                for column in ("ANREDE", "NAME1", "NAME2"):
                    del values[column]
            # A returning customer's order usually changes nothing: no statement then.
            changed = {c: v for c, v in values.items() if stored.get(c) != v}
            if changed:
                self._update(conn, addr_id, changed)
                known.put(addr_id, {**stored, **changed})
            kunnum, deb_num = stored["KUNNUM1"], stored["DEB_NUM"]
        asp_id = -1
        if shop_customer_id is not None:
            asp_id = self._contact(conn, addr_id, first, last, email,
                                   customer.get("telephone"), fit, known)
        lief_addr_id = -1
        delivery = payload["addresses"]["delivery"]
        if not _same(delivery, billing):
            lief_addr_id = self._delivery(conn, addr_id, delivery, delivery_land, fit, known)
        return Customer(addr_id, kunnum, deb_num, asp_id, lief_addr_id, created)

    def _update(self, conn: Connection, addr_id: int, values: Mapping[str, Any]) -> None:
        assignments = ", ".join(f"{c} = %s" for c in values)
        conn.exec_driver_sql(f"UPDATE {self.t['ADRESSEN']} SET {assignments} "
                             f"WHERE REC_ID = %s", (*values.values(), addr_id))

    def _names_agree(self, conn: Connection, addr_id: int, company: str | None,
                     person: str) -> bool:
        """Whether the address already names this company and person, however CAO writes
        them ("z. Hd. Frau Dr. Petra Schmidt", or the person only as a contact): then an
        order leaves its name lines alone. The shop's account name is derived from them
        (systems/cao/names.py), so rewriting them from the order would only lose the
        merchant's salutation, title and attention line."""
        row = conn.exec_driver_sql(
            f"SELECT ANREDE, NAME1, NAME2 FROM {self.t['ADRESSEN']} WHERE REC_ID = %s",
            (addr_id,)).one()
        return self._agree(row[0], row[1], row[2], company, person, lambda: [
            (first, last) for first, last in conn.exec_driver_sql(
                f"SELECT VORNAME, NAME FROM {self.t['ADRESSEN_ASP']} WHERE ADDR_ID = %s",
                (addr_id,)).all()])

    @staticmethod
    def _agree(anrede: str | None, name1_: str | None, name2: str | None,
               company: str | None, person: str,
               contacts: Callable[[], Iterable[tuple[str | None, str | None]]]) -> bool:
        """``_names_agree`` on the address's name lines; ``contacts`` read only if needed."""
        name1, firma = without_firma(name1_ or "")
        wanted = _person(person)
        if not company:
            return not firma and anrede != "Firma" and _person(name1) == wanted
        if _plain(name1) != _plain(company):
            return False
        if name2 and _person(name2) == wanted:
            return True
        return any(_person(f"{first or ''} {last or ''}") == wanted
                   for first, last in contacts())

    def _find(self, conn: Connection, cao_shop_id: int, shop_customer_id: int | None,
              email: str) -> int | None:
        if shop_customer_id is not None:
            row = conn.exec_driver_sql(
                f"SELECT REC_ID FROM {self.t['ADRESSEN']} WHERE SHOP_ID = %s AND "
                f"SHOP_KUNDE_ID = %s ORDER BY REC_ID LIMIT 1",
                (cao_shop_id, shop_customer_id)).first()
            if row:
                return int(row[0])
        # No LOWER(): CAO's latin1 columns compare case-insensitively already, and a bare
        # column can use an index (consumers/cao/indexes.py).
        row = conn.exec_driver_sql(
            f"SELECT REC_ID FROM {self.t['ADRESSEN']} WHERE EMAIL = %s "
            f"ORDER BY REC_ID LIMIT 1", (email,)).first()
        return int(row[0]) if row else None

    def _contact(self, conn: Connection, addr_id: int, first: str, last: str, email: str,
                 telephone: str | None, fit: Fitter, known: Known | None = None) -> int:
        if known is not None:
            found = known.contact(addr_id, email)
            if found is not None:
                return found
        else:
            row = conn.exec_driver_sql(
                f"SELECT REC_ID FROM {self.t['ADRESSEN_ASP']} WHERE ADDR_ID = %s AND "
                f"LOWER(EMAIL) = LOWER(%s) ORDER BY REC_ID LIMIT 1", (addr_id, email)).first()
            if row:
                return int(row[0])
        values = (addr_id, fit("ADRESSEN_ASP.NAME", last), fit("ADRESSEN_ASP.VORNAME", first),
                  fit("ADRESSEN_ASP.EMAIL", email), fit("ADRESSEN_ASP.TELEFON", telephone or None))
        result = conn.exec_driver_sql(
            f"INSERT INTO {self.t['ADRESSEN_ASP']} (ADDR_ID, NAME, VORNAME, EMAIL, TELEFON) "
            # VORNAME is NOT NULL in CAO: a one-word name has an empty first name.
            f"VALUES (%s, %s, %s, %s, %s)", values)
        rec_id = int(result.lastrowid)
        if known is not None:
            known.contacts.setdefault(addr_id, []).append(
                (rec_id, values[3] or "", values[2] or "", values[1] or ""))
        return rec_id

    def _delivery(self, conn: Connection, addr_id: int, address: Mapping[str, Any], land: str,
                  fit: Fitter, known: Known | None = None) -> int:
        company = address.get("company")
        values = (
            fit("ADRESSEN_LIEF.NAME1", company or address["name"], label="delivery name"),
            fit("ADRESSEN_LIEF.NAME2", address["name"] if company else None),
            fit("ADRESSEN_LIEF.STRASSE", address["street"], label="delivery street"),
            fit("ADRESSEN_LIEF.PLZ", address["postcode"]),
            fit("ADRESSEN_LIEF.ORT", address["city"], label="delivery city"),
            land,
        )
        found = known.delivery(addr_id, values) if known is not None else None
        if found:
            return found
        if found is None:
            row = conn.exec_driver_sql(
                f"SELECT REC_ID FROM {self.t['ADRESSEN_LIEF']} WHERE ADDR_ID = %s AND NAME1 <=> "
                f"%s AND NAME2 <=> %s AND STRASSE <=> %s AND PLZ <=> %s AND ORT <=> %s AND "
                f"LAND <=> %s ORDER BY REC_ID LIMIT 1", (addr_id, *values)).first()
            if row:
                return int(row[0])
        result = conn.exec_driver_sql(
            f"INSERT INTO {self.t['ADRESSEN_LIEF']} (ADDR_ID, ANREDE, NAME1, NAME2, STRASSE, "
            f"PLZ, ORT, LAND) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (addr_id, "Firma" if company else None, *values))
        rec_id = int(result.lastrowid)
        if known is not None:
            known.deliveries.setdefault(addr_id, []).append((rec_id, values))
        return rec_id
