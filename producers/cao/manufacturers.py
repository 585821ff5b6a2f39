"""ERP manufacturers of a shop -> ``manufacturer.upserted`` / ``manufacturer.deleted`` (C2).

CAO keeps a manufacturer in HERSTELLER, PK (SHOP_ID, HERSTELLER_ID), and one URL per language
in HERSTELLER_INFO, PK (SHOP_ID, HERSTELLER_ID, SPRACHE_ID) (NOTES 3). A manufacturer is
selected when SHOP_ID > 0, DEL_FLAG <> 'Y' and it has a name. CAO's own CHANGE_FLAG is not
used (DESIGN 4): the diff works like the customer diff, an MD5 over the columns the payload
uses (and over the URL rows with their language code) is compared on the server with the
snapshot, so only changed manufacturers come back.

The entity key is HERSTELLER_ID alone, because that is what ARTIKEL.HERSTELLER_ID points to.
Its auto-increment runs over the key IDX_HERSTELLER_ID, so CAO never gives two rows one id;
should a hand-made row repeat an id under another SHOP_ID, the row with the lowest SHOP_ID
wins, so that the two cannot overwrite each other's snapshot hash on every cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import TableNames, quote_ident

from .payload import text_or_none
from .snapshot import SNAPSHOT_TABLE, ChangedRow, changed_rows, diff_sql, hash_parts

ENTITY = "manufacturer"
COLUMNS = ("SHOP_ID", "HERSTELLER_ID", "HERSTELLER_NAME", "HERSTELLER_IMAGE")
# Part of every hash: bump it when ``payload`` changes, and every manufacturer is republished.
PAYLOAD_FORMAT = "manufacturer/1"


class ManufacturerSource:
    """Reads HERSTELLER / HERSTELLER_INFO / SPRACHEN. Call ``resolve`` once per database."""

    def __init__(self) -> None:
        self.t: dict[str, str] = {}

    def resolve(self, conn: Connection) -> bool:
        """Find the tables whatever their case; False when there is no HERSTELLER table.

        HERSTELLER_INFO and SPRACHEN are optional: without them manufacturers have no URLs.
        """
        names = TableNames.read(conn)
        found = {logical: names.find(logical)
                 for logical in ("HERSTELLER", "HERSTELLER_INFO", "SPRACHEN")}
        if found["HERSTELLER"] is None:
            return False
        self.t = {k: quote_ident(v) if v else "" for k, v in found.items()}
        return True

    def language_codes(self, conn: Connection) -> dict[int, str]:
        """SPRACH_ID -> lower-case language code, as ``CaoSource.language_codes``."""
        if not self.t["SPRACHEN"]:
            return {}
        rows = conn.exec_driver_sql(f"SELECT SPRACH_ID, CODE FROM {self.t['SPRACHEN']}")
        return {int(i): str(c).strip().lower() for i, c in rows if c and str(c).strip()}

    @staticmethod
    def _selected(alias: str) -> str:
        return (f"{alias}.SHOP_ID > 0 AND {alias}.DEL_FLAG <> 'Y' "
                f"AND TRIM({alias}.HERSTELLER_NAME) <> ''")

    def _urls_hash_sql(self) -> str:
        # The code, not the SPRACHE_ID, goes into the hash: the payload is keyed by code, so
        # a SPRACHEN code that changes republishes. URL_CLICKED and DATE_LAST_CLICK stay out.
        if not self.t["HERSTELLER_INFO"]:
            return "_binary'-'"
        code = (f"(SELECT sp.CODE FROM {self.t['SPRACHEN']} sp WHERE sp.SPRACH_ID = i.SPRACHE_ID)"
                if self.t["SPRACHEN"] else "NULL")
        return (f"IFNULL((SELECT GROUP_CONCAT(MD5(CONCAT_WS(_binary'|', "
                f"CAST(i.SPRACHE_ID AS BINARY), CAST(QUOTE({code}) AS BINARY), "
                f"CAST(QUOTE(i.HERSTELLER_URL) AS BINARY))) ORDER BY i.SPRACHE_ID SEPARATOR ',') "
                f"FROM {self.t['HERSTELLER_INFO']} i "
                f"WHERE i.SHOP_ID = m.SHOP_ID AND i.HERSTELLER_ID = m.HERSTELLER_ID), "
                f"_binary'-')")

    def changed(self, conn: Connection, *, after: int, limit: int,
                everything: bool = False) -> list[ChangedRow]:
        """Selected manufacturers whose hash differs from the snapshot, by HERSTELLER_ID.

        Returns:
            (row, src_hash, last published version or None) per manufacturer; the row holds
            the HERSTELLER columns of ``COLUMNS``.
        """
        hashed = hash_parts("m", COLUMNS)
        result = conn.exec_driver_sql(diff_sql(
            select=", ".join(f"m.{c}" for c in COLUMNS),
            hashed=f"{hashed}, {self._urls_hash_sql()}",
            source=f"{self.t['HERSTELLER']} m", key="m.HERSTELLER_ID",
            where=f"{self._selected('m')} AND m.SHOP_ID = (SELECT MIN(x.SHOP_ID) FROM "
                  f"{self.t['HERSTELLER']} x WHERE x.HERSTELLER_ID = m.HERSTELLER_ID AND "
                  f"{self._selected('x')})", everything=everything),
            (PAYLOAD_FORMAT, ENTITY, after, limit))
        return changed_rows(result)

    def urls(self, conn: Connection, rows: Iterable[Mapping[str, Any]]
             ) -> dict[int, dict[int, str]]:
        """HERSTELLER_ID -> {SPRACHE_ID: URL} of the given rows (each of its own SHOP_ID)."""
        shop_of = {int(r["HERSTELLER_ID"]): int(r["SHOP_ID"]) for r in rows}
        if not shop_of or not self.t["HERSTELLER_INFO"]:
            return {}
        marks = ", ".join(["%s"] * len(shop_of))
        result = conn.exec_driver_sql(
            f"SELECT SHOP_ID, HERSTELLER_ID, SPRACHE_ID, HERSTELLER_URL "
            f"FROM {self.t['HERSTELLER_INFO']} WHERE HERSTELLER_ID IN ({marks}) "
            f"ORDER BY HERSTELLER_ID, SPRACHE_ID", tuple(shop_of))
        out: dict[int, dict[int, str]] = {}
        for shop_id, key, language, url in result:
            if shop_of.get(int(key)) == int(shop_id) and url is not None:
                out.setdefault(int(key), {})[int(language)] = str(url)
        return out

    def vanished(self, conn: Connection, *, after: int, limit: int
                 ) -> list[tuple[int, int, bool]]:
        """Published manufacturers no longer selected: (HERSTELLER_ID, version, still exists).

        "Still exists" means a row that is not marked deleted (DEL_FLAG <> 'Y'), e.g. one
        whose SHOP_ID became -1: the reason is then "deselected", not "deleted".
        """
        rows = conn.exec_driver_sql(
            f"SELECT s.entity_key, s.version, EXISTS (SELECT 1 FROM {self.t['HERSTELLER']} x "
            f"WHERE x.HERSTELLER_ID = s.entity_key AND x.DEL_FLAG <> 'Y') "
            f"FROM {SNAPSHOT_TABLE} s WHERE s.entity_type = %s AND s.deleted = 0 "
            f"AND s.entity_key > %s AND NOT EXISTS (SELECT 1 FROM {self.t['HERSTELLER']} h "
            f"WHERE h.HERSTELLER_ID = s.entity_key AND {self._selected('h')}) "
            f"ORDER BY s.entity_key LIMIT %s", (ENTITY, after, limit))
        return [(int(r[0]), int(r[1]), bool(r[2])) for r in rows]




def payload(row: Mapping[str, Any], urls: Mapping[int, str],
            language_codes: Mapping[int, str]) -> dict[str, Any]:
    """HERSTELLER row and its {SPRACHE_ID: URL} -> manufacturer.upserted payload.

    Empty URLs and URLs of a SPRACHE_ID without a code in SPRACHEN are left out; the shop
    then falls back to another language's URL (or '').
    """
    by_code: dict[str, str] = {}
    for language in sorted(urls):
        code, url = language_codes.get(language), text_or_none(urls[language])
        if code and url:
            by_code[code] = url
    return {
        "erp_id": int(row["HERSTELLER_ID"]),
        "shop_id": int(row["SHOP_ID"]),
        "name": str(row["HERSTELLER_NAME"]).strip() or str(row["HERSTELLER_NAME"]),
        "image": text_or_none(row.get("HERSTELLER_IMAGE")),
        "urls": by_code,
    }
