"""CAO shop categories or product groups -> ``category.upserted`` / ``category.deleted`` (C1).

CAO has two trees (NOTES 3, DESIGN 4a); a tenant publishes one of them:

- ``shop_categories``: ARTIKEL_KAT, primary key (SHOP_ID, ID), parent TOP_ID (-1 = top), with
  VISIBLE_FLAG and DEL_FLAG. The table is MyISAM with ID auto-incremented *per SHOP_ID*, so
  the same ID appears in several shops: the entity key is ``kat:<SHOP_ID>:<ID>``.
- ``product_groups``: WARENGRUPPEN (ID, TOP_ID, NAME), the ERP's own product-group tree, for
  every shop, key ``wgr:<ID>``. It has no sort order, image or visibility, and its
  BESCHREIBUNG is an ERP-side text whose purpose CAO does not document, so it is not
  published as a shop description.

Which source a shop shows is the shop's choice; the producer scans each source that an active
shop uses, and ``retired`` turns every published node of a source no shop uses any more into
a ``category.deleted`` ('deselected'), so the shops hide the old tree.

The diff works like the customer diff: an MD5 over the columns the payload uses is compared on
the server with the snapshot, so only changed rows come back. Both sources share the
snapshot's entity type ``category``; its BIGINT key is ``SHOP_ID * 2**32 + ID`` for shop
categories (SHOP_ID > 0) and ``ID`` for product groups, so the two never collide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import TableNames, columns_of, quote_ident
from shopbridge.errors import ConfigError
from shopbridge.keys import PRODUCT_GROUPS, SHOP_CATEGORIES, category_key

from .payload import text_or_none
from .snapshot import SNAPSHOT_TABLE, ChangedRow, changed_rows, diff_sql, hash_parts

ENTITY = "category"
MODES = (SHOP_CATEGORIES, PRODUCT_GROUPS)
PAYLOAD_FORMAT = 1             # bump when payload() changes: republishes every category
_SHOP_SHIFT = 4294967296       # 2**32: snapshot key = SHOP_ID * 2**32 + ID for shop categories

_TABLES = {SHOP_CATEGORIES: "ARTIKEL_KAT", PRODUCT_GROUPS: "WARENGRUPPEN"}
# The columns payload() reads, per source; they are also what the change hash covers.
_COLUMNS = {
    SHOP_CATEGORIES: ("SHOP_ID", "ID", "TOP_ID", "SORT_NUM", "NAME", "BESCHREIBUNG", "IMAGE",
                      "VISIBLE_FLAG"),
    PRODUCT_GROUPS: ("ID", "TOP_ID", "NAME"),
}
_SELECTION = {
    SHOP_CATEGORIES: "a.SHOP_ID > 0 AND a.ID > 0 AND a.DEL_FLAG <> 'Y'",
    PRODUCT_GROUPS: "a.ID > 0",
}
_SNAP_KEY = {
    SHOP_CATEGORIES: f"(a.SHOP_ID * {_SHOP_SHIFT} + a.ID)",
    PRODUCT_GROUPS: "a.ID",
}
# Snapshot entries s of each source, and the row of entry s (written to use the primary key).
_OWN_KEYS = {
    SHOP_CATEGORIES: f"s.entity_key >= {_SHOP_SHIFT}",
    PRODUCT_GROUPS: f"s.entity_key < {_SHOP_SHIFT}",
}
_OWN_ROW = {
    SHOP_CATEGORIES: f"a.SHOP_ID = s.entity_key DIV {_SHOP_SHIFT} "
                     f"AND a.ID = s.entity_key MOD {_SHOP_SHIFT}",
    PRODUCT_GROUPS: "a.ID = s.entity_key",
}


def _decode(key: int) -> tuple[str, int | None, int]:
    """Snapshot key -> (source, shop_id, erp_id)."""
    if key >= _SHOP_SHIFT:
        return SHOP_CATEGORIES, key // _SHOP_SHIFT, key % _SHOP_SHIFT
    return PRODUCT_GROUPS, None, key


def entity_key(payload: Mapping[str, Any]) -> str:
    """``kat:<shop_id>:<erp_id>`` or ``wgr:<erp_id>``: the events' entity_key (schema contract)."""
    return category_key(payload["source"], payload["shop_id"], payload["erp_id"])


