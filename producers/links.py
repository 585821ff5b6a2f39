"""Which ERP article an ordered shop product is: read back from the shop consumer's link table.

The catalogue consumer records, in ``shopbridge_link`` in the shop database, the ERP id
(``entity_key``) of every shop product it made (``target_id``), under an entity type per kind
of row (``product``; VirtueMart's variant children ``vm_variant``). An order producer reads
those links back, so that the ERP books the article the shop sold. Producers stand alone: the
table name and its layout are the consumer's (consumers/binder.py), not imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

from shopbridge.db import has_table, marks

log = logging.getLogger(__name__)

LINK_TABLE = "shopbridge_link"  # consumers.binder.LINK_TABLE


def linked(conn: sa.Connection) -> bool:
    """The shop has a link table (a catalogue consumer ran on it)."""
    return has_table(conn, LINK_TABLE)


def erp_ids(conn: sa.Connection, products: Iterable[int], *, shop: str,
            entity_types: tuple[str, ...] = ("product",)) -> dict[int, int]:
    """Shop product id -> ERP id, for the products linked under ``entity_types``.

    A product linked to two ERP articles gets none: guessing would book the wrong one.
    """
    ordered = sorted(set(products))
    if not ordered:
        return {}
    rows = conn.exec_driver_sql(
        f"SELECT target_id, entity_key FROM {LINK_TABLE} "
        f"WHERE entity_type IN ({marks(entity_types)}) "
        f"AND target_id IN ({marks(ordered)})", (*entity_types, *ordered))
    found: dict[int, set[int]] = {}
    for target_id, key in rows:
        if str(key).isdigit():
            found.setdefault(int(target_id), set()).add(int(key))
    result = {}
    for product, keys in found.items():
        if len(keys) == 1:
            result[product] = keys.pop()
        else:
            log.warning("shop %s: product %s is linked to several ERP articles (%s); its "
                        "order lines get erp_id null", shop, product,
                        ", ".join(map(str, sorted(keys))))
    return result
