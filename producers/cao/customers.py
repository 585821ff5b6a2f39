"""ERP customers marked for a shop -> ``customer.upserted`` (K1).

CAO marks a shop customer with ADRESSEN.SHOP_KUNDE = 'Y' and SHOP_ID (NOTES 3). The diff works
like the article diff: an MD5 over the columns the payload uses is compared on the server with
the snapshot, and only changed customers come back.

Who the account is named after (the account's first and last name; the company goes to the
address book entry):

- A company is an address with ANREDE 'Firma', or a NAME1 that starts with "Firma", or an
  attention line ("z. Hd. ...") in NAME2 or NAME3: each says NAME1 names an organisation.
- A company's person is its contact person (ADRESSEN_ASP) when it has one with a name: the
  contact whose EMAIL is the address's EMAIL (the account's login, so that person uses
  it; shopbridge's own customer import creates exactly this contact), else the oldest
  contact (lowest REC_ID: adding a contact later renames nobody). CAO has no "main
  contact" flag. A private address is its own person: its contacts are other people.
- Without a contact, the person is the company's attention line (NAME2 or NAME3, the
  first that starts with "z. Hd."), else NAME2 as CAO's own shop import writes it, unless
  that is a "c/o" line; for a private address NAME1. The line is split by
  ``names.split_person_name`` (attention markers, salutations and titles dropped).
- A company without any person is named after the company alone (last name).
- Gender: a contact's own salutation (ANREDE, or one in its name), else GESCHLECHT; for the
  address's own person GESCHLECHT, else its salutation (ANREDE or in the name line).

The contacts of every selected address are part of its hash (their REC_ID, ANREDE, VORNAME,
NAME, EMAIL), so a changed contact republishes the customer; the page's contacts are then
read in one query by ADDR_ID.

The default delivery address (``DEFAULT_LIEFANSCHRIFT_ID`` -> ``ADRESSEN_LIEF``, where the CAO
version has both) travels as ``delivery_address`` (customer.upserted v2), named by the same
rules (its own NAME1..3 and ANREDE, no contacts); its columns are part of the hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import TableNames, columns_of, quote_ident
from systems.cao.names import (
    PersonName,
    contact_name,
    is_attention_line,
    is_care_of,
    split_person_name,
    without_firma,
)

from .payload import text_or_none
from .rows import grouped_by
from .snapshot import ChangedRow, changed_rows, diff_sql, hash_parts

ENTITY = "customer"
COLUMNS = ("KUNNUM1", "ANREDE", "GESCHLECHT", "NAME1", "NAME2", "NAME3", "STRASSE", "PLZ",
           "ORT", "LAND", "TELE1", "EMAIL", "KUN_GEBDATUM", "SHOP_NEWSLETTER", "SHOP_ID",
           "SHOP_KUNDE_ID", "PR_EBENE", "SHOP_DEL_FLAG")
CONTACT_COLUMNS = ("REC_ID", "ANREDE", "VORNAME", "NAME", "EMAIL")
DELIVERY_COLUMNS = ("ANREDE", "NAME1", "NAME2", "NAME3", "STRASSE", "PLZ", "ORT", "LAND")
# Part of every hash: bump it when ``payload`` changes, and every customer is republished.
PAYLOAD_FORMAT = "customer/3"
_GESCHLECHT = {"M": "m", "W": "f", "F": "f"}


class CustomerSource:
    def __init__(self) -> None:
        self.t: dict[str, str] = {}

    def resolve(self, conn: Connection) -> bool:
        """Find the tables whatever their case; False when there is no ADRESSEN table.

        LAND, ADRESSEN_ASP and ADRESSEN_LIEF (with ADRESSEN.DEFAULT_LIEFANSCHRIFT_ID) are
        optional: without them no country code, no contacts, no delivery address.
        """
        names = TableNames.read(conn)
        found = {logical: names.find(logical)
                 for logical in ("ADRESSEN", "LAND", "ADRESSEN_ASP", "ADRESSEN_LIEF")}
        addresses = found["ADRESSEN"]
        if addresses is None:
            return False
        if "DEFAULT_LIEFANSCHRIFT_ID" not in columns_of(conn, addresses):
            found["ADRESSEN_LIEF"] = None
        self.t = {k: quote_ident(v) if v else "" for k, v in found.items()}
        return True

    def _land(self, alias: str) -> str:
        """SQL: the ISO code of ``alias``.LAND, or NULL."""
        return (f"(SELECT c.ISO_CODE_3 FROM {self.t['LAND']} c WHERE c.ID = {alias}.LAND)"
                if self.t["LAND"] else "NULL")

    def _selection(self) -> str:
        return ("a.SHOP_KUNDE = 'Y' AND a.SHOP_ID > 0 AND a.SHOP_DEL_FLAG <> 'Y' "
                "AND a.EMAIL IS NOT NULL AND TRIM(a.EMAIL) <> ''")

    def _contacts_hash_sql(self) -> str:
        # Every contact's columns that ``main_contact`` and the name read, not just the chosen
        # one's: the rule then lives in Python only. Found through ADRESSEN_ASP's key
        # NAME (ADDR_ID, NAME, VORNAME), one short range per address.
        if not self.t["ADRESSEN_ASP"]:
            return "_binary'-'"
        columns = hash_parts("p", CONTACT_COLUMNS)
        return (f"IFNULL((SELECT GROUP_CONCAT(MD5(CONCAT_WS(_binary'|', {columns})) "
                f"ORDER BY p.REC_ID SEPARATOR ',') FROM {self.t['ADRESSEN_ASP']} p "
                f"WHERE p.ADDR_ID = a.REC_ID), _binary'-')")

    def changed(self, conn: Connection, *, after: int, limit: int,
                everything: bool = False) -> list[ChangedRow]:
        """Selected addresses whose hash differs from the snapshot, by REC_ID.

        Returns:
            (row, src_hash, last published version or None) per address; the row holds
            REC_ID, the ADRESSEN columns of ``COLUMNS`` and ISO3 (the country's code).
        """
        hashed = hash_parts("a", COLUMNS)
        land = self._land("a")
        select = f"a.REC_ID, {', '.join(f'a.{c}' for c in COLUMNS)}, {land} AS ISO3"
        source = f"{self.t['ADRESSEN']} a"
        delivery = "_binary'-'"
        if self.t["ADRESSEN_LIEF"]:
            # (REC_ID, ADDR_ID) is ADRESSEN_LIEF's key: at most one row per address.
            source += (f" LEFT JOIN {self.t['ADRESSEN_LIEF']} d ON d.REC_ID = "
                       f"a.DEFAULT_LIEFANSCHRIFT_ID AND d.ADDR_ID = a.REC_ID")
            select += (", " + ", ".join(f"d.{c} AS LIEF_{c}" for c in DELIVERY_COLUMNS)
                       + f", {self._land('d')} AS LIEF_ISO3")
            delivery = (f"{hash_parts('d', DELIVERY_COLUMNS)}, "
                        f"CAST(QUOTE({self._land('d')}) AS BINARY)")
        result = conn.exec_driver_sql(diff_sql(
            select=select,
            hashed=f"{hashed}, CAST(QUOTE({land}) AS BINARY), {self._contacts_hash_sql()}, "
                   f"{delivery}",
            source=source, key="a.REC_ID", where=self._selection(), everything=everything),
            (PAYLOAD_FORMAT, ENTITY, after, limit))
        return changed_rows(result)

    def contacts(self, conn: Connection, rows: Iterable[Mapping[str, Any]]
                 ) -> dict[int, list[dict[str, Any]]]:
        """ADDR_ID -> its contact persons (``CONTACT_COLUMNS``, by REC_ID) for a page of rows."""
        ids = [int(r["REC_ID"]) for r in rows]
        if not ids or not self.t["ADRESSEN_ASP"]:
            return {}
        # The BETWEEN bound lets MariaDB use the key: a long IN list alone scans (load_specials).
        result = conn.exec_driver_sql(
            f"SELECT ADDR_ID, {', '.join(CONTACT_COLUMNS)} FROM {self.t['ADRESSEN_ASP']} "
            f"WHERE ADDR_ID BETWEEN %s AND %s AND ADDR_ID IN ({', '.join(['%s'] * len(ids))}) "
            f"ORDER BY ADDR_ID, REC_ID", (min(ids), max(ids), *ids))
        return grouped_by(result, "ADDR_ID")


def company_of(row: Mapping[str, Any]) -> str | None:
    """The company an address names (NAME1, without a typed "Firma"), None for a person."""
    name1 = text_or_none(row.get("NAME1"))
    if name1 is None:
        return None
    name1, typed_firma = without_firma(name1)
    marked = (text_or_none(row.get("ANREDE")) or "").casefold() == "firma"
    attention = any(is_attention_line(row.get(c)) for c in ("NAME2", "NAME3"))
    return name1 if typed_firma or marked or attention else None


def main_contact(email: str, contacts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The contact person an account of ``email`` is named after (module docstring): the
    named contact with that e-mail, else the oldest named contact, else None."""
    named = sorted((c for c in contacts
                    if text_or_none(c.get("NAME")) or text_or_none(c.get("VORNAME"))),
                   key=lambda c: int(c["REC_ID"]))
    wanted = email.strip().casefold()
    same = (c for c in named if (text_or_none(c.get("EMAIL")) or "").casefold() == wanted)
    return next(same, named[0] if named else None)


def _person_line(row: Mapping[str, Any]) -> str | None:
    """A company's line naming its person: the attention line, else NAME2 (not "c/o")."""
    lines = [text_or_none(row.get(c)) for c in ("NAME2", "NAME3")]
    marked = next((line for line in lines if is_attention_line(line)), None)
    if marked is not None or lines[0] is None or is_care_of(lines[0]):
        return marked
    return lines[0]


def person_of(row: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]] = ()
              ) -> PersonName:
    """Who the account of an ADRESSEN row is named after (module docstring), with gender."""
    geschlecht = _GESCHLECHT.get(str(row.get("GESCHLECHT") or "").strip().upper())
    company = company_of(row)
    contact = main_contact(str(row["EMAIL"]), contacts) if company else None
    if contact is not None:
        name = contact_name(contact.get("VORNAME"), contact.get("NAME"), contact.get("ANREDE"))
        return PersonName(name.first, name.last, name.gender or geschlecht)
    line = _person_line(row) if company else row.get("NAME1")
    name = split_person_name(line, salutation=row.get("ANREDE"))
    return PersonName(name.first, name.last, geschlecht or name.gender)


