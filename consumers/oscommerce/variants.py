"""ERP variants -> Phoenix options, option values and products_attributes (C8; NOTES 2).

The only code that writes ``products_options``, ``products_options_values``,
``products_options_values_to_products_options`` and ``products_attributes``.

osCommerce has no variant articles: options ("Colour") and their values ("Blue") are global,
and a product lists the (option, value) pairs a customer may choose, each with a net price
delta and a prefix '+' or '-' (``products_attributes``). So each ERP dimension (CAO DIM_A..C)
becomes one option, each (dimension, value) one option value, and a master's children become
its attribute rows.

Ids: ``products_options`` and ``products_options_values`` have no AUTO_INCREMENT; the shop
admin takes MAX(id) + 1. The pipeline does the same, under one lock row per table in the link
table (held until commit, so two consumers never take the same id), and remembers each id in
the link table (entity 'option' keyed by the dimension letter, 'option_value' keyed by
'A:Blau'), so ids stay stable forever. It never writes an option or value it did not create:
an option the merchant made in the admin keeps its id, name and attributes.

Names: an option's name per shop language comes from the event (``variant_options``, the ERP
side's configuration) and is rewritten when that changes; a language without a name falls
back to the product's first text language. A value's name is the ERP's text (CAO has one
language for DIM values), written once per shop language: a translation entered in the shop
admin is kept. Values sort in the order they were first seen (their id).

Prices: a child's delta is its price at the shop's level minus the master's. osCommerce adds
the deltas of the chosen values, so the deltas are split per dimension: dimension A takes,
per value, the smallest delta of the children with that value; B takes the smallest of what
is left, and so on. If some child's price is then not master + the sum of its values' deltas
(the ERP's prices are not additive per dimension), the shop cannot show it: MappingError.

Attributes: a product's rows of pipeline-owned options are exactly the ERP's set; changed
prices are updated in place (ids stay), rows of removed children are deleted. Combinations
the ERP lacks (e.g. red in XL) are still selectable in osCommerce: it has no combinations.

Children: an order line names the chosen options only as text (NOTES 5), so each child is
remembered for the order producer (``producers/oscommerce/variants.py``) in the same transaction
as the attribute rows: link entity 'variant', key = the child's ERP id, target = the master's
products_id, content_hash = ``events.dims_hash`` of its values ("A=Blau<US>B=XL"). Written only
for products that have or had pipeline-owned attributes, in one read and at most one delete and
one upsert per batch; a shop without variants pays nothing. A child that left the master loses
its row; one that moved to another master is re-pointed. A master that is deleted or leaves the
selection keeps its rows: an order placed before may still arrive and must find its child.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import VARIANT_DIMENSIONS
from shopbridge.db import delete_in, marks
from shopbridge.errors import MappingError
from shopbridge.events import dims_hash

from ..binder import LINK_TABLE, Binder, Link
from .tables import NAME_MAX, PRICE_MAX
from .text import plain_text

OPTION, VALUE, ALLOCATOR, VARIANT = "option", "option_value", "id_allocator", "variant"
DIMENSIONS = VARIANT_DIMENSIONS
CENT = Decimal("0.0001")        # options_values_price decimal(15,4)


@dataclass(frozen=True, slots=True)
class Option:
    dim: str
    names: tuple[tuple[int, str], ...]          # (languages_id, name)


@dataclass(frozen=True, slots=True)
class Attribute:
    dim: str
    value: str
    delta: Decimal                              # signed net delta to the product's price

    @property
    def key(self) -> str:
        return value_key(self.dim, self.value)


@dataclass(frozen=True, slots=True)
class Child:
    erp_id: int
    dims: tuple[tuple[str, str], ...]           # (dimension, ERP value), dimensions in order

    @property
    def dims_hash(self) -> str:
        return dims_hash(dict(self.dims))


@dataclass(frozen=True, slots=True)
class Variants:
    """A product's options, attribute rows and children in this shop (empty: no variants)."""

    options: tuple[Option, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    children: tuple[Child, ...] = ()            # by ERP id

    def data(self) -> list[Any]:
        """Plain data for the product's content hash (a child's id or values changing must
        rewrite its link even where the attribute rows stay the same)."""
        return [[[o.dim, [list(n) for n in o.names]] for o in self.options],
                [[a.dim, a.value, str(a.delta)] for a in self.attributes],
                [[c.erp_id, [list(d) for d in c.dims]] for c in self.children]]


NO_VARIANTS = Variants()


def value_key(dim: str, value: str) -> str:
    return f"{dim}:{value}"


def split_deltas(children: Sequence[tuple[Mapping[str, str], Decimal]],
                 dims: Sequence[str]) -> tuple[dict[tuple[str, str], Decimal], int | None]:
    """Per-value deltas whose sums give each child's delta (see the module docstring).

    Returns:
        (dimension, value) -> delta, and the index of the first child whose delta is not
        the sum of its values' deltas (None if every child's is).
    """
    rest = [delta for _, delta in children]
    deltas: dict[tuple[str, str], Decimal] = {}
    for dim in dims:
        smallest: dict[str, Decimal] = {}
        for (values, _), left in zip(children, rest, strict=True):
            if dim in values:
                value = values[dim]
                smallest[value] = min(smallest.get(value, left), left)
        deltas.update({(dim, v): d for v, d in smallest.items()})
        rest = [left - smallest[values[dim]] if dim in values else left
                for (values, _), left in zip(children, rest, strict=True)]
    return deltas, next((i for i, left in enumerate(rest) if left != 0), None)


def map_variants(payload: Mapping[str, Any], *, price: Decimal, price_level: int,
                 language_ids: Mapping[str, int], what: str) -> Variants:
    """The shop's options and attribute rows for a product.upserted payload.

    Args:
        price: the product's own net price in this shop.
        language_ids: shop language code -> languages_id.
    Raises:
        MappingError: a dimension without a name, a child without this price level, or
            prices that are not additive per dimension.
    """
    children = payload.get("variants") or []
    if not children:
        return NO_VARIANTS
    level = str(price_level)
    combos: list[tuple[Mapping[str, str], Decimal]] = []
    for i, child in enumerate(children):
        entry = child["prices"].get(level)
        field = f"payload.variants[{i}].prices.{level}"
        if entry is None:
            raise MappingError(f"{what}: field {field}: variant {child['sku']} has no price "
                               f"level VK{level}")
        try:
            combos.append((child["dims"], Decimal(entry["net"]) - price))
        except (InvalidOperation, TypeError):
            raise MappingError(f"{what}: field {field}.net: {entry['net']!r} is not a "
                               "decimal number") from None
    dims = [d for d in DIMENSIONS if any(d in values for values, _ in combos)]
    names = payload.get("variant_options") or {}
    fallback = next(iter(payload.get("texts") or {}), None)
    options = []
    for dim in dims:
        per_language = names.get(dim)
        if not per_language:
            raise MappingError(f"{what}: field payload.variant_options.{dim}: the variants use "
                               f"dimension {dim} (CAO DIM_{dim}) but it has no option name "
                               f"(set [tenants.erp.variants.names] {dim})")
        default = per_language.get(fallback) or next(iter(per_language.values()))
        options.append(Option(dim, tuple(
            (lid, _plain(per_language.get(code) or default))
            for code, lid in sorted(language_ids.items(), key=lambda kv: kv[1]))))
    deltas, bad = split_deltas(combos, dims)
    if bad is not None:
        child = children[bad]
        raise MappingError(
            f"{what}: field payload.variants[{bad}].prices.{level}.net: variant "
            f"{child['sku']} costs {child['prices'][level]['net']}, which is not the product's "
            f"{price} plus one surcharge per option value: osCommerce adds a surcharge per "
            "chosen value, so the ERP's variant prices must be additive per dimension")
    attributes = []
    for (dim, value), delta in deltas.items():
        if abs(delta) > PRICE_MAX:
            raise MappingError(f"{what}: field payload.variants: the surcharge of {dim} "
                               f"{value!r} ({delta}) does not fit decimal(15,4)")
        attributes.append(Attribute(dim, value, delta.quantize(CENT)))
    return Variants(tuple(options), tuple(sorted(
        attributes, key=lambda a: DIMENSIONS.index(a.dim))),     # stable: first-seen order
        tuple(sorted((Child(int(c["erp_id"]), tuple(sorted(c["dims"].items())))
                      for c in children), key=lambda c: c.erp_id)))


def _plain(text: str) -> str:
    """Names are printed unescaped in the product page's select (as product names are)."""
    return plain_text(text)[:NAME_MAX]


class VariantWriter:
    """Args:
        binder: the link table (option and value ids live there).
        language_ids: shop language code -> languages_id (set before ``apply``).
    """

    def __init__(self, *, binder: Binder, language_ids: Mapping[str, int]) -> None:
        self.binder = binder
        self.language_ids = dict(language_ids)

    def apply(self, conn: Connection, products: Mapping[int, Variants]) -> None:
        """Make these products' attribute rows of pipeline-owned options what they say.

        Products must be locked by the caller (their link rows).
        """
        options = {o.dim: o for v in products.values() for o in v.options}
        keys = list(dict.fromkeys(a.key for v in products.values() for a in v.attributes))
        owned = self.binder.targets(conn, OPTION, DIMENSIONS)
        if not options and not owned:
            return                          # no variants in this shop, nor ever were
        option_ids = self._ids(conn, OPTION, sorted(options), "products_options",
                               "products_options_id")
        value_ids = self._ids(conn, VALUE, keys, "products_options_values",
                              "products_options_values_id")
        self._write_options(conn, options, option_ids)
        self._write_values(conn, keys, value_ids, option_ids)
        had = self._write_attributes(conn, products, option_ids, value_ids,
                                     set(owned.values()) | set(option_ids.values()))
        self._write_children(conn, products, had)

    def _write_children(self, conn: Connection, products: Mapping[int, Variants],
                        had: set[int]) -> None:
        """Link each child to its master (see the module docstring, "Children")."""
        pids = had | {pid for pid, variants in products.items() if variants.children}
        if not pids:
            return
        wanted = {str(child.erp_id): (pid, child.dims_hash)
                  for pid, variants in sorted(products.items()) for child in variants.children}
        existing = self.binder.linked_to(conn, VARIANT, pids)
        self.binder.forget(conn, VARIANT, [k for k in existing if k not in wanted])
        self.binder.save(conn, [
            Link(VARIANT, key, target_id=pid, content_hash=digest, dirty=True)
            for key, (pid, digest) in wanted.items() if existing.get(key) != (pid, digest)])

    def _ids(self, conn: Connection, entity: str, keys: Sequence[str], table: str,
             column: str) -> dict[str, int]:
        """Shop ids of these keys, allocating MAX(id) + 1 upwards for new ones."""
        ids = self.binder.targets(conn, entity, keys)
        missing = [k for k in keys if k not in ids]
        if missing:
            # The allocator row is locked until commit: a second consumer waits here, then
            # sees (READ COMMITTED) the ids the first one committed.
            self.binder.lock(conn, ALLOCATOR, [table])
            ids.update(self.binder.targets(conn, entity, missing))
            missing = [k for k in keys if k not in ids]
        if missing:
            # Above what the shop has and what we ever handed out (a row the admin deleted
            # keeps its id reserved for its key).
            top = int(conn.exec_driver_sql(
                f"SELECT GREATEST(IFNULL((SELECT MAX({column}) FROM {table}), 0), "
                f"IFNULL((SELECT MAX(target_id) FROM {LINK_TABLE} WHERE entity_type = %s), 0))",
                (entity,)).scalar() or 0)
            new = [Link(entity, key, target_id=top + i, dirty=True)
                   for i, key in enumerate(missing, start=1)]
            self.binder.save(conn, new)
            ids.update({link.entity_key: top + i for i, link in enumerate(new, start=1)})
        return ids

    @staticmethod
    def _write_options(conn: Connection, options: Mapping[str, Option],
                       ids: Mapping[str, int]) -> None:
        rows = [(ids[dim], lid, name, DIMENSIONS.index(dim) + 1)
                for dim, option in sorted(options.items()) for lid, name in option.names]
        if rows:
            conn.exec_driver_sql(
                "INSERT INTO products_options (products_options_id, language_id, "
                "products_options_name, sort_order) VALUES (%s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE products_options_name = VALUES(products_options_name)",
                rows)

    def _write_values(self, conn: Connection, keys: Sequence[str], ids: Mapping[str, int],
                      option_ids: Mapping[str, int]) -> None:
        if not keys:
            return
        rows = [(ids[k], lid, _plain(k.split(":", 1)[1]), ids[k])
                for k in keys for lid in sorted(self.language_ids.values())]
        # A row that exists keeps its name: the merchant may have translated it.
        conn.exec_driver_sql(
            "INSERT INTO products_options_values (products_options_values_id, language_id, "
            "products_options_values_name, sort_order) VALUES (%s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE products_options_values_id = products_options_values_id",
            rows)
        value_ids = [ids[k] for k in keys]
        have = {(int(o), int(v)) for o, v in conn.exec_driver_sql(
            "SELECT products_options_id, products_options_values_id FROM "
            "products_options_values_to_products_options WHERE products_options_values_id IN "
            f"({marks(value_ids)})", tuple(value_ids))}
        pairs = [(option_ids[k.split(":", 1)[0]], ids[k]) for k in keys]
        missing = [p for p in dict.fromkeys(pairs) if p not in have]
        if missing:
            conn.exec_driver_sql(
                "INSERT INTO products_options_values_to_products_options "
                "(products_options_id, products_options_values_id) VALUES (%s, %s)", missing)

    @staticmethod
    def _write_attributes(conn: Connection, products: Mapping[int, Variants],
                          option_ids: Mapping[str, int], value_ids: Mapping[str, int],
                          owned: set[int]) -> set[int]:
        """Returns the products that had attribute rows of pipeline-owned options."""
        pids = sorted(products)
        if not pids or not owned:
            return set()
        wanted = {(pid, option_ids[a.dim], value_ids[a.key]):
                  (abs(a.delta), "-" if a.delta < 0 else "+")
                  for pid, variants in products.items() for a in variants.attributes}
        existing = conn.exec_driver_sql(
            f"SELECT products_attributes_id, products_id, options_id, options_values_id, "
            f"options_values_price, price_prefix FROM products_attributes WHERE products_id IN "
            f"({marks(pids)}) AND options_id IN "
            f"({marks(owned)}) ORDER BY products_attributes_id",
            (*pids, *sorted(owned)))
        kept: set[tuple[int, int, int]] = set()
        gone: list[int] = []
        changed: list[tuple[Any, ...]] = []
        had: set[int] = set()
        for attr_id, pid, oid, vid, price, prefix in existing:
            key = (int(pid), int(oid), int(vid))
            had.add(key[0])
            if key not in wanted or key in kept:
                gone.append(int(attr_id))
                continue
            kept.add(key)
            if (Decimal(price), prefix) != wanted[key]:
                changed.append((attr_id, *key, *wanted[key]))
        changed += [(None, *key, *value) for key, value in wanted.items() if key not in kept]
        delete_in(conn, "products_attributes", "products_attributes_id", gone)
        if changed:
            # A NULL id inserts a new row; an existing id is updated in place.
            conn.exec_driver_sql(
                "INSERT INTO products_attributes (products_attributes_id, products_id, "
                "options_id, options_values_id, options_values_price, price_prefix) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                "options_values_price = VALUES(options_values_price), "
                "price_prefix = VALUES(price_prefix)", changed)
        return had
