"""Ordered option values -> the ERP's variant article: ``items[].variant`` of order.placed (C8).

Phoenix keeps an order line's chosen options only as text: option and value names in the
checkout language, which the order does not record (``orders_products_attributes``, NOTES 5),
on the master's ``products_id``. The osCommerce consumer created the options of the ERP's
dimensions and keeps their ids in the link table ('option' ``A``, 'option_value' ``A:Blau``),
and each child as 'variant' (key: the child's ERP id, target: the master's products_id,
content_hash: ``events.dims_hash`` of its values; ``consumers/oscommerce/variants.py``). So
for one page of orders, in at most four queries whatever the number of lines:

1. the pipeline's options and their names in every shop language;
2. the pipeline's values whose name, in any language, is one of the page's ordered value
   texts (a translation the merchant entered in the admin counts as well);
3. the ordered products' own attribute rows: where a product has some, an ordered option is
   read only as one of the pipeline's options that product offers, and its value only as one
   of the values it offers (an admin option named like one of ours is not ours);
4. the masters' children, found by the hash of the values read.

An ordered option is the pipeline's when its text is the name of one of its options (that the
product offers, where it has attribute rows); its value must then be one of that dimension's
values (so "M" of size and "M" of length stay apart). A product without attribute rows (one
that stopped being a master since) is read by names alone.
A line with at least one such option gets ``variant``: ``dims`` are the ERP's values per
dimension, ``erp_id`` the child with exactly these values, or null when there is none (a
combination the shop offers but the ERP has no article for, e.g. one the admin added) or
when a value cannot be read unambiguously. The text attributes stay in the item as they are.
A line without any of the pipeline's options gets no ``variant`` key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from shopbridge.events import dims_hash

log = logging.getLogger(__name__)

# Link entity types written by consumers/oscommerce/variants.py (not imported: producers
# stand alone).
OPTION, VALUE, VARIANT = "option", "option_value", "variant"


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


class VariantResolver:
    """Args:
        link_table: the consumer's link table in the shop database (it must exist).
        shop: the shop's name, for log lines.
    """

    def __init__(self, *, link_table: str, shop: str) -> None:
        self.link_table = link_table
        self.shop = shop

    def resolve(self, conn: sa.Connection, items: Iterable[Mapping[str, Any]],
                attributes: Mapping[int, Sequence[Mapping[str, Any]]]
                ) -> dict[int, dict[str, Any]]:
        """orders_products_id -> ``{"erp_id": int | None, "dims": {...}}`` for the lines
        that ordered options of the pipeline (see the module docstring).

        Args:
            items: orders_products rows (orders_products_id, products_id).
            attributes: orders_products_attributes rows per orders_products_id.
        """
        lines = [(i["orders_products_id"], i["products_id"], attributes[i["orders_products_id"]])
                 for i in items if attributes.get(i["orders_products_id"])]
        if not lines:
            return {}
        options = self._options(conn)
        ours = [(line, pid, picked) for line, pid, attrs in lines
                if (picked := [(a["products_options"], a["products_options_values"])
                               for a in attrs if a["products_options"] in options])]
        if not ours:
            return {}
        values = self._values(conn, {value for _, _, picked in ours for _, value in picked})
        offered = self._offered(conn, {pid for _, pid, _ in ours})
        read: dict[int, tuple[int, dict[str, str], bool]] = {}
        for line, pid, picked in ours:
            found = self._read_line(line, picked, options, values, offered.get(pid, set()))
            if found is not None:
                read[line] = (pid, *found)
        children = self._children(conn, {pid for pid, dims, ok in read.values() if ok and dims})
        variants = {}
        for line, (pid, dims, complete) in read.items():
            ids = children.get((pid, dims_hash(dims)), []) if complete and dims else []
            if len(ids) > 1:   # two children with the same values: guessing books the wrong one
                log.warning("shop %s: order line %s: ERP articles %s all have the values %s; "
                            "its variant gets erp_id null", self.shop, line,
                            ", ".join(map(str, sorted(ids))), dims)
            variants[line] = {"erp_id": ids[0] if len(ids) == 1 else None, "dims": dims}
        return variants

    def _read_line(self, line: int, picked: Sequence[tuple[str, str]],
                   options: Mapping[str, Mapping[str, int]],
                   values: Mapping[str, set[tuple[str, int, str]]],
                   offered: set[tuple[int, int]]) -> tuple[dict[str, str], bool] | None:
        """(dims, whether every option of ours was read) of one line; None: none is ours."""
        offered_options = {oid for oid, _ in offered}
        dims: dict[str, str] = {}
        complete, ours = True, False
        for option, value in picked:
            candidates = {dim: oid for dim, oid in options[option].items()
                          if not offered or oid in offered_options}
            if not candidates:
                continue                # the product's option of that name is not ours
            ours = True
            found = _read(candidates, values.get(value, ()), offered)
            if found is None or dims.get(found[0], found[1]) != found[1]:
                log.warning("shop %s: order line %s: %r %r is not one value of the ERP's; "
                            "its variant gets erp_id null", self.shop, line, option, value)
                complete = False
                continue
            dims[found[0]] = found[1]
        return (dict(sorted(dims.items())), complete) if ours else None

    def _options(self, conn: sa.Connection) -> dict[str, dict[str, int]]:
        """Name (any language) -> dimension -> products_options_id, of the pipeline's."""
        rows = conn.exec_driver_sql(
            f"SELECT l.entity_key, l.target_id, po.products_options_name FROM {self.link_table} "
            "l JOIN products_options po ON po.products_options_id = l.target_id "
            "WHERE l.entity_type = %s", (OPTION,))
        options: dict[str, dict[str, int]] = {}
        for dim, option_id, name in rows:
            options.setdefault(name, {})[dim] = int(option_id)
        return options

    def _values(self, conn: sa.Connection,
                names: set[str]) -> dict[str, set[tuple[str, int, str]]]:
        """Name (any language) -> (dimension, products_options_values_id, ERP value), of the
        pipeline's values named so."""
        wanted = sorted(names)
        rows = conn.exec_driver_sql(
            f"SELECT l.entity_key, l.target_id, pov.products_options_values_name "
            f"FROM products_options_values pov JOIN {self.link_table} l "
            "ON l.entity_type = %s AND l.target_id = pov.products_options_values_id "
            f"WHERE pov.products_options_values_name IN ({_marks(wanted)})", (VALUE, *wanted))
        values: dict[str, set[tuple[str, int, str]]] = {}
        for key, value_id, name in rows:
            # The column's collation is case- and accent-insensitive; checkout copied the
            # name as it was, so only the exact text is the same value.
            if name in names:
                dim, erp_value = str(key).split(":", 1)
                values.setdefault(name, set()).add((dim, int(value_id), erp_value))
        return values

    @staticmethod
    def _offered(conn: sa.Connection, products: set[int]) -> dict[int, set[tuple[int, int]]]:
        """products_id -> its attribute rows (option id, value id), the merchant's too."""
        pids = sorted(products)
        rows = conn.exec_driver_sql(
            "SELECT products_id, options_id, options_values_id FROM products_attributes "
            f"WHERE products_id IN ({_marks(pids)})", tuple(pids))
        offered: dict[int, set[tuple[int, int]]] = {}
        for pid, oid, vid in rows:
            offered.setdefault(int(pid), set()).add((int(oid), int(vid)))
        return offered

    def _children(self, conn: sa.Connection,
                  masters: set[int]) -> dict[tuple[int, str], list[int]]:
        """(master products_id, dims hash) -> ERP ids of the children with these values."""
        if not masters:
            return {}
        pids = sorted(masters)
        rows = conn.exec_driver_sql(
            f"SELECT entity_key, target_id, content_hash FROM {self.link_table} "
            f"WHERE entity_type = %s AND target_id IN ({_marks(pids)})", (VARIANT, *pids))
        children: dict[tuple[int, str], list[int]] = {}
        for key, pid, digest in rows:
            if str(key).isdigit() and digest:
                children.setdefault((int(pid), digest), []).append(int(key))
        return children


def _read(option: Mapping[str, int], values: Iterable[tuple[str, int, str]],
          offered: set[tuple[int, int]]) -> tuple[str, str] | None:
    """(dimension, ERP value) of one ordered option, or None if none or several fit.

    Args:
        option: the pipeline's options with the ordered option's name (dimension -> id).
        values: the pipeline's values with the ordered value's name.
        offered: the product's attribute rows (empty: it has none, e.g. it stopped being a
            master since; then any of the pipeline's values fits).
    """
    fits = {(dim, erp_value) for dim, value_id, erp_value in values
            if dim in option and (not offered or (option[dim], value_id) in offered)}
    return next(iter(fits)) if len(fits) == 1 else None
