"""Product payload -> the complete set of ``#__virtuemart_product_prices`` rows (C4-C7). Pure.

VirtueMart facts (reference/virtuemart/NOTES.md 3, 10; the selection rule is modelled, with
its PHP source, in ``price_rule.py``):
- A row belongs to one shopper group, or to group 0 (everyone); VM fetches the rows of the
  visitor's groups and group 0 that are inside their publish window (site-local time), drops
  those whose quantity range misses, and then picks by an order-dependent rule with quirks
  (the first fitting group-0 row is only a fallback; several fitting group-0 rows compete with
  the group's own rows, and index 0 of the result counts as "no fallback yet").
- So the rows written here never overlap: per group, every (quantity, moment) is covered by
  exactly one row. A visitor of a mapped group then always gets that group's row, anyone else
  the one group-0 row, whatever order VM reads them in. Offers are not extra rows competing
  by price but cut the timeline: before, during and after a window are separate rows.

The ERP's intent that these rows express, per CAO price level (VK1..VK5) of the group:
- the standard price from quantity 0; a tier's price from its ``min_qty`` on (C5);
- a dated offer (one net price for every level, dates inclusive, in the ERP's calendar) makes
  the price the offer's while it runs, where it is cheaper than the level's price for that
  quantity: an offer never raises a price (C6);
- a level without a price (missing, or 0 as CAO stores unused levels) has no rows, so VM
  falls back to the group-0 rows for the groups mapped to it (C7).

How a row says its price: ``product_price`` is always the level's regular net price (VM
shows it as the base price, struck through beside an offer). A gross shop also sets
``override=1`` with the ERP's gross (or the offer's gross) in ``product_override_price``,
which VM shows as the final price unchanged, so no VAT rounding of VM's can differ from the
ERP. A net shop leaves ``override=0`` and marks an offer with ``override=-1``: VM then takes
the override as the price before tax and adds its tax rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from shopbridge.errors import MappingError

EVERYONE = 0                                   # virtuemart_shoppergroup_id of "all groups"
LEVELS = range(1, 6)                           # CAO VK1..VK5
PRICE_PLACES = Decimal("0.000001")             # product_price decimal(15,6)
OVERRIDE_PLACES = Decimal("0.00001")           # product_override_price decimal(15,5)
PRICE_MAX = Decimal("999999999.999999")
OVERRIDE_MAX = Decimal("9999999999.99999")
CENT = Decimal("0.01")
AUTOMATIC_DISCOUNTS = 0                        # product_discount_id: VM's own discount rules
OPEN_END = 0                                   # price_quantity_end 0: no upper bound
ONE_SECOND = timedelta(seconds=1)

OVERRIDE_NONE = 0
OVERRIDE_FINAL = 1          # product_override_price is the final (gross) price
OVERRIDE_BEFORE_TAX = -1    # product_override_price is the price before tax; VM adds tax


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One ``#__virtuemart_product_prices`` row, its fields named as the columns."""

    virtuemart_shoppergroup_id: int
    product_price: Decimal
    override: int
    product_override_price: Decimal
    product_tax_id: int
    product_discount_id: int
    product_currency: int
    product_price_publish_up: datetime | None      # site-local, naive; None: no limit
    product_price_publish_down: datetime | None    # inclusive, as VM compares (>=)
    price_quantity_start: int
    price_quantity_end: int                        # 0: open end

    def data(self) -> list[Any]:
        """JSON-able fields, for a product row's content fingerprint."""
        return [self.virtuemart_shoppergroup_id, str(self.product_price), self.override,
                str(self.product_override_price), self.product_tax_id,
                self.product_discount_id, self.product_currency,
                _iso(self.product_price_publish_up), _iso(self.product_price_publish_down),
                self.price_quantity_start, self.price_quantity_end]

    @classmethod
    def from_data(cls, data: Sequence[Any]) -> PriceRow:
        """The row ``data()`` describes (a product row carries its prices as that data)."""
        (group, price, override, override_price, tax_id, discount_id, currency, up, down,
         start, end) = data
        return cls(virtuemart_shoppergroup_id=int(group), product_price=Decimal(price),
                   override=int(override), product_override_price=Decimal(override_price),
                   product_tax_id=int(tax_id), product_discount_id=int(discount_id),
                   product_currency=int(currency),
                   product_price_publish_up=_moment(up), product_price_publish_down=_moment(down),
                   price_quantity_start=int(start), price_quantity_end=int(end))


