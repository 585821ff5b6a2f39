"""Catalogue rules every shop kind shares: the ERP's product selection, stock, categories, images.

What an ERP article means for a shop, independent of how the shop stores it: whether it is
in the shop's selection (C11), the stock a shop shows, which categories of the ERP's two
trees a shop uses, the category keys the selection filter admits, and which image file names
a shop may take (C9). A shop kind maps the results onto its own tables (consumers/oscommerce/
for CE Phoenix).
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig, ShopFilter
from shopbridge.errors import DependencyMissing, MappingError
from shopbridge.keys import category_key, category_prefix

from .binder import LINK_TABLE

CATEGORY = "category"        # the link table's entity type of categories

# What a merchant types into a free field to mean "no" (CAO has no boolean free fields).
FLAG_OFF = frozenset({"0", "n", "no", "nein", "false"})


def in_selection(payload: Mapping[str, Any], shop_filter: ShopFilter,
                 categories: AbstractSet[str] | None = None) -> bool:
    """Whether the ERP article belongs to this shop's product selection (C11).

    Args:
        categories: the category keys the filter admits (its own and every category below
            them in the shop's tree, see ``keys_below``); None: the filter's own keys only.
    """
    shop = payload["shop"]
    if shop["delete_flag"]:
        return False
    if shop_filter.cao_shop_id is not None and shop["id"] != shop_filter.cao_shop_id:
        return False
    if shop_filter.require_visible and not shop["visible"]:
        return False
    if shop_filter.sku_pattern and not fnmatch.fnmatchcase(payload["sku"],
                                                            shop_filter.sku_pattern):
        return False
    if shop_filter.categories:
        admitted = categories if categories is not None else set(shop_filter.categories)
        if admitted.isdisjoint(payload.get("categories") or ()):
            return False
    if shop_filter.flag is not None:
        field_name, wanted = shop_filter.flag
        value = (payload.get("user_fields") or {}).get(field_name)
        if value is None:
            return False
        return value.casefold() not in FLAG_OFF if wanted is None else value == wanted
    return True


# A stock is parsed for every product event, often twice, and most stocks are small numbers
# that repeat across a catalogue: remembered, not parsed again.
@functools.lru_cache(maxsize=4096)
def quantity(stock: str, stock_mode: str) -> int:
    """ERP stock (decimal string) -> the shop's whole quantity. 'available' never goes below 0."""
    value = int(Decimal(stock).to_integral_value(rounding=ROUND_FLOOR))
    return max(value, 0) if stock_mode == "available" else value


def shop_categories(payload: Mapping[str, Any], shop: ShopConfig) -> tuple[str, ...]:
    """The product's category keys in the tree this shop shows (C1)."""
    keys = payload.get("categories") or []
    prefix = category_prefix(shop.categories, shop.filter.cao_shop_id)
    return tuple(k for k in keys if k.startswith(prefix))


def parent_key(payload: Mapping[str, Any]) -> str | None:
    """The entity_key of a category payload's parent, or None for a top-level category."""
    if payload.get("parent_erp_id") is None:
        return None
    return category_key(payload["source"], payload["shop_id"], payload["parent_erp_id"])


def linked_categories(conn: Connection) -> dict[int, str]:
    """Shop category id -> category key, for every category the link table maps."""
    return dict(conn.exec_driver_sql(
        f"SELECT target_id, entity_key FROM {LINK_TABLE} WHERE entity_type = %s "
        f"AND target_id IS NOT NULL", (CATEGORY,)).all())


def keys_below(roots: Sequence[str], *, linked: Mapping[int, str],
               tree: Iterable[tuple[int, int]]) -> set[str]:
    """``roots`` and the keys of every category below them in the shop's tree (C11 filter).

    The tree is the shop's own, so it is the tree the customer sees; a root not in the shop
    yet admits only itself.

    Args:
        linked: shop category id -> key (``linked_categories``).
        tree: (category id, parent id) of every category in the shop.
    """
    children: dict[int, list[int]] = {}
    for category_id, parent_id in tree:
        children.setdefault(int(parent_id), []).append(int(category_id))
    by_key = {key: int(target) for target, key in linked.items()}
    found, todo = set(roots), [by_key[k] for k in roots if k in by_key]
    seen: set[int] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue        # an admin-made loop must not hang the consumer
        seen.add(node)
        if node in linked:
            found.add(linked[node])
        todo += children.get(node, [])
    return found


def image_names(payload: Mapping[str, Any], what: str, *, max_length: int,
                column: str) -> tuple[str, ...]:
    """The product's image file names in ERP order, duplicates collapsed (C9).

    Names become paths below the shop's images folder, so '..', absolute paths and
    backslashes are refused before anything is written.

    Args:
        max_length, column: the longest name the shop's ``column`` holds.
    Raises:
        MappingError: naming ``payload.images[i]`` when a name is not a safe relative path.
    """
    names: list[str] = []
    for index, name in enumerate(payload.get("images") or []):
        problem = image_name_problem(name, max_length=max_length, column=column)
        if problem:
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise MappingError(f"{what}: field payload.images[{index}]: {shown!r} {problem}")
        if name not in names:
            names.append(name)
    return tuple(names)


def image_name_problem(name: str, *, max_length: int, column: str) -> str | None:
    """Why ``name`` cannot be an image file name in the shop, or None."""
    if len(name) > max_length:
        return f"is {len(name)} characters long; {column} holds {max_length}"
    if "\\" in name:
        return "contains a backslash: write folders with '/'"
    if name.startswith("/"):
        return "is an absolute path: names are relative to the shop's images folder"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "contains a control character"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' path part (it must stay inside the images folder)"
    return None


def batch_depths(parents: Mapping[str, str | None]) -> dict[str, int]:
    """Depth of each category within a batch (key -> parent key), so that parents are
    written first whatever the arrival order; 0: its parent is not in the batch.

    Raises:
        DependencyMissing: the batch's parents form a loop; later versions may undo it.
    """
    depth: dict[str, int] = {}
    for start in parents:
        path: list[str] = []
        key: str | None = start
        while key is not None and key in parents and key not in depth:
            if key in path:
                loop = " -> ".join([*path[path.index(key):], key])
                raise DependencyMissing(f"categories form a loop in this batch: {loop}")
            path.append(key)
            key = parents[key]
        base = depth[key] + 1 if key is not None and key in depth else 0
        for offset, item in enumerate(reversed(path)):
            depth[item] = base + offset
    return depth
