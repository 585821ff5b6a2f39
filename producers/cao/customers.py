"""ERP customers marked for a shop -> ``customer.upserted`` (K1).

CAO marks a shop customer with ADRESSEN.SHOP_KUNDE = 'Y' and SHOP_ID (NOTES 3). The diff works
like the article diff: an MD5 over the columns the payload uses is compared on the server with
the snapshot, and only changed customers come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import TableNames, quote_ident

from .payload import text_or_none
from .snapshot import SNAPSHOT_TABLE

ENTITY = "customer"
COLUMNS = ("KUNNUM1", "ANREDE", "GESCHLECHT", "NAME1", "NAME2", "STRASSE", "PLZ", "ORT",
           "LAND", "TELE1", "EMAIL", "KUN_GEBDATUM", "SHOP_NEWSLETTER", "SHOP_ID",
           "SHOP_KUNDE_ID", "PR_EBENE", "SHOP_DEL_FLAG")


class CustomerSource:
    def __init__(self) -> None:
        self.t: dict[str, str] = {}

    def resolve(self, conn: Connection) -> bool:
        names = TableNames.read(conn)
        adressen, land = names.find("ADRESSEN"), names.find("LAND")
        if adressen is None:
            return False
        self.t = {"ADRESSEN": quote_ident(adressen), "LAND": quote_ident(land) if land else ""}
        return True

    def _selection(self) -> str:
        return ("a.SHOP_KUNDE = 'Y' AND a.SHOP_ID > 0 AND a.SHOP_DEL_FLAG <> 'Y' "
                "AND a.EMAIL IS NOT NULL AND TRIM(a.EMAIL) <> ''")

    def changed(self, conn: Connection, *, after: int, limit: int
                ) -> list[tuple[dict[str, Any], bytes, int | None]]:
        hashed = ", ".join(f"CAST(QUOTE(a.{c}) AS BINARY)" for c in COLUMNS)
        land = (f"(SELECT l.ISO_CODE_3 FROM {self.t['LAND']} l WHERE l.ID = a.LAND)"
                if self.t["LAND"] else "NULL")
        result = conn.exec_driver_sql(
            f"SELECT a.REC_ID, {', '.join(f'a.{c}' for c in COLUMNS)}, {land} AS ISO3, "
            f"UNHEX(MD5(CONCAT_WS(_binary'|', {hashed}, CAST(QUOTE({land}) AS BINARY)))) AS h, "
            f"s.version, s.src_hash FROM {self.t['ADRESSEN']} a LEFT JOIN {SNAPSHOT_TABLE} s "
            f"ON s.entity_type = %s AND s.entity_key = a.REC_ID "
            f"WHERE a.REC_ID > %s AND {self._selection()} "
            f"HAVING s.src_hash IS NULL OR s.src_hash <> h ORDER BY a.REC_ID LIMIT %s",
            (ENTITY, after, limit))
        keys = list(result.keys())
        out = []
        for row in result:
            item = dict(zip(keys, row, strict=True))
            out.append((item, bytes(item["h"]), item["version"]))
        return out



def payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """ADRESSEN row -> customer.upserted payload. A company keeps its name in NAME1 and the
    person in NAME2 (ANREDE 'Firma'), as CAO's shop import writes it."""
    is_company = (row.get("ANREDE") or "").strip() == "Firma"
    company = text_or_none(row["NAME1"]) if is_company else None
    person = text_or_none(row["NAME2"] if company else row["NAME1"]) or company or ""
    first, _, last = person.rpartition(" ")
    gender = {"M": "m", "W": "f", "F": "f"}.get(str(row.get("GESCHLECHT") or "").upper())
    dob = row.get("KUN_GEBDATUM")
    level = row.get("PR_EBENE")
    return {
        "erp_id": int(row["REC_ID"]),
        "customer_number": text_or_none(row.get("KUNNUM1")),
        "shop_id": int(row["SHOP_ID"]),
        "shop_customer_id": row["SHOP_KUNDE_ID"] if (row.get("SHOP_KUNDE_ID") or -1) > 0
        else None,
        "email": str(row["EMAIL"]).strip(),
        "gender": gender,
        "firstname": first or None,
        "lastname": last or person or str(row["EMAIL"]),
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
