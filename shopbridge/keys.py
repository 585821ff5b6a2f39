"""Entity keys the events carry for catalogue entities (the schemas' contract).

A category's key names its tree and its ERP id: ``kat:<shop_id>:<erp_id>`` for CAO's shop
categories (ARTIKEL_KAT numbers its ids per CAO shop), ``wgr:<erp_id>`` for the product
groups (WARENGRUPPEN). Producers write these keys, consumers and the shop filter in the
configuration match them; this module is their one definition.
"""

from __future__ import annotations

SHOP_CATEGORIES = "shop_categories"
PRODUCT_GROUPS = "product_groups"
_SHOP_CATEGORY, _PRODUCT_GROUP = "kat:", "wgr:"


def category_key(source: str, shop_id: int | None, erp_id: int) -> str:
    """The entity_key of a category of tree ``source`` ('shop_categories' or 'product_groups')."""
    if source == SHOP_CATEGORIES:
        return f"{_SHOP_CATEGORY}{shop_id}:{erp_id}"
    return f"{_PRODUCT_GROUP}{erp_id}"


def category_prefix(source: str, shop_id: int | None) -> str:
    """What every category key of this tree starts with (for shop categories: of CAO shop
    ``shop_id``, or of any CAO shop when it is None)."""
    if source != SHOP_CATEGORIES:
        return _PRODUCT_GROUP
    return _SHOP_CATEGORY if shop_id is None else f"{_SHOP_CATEGORY}{shop_id}:"