@dataclass(frozen=True)
class PriceSettings:
    """What one VirtueMart shop needs to turn ERP prices into its rows.

    Args:
        shopper_groups: VM shopper group id -> CAO price level 1..5. Group 0 (everyone) is
            the level of visitors in no mapped group; without it, ``default_level``.
        default_level: the shop's price level (VK1..VK5) for group 0.
        site_tz: Joomla's site time zone (global config ``offset``): VM compares publish
            windows with the site-local time.
        shows_gross: the shop shows gross prices (B2C): rows carry the ERP's gross as the
            final price (override 1).
        currency_id: ``product_currency``, the ERP's currency in ``#__virtuemart_currencies``.
    """

    shopper_groups: Mapping[int, int]
    default_level: int
    site_tz: tzinfo
    shows_gross: bool
    currency_id: int

    def __post_init__(self) -> None:
        for group, level in self.levels().items():
            if level not in LEVELS:
                raise ValueError(f"shopper group {group}: price level {level} must be 1..5 "
                                 "(VK1..VK5)")

    def levels(self) -> dict[int, int]:
        """Shopper group -> price level, group 0 first."""
        levels = {EVERYONE: self.shopper_groups.get(EVERYONE, self.default_level)}
        levels.update((int(g), int(lv)) for g, lv in sorted(self.shopper_groups.items())
                      if g != EVERYONE)
        return levels


@dataclass(frozen=True, slots=True)
class _Step:
    """From ``start`` pieces on, a level's regular price."""

    start: int
    net: Decimal                # as product_price holds it
    gross: Decimal
    where: str                  # how errors name the step: '... field payload.prices.1'


@dataclass(frozen=True, slots=True)
class _Window:
    """An offer, as site-local [begin, end); None: open."""

    net: Decimal
    begin: datetime | None
    end: datetime | None


def price_rows(payload: Mapping[str, Any], settings: PriceSettings, *, tax_id: int,
               what: str) -> tuple[PriceRow, ...]:
    """Every price row of one product in this shop, the whole set (it replaces the old one).

    Args:
        payload: a validated product.upserted (v1 or v2) payload.
        tax_id: ``product_tax_id``, the calc rule of the product's CAO tax code (the mapper
            looks it up in ``tax_classes``, ``MapContext.tax_id``).
        what: how errors name the entity, e.g. 'product.upserted 12 (SKU AB-1)'.
    Returns:
        Rows ordered by group (0 first), quantity, publish start; empty when no level the
        shop uses has a price (the product then has ``has_prices=0``).
    Raises:
        MappingError: naming the field whose value VM cannot hold (negative or too large
            a price, an offer at 0).
    """
    rate = _decimal(payload["tax"]["rate"], f"{what}: field payload.tax.rate")
    windows = _windows(payload, settings, what)
    periods = _periods(windows)
    rows: list[PriceRow] = []
    ladders: dict[int, list[_Step]] = {}
    for group, level in settings.levels().items():
        if level not in ladders:
            ladders[level] = _ladder(payload, level, what)
        steps = ladders[level]
        for index, step in enumerate(steps):
            end = steps[index + 1].start - 1 if index + 1 < len(steps) else OPEN_END
            for begin, until, offer in _cells(step, periods):
                rows.append(_row(settings, group=group, step=step, offer=offer, rate=rate,
                                 tax_id=tax_id, quantity=(step.start, end),
                                 window=(begin, until), what=what))
    return tuple(rows)


def _row(settings: PriceSettings, *, group: int, step: _Step, offer: Decimal | None,
         rate: Decimal, tax_id: int, quantity: tuple[int, int],
         window: tuple[datetime | None, datetime | None], what: str) -> PriceRow:
    if settings.shows_gross:
        if offer is None:
            gross, where = step.gross, f"{step.where}.gross"
        else:
            gross = _gross(offer, rate)
            where = f"{what}: field payload.specials (net {offer} at tax rate {rate})"
        if gross <= 0:
            # override=1 makes it the final price: 0 would sell the product for nothing.
            raise MappingError(f"{what}: a gross price of {gross} beside the net {step.net} "
                               "(the shop shows gross prices)")
        override, override_price = OVERRIDE_FINAL, gross
    elif offer is not None:
        override, override_price = OVERRIDE_BEFORE_TAX, offer
        where = f"{what}: field payload.specials (net {offer})"
    else:
        override, override_price, where = OVERRIDE_NONE, Decimal(0), what
    override_price = _fit(override_price, OVERRIDE_PLACES, OVERRIDE_MAX, where,
                          "product_override_price decimal(15,5)")
    begin, end = window
    return PriceRow(
        virtuemart_shoppergroup_id=group, product_price=step.net,
        override=override, product_override_price=override_price, product_tax_id=tax_id,
        product_discount_id=AUTOMATIC_DISCOUNTS, product_currency=settings.currency_id,
        product_price_publish_up=begin,
        # VM keeps a row while publish_down >= now (seconds): the last second of the window.
        product_price_publish_down=end - ONE_SECOND if end is not None else None,
        price_quantity_start=quantity[0], price_quantity_end=quantity[1])


@dataclass(frozen=True, slots=True)
class _Price:
    net: Decimal
    gross: Decimal