def delivery_of(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The default delivery address of an ADRESSEN row joined to ADRESSEN_LIEF (``LIEF_``
    columns), named like an address without contacts; None where there is none."""
    if not (text_or_none(row.get("LIEF_NAME1")) or text_or_none(row.get("LIEF_STRASSE"))):
        return None
    lief = {c: row.get(f"LIEF_{c}") for c in DELIVERY_COLUMNS} | {"EMAIL": row["EMAIL"]}
    company = company_of(lief)
    person = person_of(lief)
    return {"company": company, "firstname": person.first,
            "lastname": person.last or company or text_or_none(lief["NAME1"]) or "",
            "street": text_or_none(lief["STRASSE"]) or "",
            "postcode": text_or_none(lief["PLZ"]) or "",
            "city": text_or_none(lief["ORT"]) or "",
            "country_iso3": text_or_none(row.get("LIEF_ISO3")),
            "erp_country": text_or_none(lief["LAND"])}


def payload(row: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]] = ()
            ) -> dict[str, Any]:
    """ADRESSEN row and its contact persons -> customer.upserted payload (v2: with
    ``delivery_address`` where the address has a default delivery address)."""
    company = company_of(row)
    person = person_of(row, contacts)
    # Phoenix needs a last name: a company without a person is named after itself.
    fallback = company or text_or_none(row.get("NAME1")) or str(row["EMAIL"]).strip()
    dob = row.get("KUN_GEBDATUM")
    level = row.get("PR_EBENE")
    body: dict[str, Any] = {
        "erp_id": int(row["REC_ID"]),
        "customer_number": text_or_none(row.get("KUNNUM1")),
        "shop_id": int(row["SHOP_ID"]),
        "shop_customer_id": row["SHOP_KUNDE_ID"] if (row.get("SHOP_KUNDE_ID") or -1) > 0
        else None,
        "email": str(row["EMAIL"]).strip(),
        "gender": person.gender,
        "firstname": person.first,
        "lastname": person.last or fallback,
        "company": company,
        "telephone": text_or_none(row.get("TELE1")),
        "date_of_birth": dob.isoformat() if isinstance(dob, date) else None,
        "newsletter": row.get("SHOP_NEWSLETTER") == "Y",
        "price_level": int(level) if level and 1 <= int(level) <= 5 else None,
        "address": {"street": text_or_none(row.get("STRASSE")) or "",
                    "postcode": text_or_none(row.get("PLZ")) or "",
                    "city": text_or_none(row.get("ORT")) or "",
                    "country_iso3": text_or_none(row.get("ISO3")),
                    "erp_country": text_or_none(row.get("LAND"))},
    }
    delivery = delivery_of(row)
    if delivery is not None:        # absent otherwise: the payload of v1 customers is kept
        body["delivery_address"] = delivery
    return body
