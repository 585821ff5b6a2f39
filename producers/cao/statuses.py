"""Order status changes in CAO-Faktura -> ``order.status_changed`` for the shop (O2, O4).

CAO keeps the shop's status of an order in JOURNAL.SHOP_STATUS and its status history in
JOURNAL_SSH (NOTES 3). CAO's own transfer finds changes by SHOP_CHANGE_FLAG, which it also
resets; we leave CAO's flags alone (DESIGN 4) and diff instead: a hash over the status, the
carrier and tracking columns and the newest JOURNAL_SSH row is compared with the snapshot.
Only documents shopbridge imported are watched (``shopbridge_order_import``), so switching
shopbridge on never replays the statuses of a shop's whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from shopbridge.config import ErpConfig
from shopbridge.db import TableNames, columns_of, quote_ident

from .payload import text_or_none
from .snapshot import SNAPSHOT_TABLE

ENTITY = "order_status"
IMPORT_TABLE = "shopbridge_order_import"     # written by consumers/cao/importer.py


@dataclass(frozen=True)
class StatusChange:
    journal_id: int
    shop: str
    order_id: int
    status_id: int
    vrenum: str | None
    carrier: str | None
    tracking_code: str | None
    comment: str | None
    src_hash: bytes
    last_version: int | None


class StatusSource:
    """Reads status changes of imported orders; ``ready`` is False until there are any."""

    def __init__(self, erp: ErpConfig) -> None:
        self.erp = erp
        self.t: dict[str, str] = {}
        self.columns: dict[str, str | None] = {}

    def resolve(self, conn: Connection) -> bool:
        names = TableNames.read(conn)
        journal, ssh = names.find("JOURNAL"), names.find("JOURNAL_SSH")
        if journal is None or IMPORT_TABLE not in names:
            return False
        self.t = {"JOURNAL": quote_ident(journal),
                  "JOURNAL_SSH": quote_ident(ssh) if ssh else ""}
        have = columns_of(conn, journal)
        for key, column in (("carrier", self.erp.carrier_column),
                            ("tracking", self.erp.tracking_column)):
            self.columns[key] = column.upper() if column and column.upper() in have else None
        return True

    def _column(self, key: str) -> str:
        column = self.columns.get(key)
        return f"j.{quote_ident(column)}" if column else "NULL"

    def changes(self, conn: Connection, *, after: int, limit: int) -> list[StatusChange]:
        newest_ssh = (f"(SELECT MAX(x.ID) FROM {self.t['JOURNAL_SSH']} x "
                      f"WHERE x.JOURNAL_ID = j.REC_ID)" if self.t["JOURNAL_SSH"] else "NULL")
        carrier, tracking = self._column("carrier"), self._column("tracking")
        rows = conn.exec_driver_sql(
            f"SELECT j.REC_ID, i.shop, i.order_id, j.SHOP_STATUS, j.VRENUM, {carrier}, "
            f"{tracking}, {newest_ssh} AS ssh, UNHEX(MD5(CONCAT_WS(_binary'|', "
            f"CAST(j.SHOP_STATUS AS BINARY), CAST(QUOTE({carrier}) AS BINARY), "
            f"CAST(QUOTE({tracking}) AS BINARY), CAST(IFNULL({newest_ssh}, 0) AS BINARY)))) "
            f"AS h, s.version, s.src_hash "
            f"FROM {IMPORT_TABLE} i JOIN {self.t['JOURNAL']} j ON j.REC_ID = i.journal_id "
            f"LEFT JOIN {SNAPSHOT_TABLE} s ON s.entity_type = %s AND s.entity_key = j.REC_ID "
            f"WHERE i.state = 'complete' AND j.REC_ID > %s "
            f"HAVING s.src_hash IS NULL OR s.src_hash <> h ORDER BY j.REC_ID LIMIT %s",
            (ENTITY, after, limit)).all()
        comments = self._comments(conn, [r[7] for r in rows if r[7]])
        return [StatusChange(journal_id=int(r[0]), shop=str(r[1]), order_id=int(r[2]),
                             status_id=int(r[3]), vrenum=r[4], carrier=text_or_none(r[5]),
                             tracking_code=text_or_none(r[6]), comment=comments.get(r[7]),
                             src_hash=bytes(r[8]), last_version=r[9]) for r in rows]

    def _comments(self, conn: Connection, ids: list[int]) -> Mapping[int, str | None]:
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        rows = conn.exec_driver_sql(
            f"SELECT ID, KOMMENTAR FROM {self.t['JOURNAL_SSH']} WHERE ID IN ({marks})",
            tuple(ids))
        return {int(i): text_or_none(k) for i, k in rows}