def _ladder(payload: Mapping[str, Any], level: int, what: str) -> list[_Step]:
    """The level's regular prices by quantity: the standard price from 0, then the tiers."""
    key = str(level)
    entry = payload["prices"].get(key)
    standard = _price(entry, f"{what}: field payload.prices.{key}") if entry else None
    if standard is None:
        return []
    steps = {0: (standard, f"{what}: field payload.prices.{key}")}
    for index, tier in enumerate(payload.get("tiers") or []):
        tier_entry = tier["prices"].get(key)
        if tier_entry is None:
            continue            # no tier price at this level: the price below goes on
        where = f"{what}: field payload.tiers[{index}].prices.{key}"
        price = _price(tier_entry, where)
        if price is None:
            raise MappingError(f"{where}.net: a tier price of 0 at a level priced "
                               f"{standard.net} would give the product away")
        # A tier from 1 piece is the price from the first piece on: a [0, 0] range cannot
        # be written (price_quantity_end 0 means "no upper bound").
        min_qty = int(tier["min_qty"])
        steps[min_qty if min_qty > 1 else 0] = (price, where)
    return [_Step(start, price.net, price.gross, where)
            for start, (price, where) in sorted(steps.items())]


def _price(entry: Mapping[str, str], where: str) -> _Price | None:
    """Net and gross of one level, None for 0 (CAO's "level not used")."""
    net = _decimal(entry["net"], f"{where}.net")
    gross = _decimal(entry["gross"], f"{where}.gross")
    if net < 0 or gross < 0:
        raise MappingError(f"{where}: negative price {net} / {gross}")
    if net == 0:
        return None
    return _Price(_fit(net, PRICE_PLACES, PRICE_MAX, f"{where}.net",
                       "product_price decimal(15,6)"), gross)


def _windows(payload: Mapping[str, Any], settings: PriceSettings, what: str) -> list[_Window]:
    windows = []
    for index, special in enumerate(payload.get("specials") or []):
        where = f"{what}: field payload.specials[{index}].net"
        net = _decimal(special["net"], where)
        if net <= 0:
            # VM ignores a before-tax override of 0 (calculationh.php: !empty()), and a
            # final price of 0 gives the product away: neither is an offer.
            raise MappingError(f"{where}: an offer price must be above 0, not {net}")
        if net > PRICE_MAX:
            raise MappingError(f"{where}: {net} does not fit product_price decimal(15,6)")
        begin = _site_midnight(special["from"], settings) if special["from"] else None
        end = (_site_midnight(special["until"], settings, days_after=1)
               if special["until"] else None)
        if begin is not None and end is not None and begin >= end:
            continue            # ends before it starts: never active
        windows.append(_Window(net, begin, end))
    return windows


def _site_midnight(day: str, settings: PriceSettings, days_after: int = 0) -> datetime:
    """Midnight starting the ERP's calendar day, as the site's local wall clock."""
    erp_day = date.fromisoformat(day) + timedelta(days=days_after)
    midnight = datetime.combine(erp_day, time(), tzinfo=settings.site_tz)
    return midnight.astimezone(settings.site_tz).replace(tzinfo=None)


_Period = tuple[datetime | None, datetime | None, Decimal | None]   # begin, end, cheapest offer


def _periods(windows: Sequence[_Window]) -> list[_Period]:
    """The timeline cut at every window edge, each piece with its cheapest running offer."""
    edges = sorted({t for w in windows for t in (w.begin, w.end) if t is not None})
    bounds: list[datetime | None] = [None, *edges, None]
    periods: list[_Period] = []
    for begin, end in pairwise(bounds):
        running = [w.net for w in windows
                   if (w.begin is None or (begin is not None and w.begin <= begin))
                   and (w.end is None or (end is not None and end <= w.end))]
        periods.append((begin, end, min(running) if running else None))
    return periods


def _cells(step: _Step, periods: Sequence[_Period]) -> list[_Period]:
    """The step's rows over time: the offer where it is cheaper, adjacent equals merged."""
    cells: list[_Period] = []
    for begin, end, offer in periods:
        price = offer if offer is not None and offer < step.net else None
        if cells and cells[-1][2] == price:
            cells[-1] = (cells[-1][0], end, price)
        else:
            cells.append((begin, end, price))
    return cells


def _gross(net: Decimal, rate: Decimal) -> Decimal:
    """The ERP's gross of a net price: the offer carries only its net. Not rounded where
    it is too large to: ``_fit`` refuses it then."""
    gross = net * (1 + rate / 100)
    try:
        return gross.quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        return gross


def _fit(value: Decimal, places: Decimal, maximum: Decimal, where: str, column: str
         ) -> Decimal:
    """``value`` rounded half up as ``column`` stores it, then checked against its range
    (a value too large to round at all is out of range as well)."""
    try:
        fitted = value.quantize(places, ROUND_HALF_UP)
    except InvalidOperation:
        fitted = None
    if fitted is None or fitted > maximum:
        raise MappingError(f"{where}: {value} does not fit {column}")
    return fitted


def _decimal(value: str, where: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise MappingError(f"{where}: {value!r} is not a decimal") from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ") if moment is not None else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
