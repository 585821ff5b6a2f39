"""VirtueMart's own choice of a price row, as a pure model (NOTES 3). Tests prove with it that
the rows of ``prices.py`` make VM show the price the ERP intends.

Transliterated from VirtueMart 4.4.0 (rev 11095, the tree in github.com/tahiriqbalnajam/
joomla_zakeke, see reference/virtuemart/SOURCE.txt):
- administrator/components/com_virtuemart/models/product.php,
  ``VirtueMartModelProduct::loadProductPrices``: the SQL keeps the product's rows of the
  visitor's shopper groups and of group 0/NULL whose ``product_price_publish_up`` is
  NULL/zero or ``<=`` now and whose ``product_price_publish_down`` is NULL/zero or ``>=``
  now, "now" being the site-local time as 'Y-m-d H:i:s'; ``ORDER BY product_price DESC``
  (config ``price_orderby``, default DESC).
- same file, ``getRawProductPrices``: walks that list; a row fits the quantity when
  ``price_quantity_end`` is empty and ``start <= q``, or ``start <= q <= end``. The first
  fitting group-0 row becomes the fallback (``$emptySpgrpPrice``) while PHP's ``empty()``
  says none is set yet, which it also says for index 0; every other fitting row overwrites
  ``selectedPrice``, so the last one wins. Without a selection the fallback is taken, and
  the fallback starts as index 0 (``isset(0)``), even when that row does not fit.
  (``pricesbyCurrency`` is off by default and not modelled.)
- helpers/calculationh.php, ``calculationHelper::getProductPrices``: an empty ``basePrice``
  (product_price 0) gives void prices; ``override == -1`` replaces the price before tax when
  not empty; ``override == 1`` makes ``product_override_price`` the final ``salesPrice``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal

from .prices import EVERYONE, OVERRIDE_BEFORE_TAX, OVERRIDE_FINAL, PriceRow


def select(rows: Sequence[PriceRow], groups: int | Collection[int], quantity: int,
           at: datetime) -> PriceRow | None:
    """The row VirtueMart's front end takes for a visitor, or None (no price shown).

    Args:
        rows: the product's rows, in the order the database returns them for equal prices
            (MariaDB leaves ties unordered; the rows of ``prices.py`` never tie where it
            matters, since per group at most one row fits).
        groups: the visitor's shopper group ids (VM always has at least the default one).
        at: the site-local time, naive.
    """
    wanted = {groups} if isinstance(groups, int) else set(groups)
    at = at.replace(microsecond=0)          # VM formats "now" to the second
    found = sorted((r for r in rows if _fetched(r, wanted, at)),
                   key=lambda r: r.product_price, reverse=True)   # stable, like PK order
    if not found:
        return None
    fallback: int | None = 0        # PHP: $emptySpgrpPrice = 0
    selected: int | None = None
    for index, row in enumerate(found):
        if not _fits(row, quantity):
            continue
        if row.virtuemart_shoppergroup_id == EVERYONE and not fallback:   # empty(0) too
            fallback = index
        else:
            selected = index
    chosen = selected if selected is not None else fallback
    return found[chosen] if chosen is not None else None


def shown_price(row: PriceRow | None) -> Decimal | None:
    """What the row makes VM charge: the final price for ``override=1``, else the price
    before tax (VM adds its tax rule); None for a void price."""
    if row is None or not row.product_price:
        return None
    if row.override == OVERRIDE_FINAL:
        return row.product_override_price
    if row.override == OVERRIDE_BEFORE_TAX and row.product_override_price:
        return row.product_override_price
    return row.product_price


def resolve(rows: Sequence[PriceRow], groups: int | Collection[int], quantity: int,
            at: datetime) -> Decimal | None:
    """The price VirtueMart shows a visitor of ``groups`` buying ``quantity`` at ``at``."""
    return shown_price(select(rows, groups, quantity, at))


def _fetched(row: PriceRow, groups: set[int], at: datetime) -> bool:
    """loadProductPrices' WHERE clause (a zero date cannot occur in a PriceRow)."""
    group = row.virtuemart_shoppergroup_id
    up, down = row.product_price_publish_up, row.product_price_publish_down
    return ((group == EVERYONE or group in groups)
            and (up is None or up <= at) and (down is None or down >= at))


def _fits(row: PriceRow, quantity: int) -> bool:
    start, end = row.price_quantity_start or 0, row.price_quantity_end
    return start <= quantity and (not end or quantity <= end)