class CategorySource:
    """Reads one of CAO's two category trees.

    Args:
        mode: 'shop_categories' (ARTIKEL_KAT) or 'product_groups' (WARENGRUPPEN).

    Raises:
        ConfigError: an unknown mode.
    """

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ConfigError(f"category source {mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.table = ""

    def resolve(self, conn: Connection) -> bool:
        """Find the mode's table; False when this CAO database has none.

        Raises:
            ConfigError: the table lacks a column the payload needs (CAO versions differ).
        """
        name = TableNames.read(conn).find(_TABLES[self.mode])
        if name is None:
            return False
        have = columns_of(conn, name)
        needed = (*_COLUMNS[self.mode], "DEL_FLAG") if self.mode == SHOP_CATEGORIES \
            else _COLUMNS[self.mode]
        missing = [c for c in needed if c not in have]
        if missing:
            raise ConfigError(f"CAO table {name}: column(s) {', '.join(missing)} missing")
        self.table = quote_ident(name)
        return True

    def changed(self, conn: Connection, *, after: int, limit: int,
                everything: bool = False) -> list[ChangedRow]:
        """Selected categories whose hash differs from the snapshot, by snapshot key.

        Returns:
            (row, hash, last published version) per category; ``row["SNAP_KEY"]`` is the
            snapshot key (page on it with ``after``), ``row["SOURCE"]`` the mode.
        """
        columns = _COLUMNS[self.mode]
        snap_key = _SNAP_KEY[self.mode]
        # The first part makes a format or mode change republish everything.
        hashed = hash_parts("a", columns)
        result = conn.exec_driver_sql(diff_sql(
            select=f"{snap_key} AS SNAP_KEY, {', '.join(f'a.{c}' for c in columns)}",
            hashed=hashed, source=f"{self.table} a", key=snap_key,
            where=_SELECTION[self.mode], order_by="SNAP_KEY", everything=everything),
            (f"{self.mode}:{PAYLOAD_FORMAT}", ENTITY, after, limit))
        out = changed_rows(result)
        for row, _, _ in out:
            row["SNAP_KEY"], row["SOURCE"] = int(row["SNAP_KEY"]), self.mode
        return out

    def vanished(self, conn: Connection, *, after: int, limit: int
                 ) -> list[tuple[int, int, dict[str, Any]]]:
        """Published categories of this source that are gone or have DEL_FLAG 'Y'.

        Returns:
            (snapshot key, last version, category.deleted payload) per category, by key.
        """
        rows = conn.exec_driver_sql(
            f"SELECT s.entity_key, s.version FROM {SNAPSHOT_TABLE} s "
            f"WHERE s.entity_type = %s AND s.deleted = 0 AND s.entity_key > %s "
            f"AND {_OWN_KEYS[self.mode]} AND NOT EXISTS (SELECT 1 FROM {self.table} a "
            f"WHERE {_OWN_ROW[self.mode]} AND {_SELECTION[self.mode]}) "
            f"ORDER BY s.entity_key LIMIT %s", (ENTITY, after, limit))
        return [_deleted(int(key), int(version), "deleted") for key, version in rows]

    def retired(self, conn: Connection, *, after: int, limit: int
                ) -> list[tuple[int, int, dict[str, Any]]]:
        """Every published category of this source, when no active shop uses the source
        any more: each becomes a category.deleted ('deselected'). Needs no ``resolve``."""
        rows = conn.exec_driver_sql(
            f"SELECT s.entity_key, s.version FROM {SNAPSHOT_TABLE} s "
            f"WHERE s.entity_type = %s AND s.deleted = 0 AND s.entity_key > %s "
            f"AND {_OWN_KEYS[self.mode]} ORDER BY s.entity_key LIMIT %s",
            (ENTITY, after, limit))
        return [_deleted(int(key), int(version), "deselected") for key, version in rows]


def _deleted(key: int, version: int, reason: str) -> tuple[int, int, dict[str, Any]]:
    source, shop_id, erp_id = _decode(key)
    return key, version, {"erp_id": erp_id, "source": source, "shop_id": shop_id,
                          "reason": reason}




def payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``CategorySource.changed`` -> category.upserted payload.

    TOP_ID -1 (CAO's "no reference") or any value below 1 is the top level. A blank NAME
    stays blank: the schema refuses it at publish time and the producer logs which category
    it is, rather than inventing a name.
    """
    source = row["SOURCE"]
    top = row.get("TOP_ID")
    parent = int(top) if top is not None and int(top) > 0 else None
    if source == SHOP_CATEGORIES:
        return {
            "erp_id": int(row["ID"]),
            "source": source,
            "shop_id": int(row["SHOP_ID"]),
            "parent_erp_id": parent,
            "sort_order": int(row.get("SORT_NUM") or 0),
            "name": text_or_none(row["NAME"]) or "",
            "description": text_or_none(row.get("BESCHREIBUNG")),
            "image": text_or_none(row.get("IMAGE")),
            "visible": str(row.get("VISIBLE_FLAG") or "Y").upper() == "Y",
        }
    return {
        "erp_id": int(row["ID"]),
        "source": source,
        "shop_id": None,
        "parent_erp_id": parent,
        "sort_order": 0,
        "name": text_or_none(row["NAME"]) or "",
        "description": None,
        "image": None,
        "visible": True,
    }
