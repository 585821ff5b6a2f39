"""VirtueMart price rows (C4-C7) and VirtueMart's own selection rule (NOTES 3), pure."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from consumers.virtuemart.price_rule import resolve, select
from consumers.virtuemart.prices import (
    OVERRIDE_BEFORE_TAX,
    OVERRIDE_FINAL,
    OVERRIDE_NONE,
    PriceRow,
    PriceSettings,
    price_rows,
)
from shopbridge.errors import MappingError

BERLIN = ZoneInfo("Europe/Berlin")
EUR = 47
WHAT = "product.upserted 1 (SKU A-1)"
# VM shopper groups: 1 anonymous and 2 registered (unmapped: group 0's level), 5 resellers,
# 7 wholesale.
GROUPS = {0: 1, 5: 2, 7: 3}
VISITORS = {1: 1, 2: 1, 5: 2, 7: 3}         # visitor's group -> the level the ERP intends
NET = {1: "10.00", 2: "9.00", 3: "8.00"}
TIER_FACTORS = {5: Decimal("0.95"), 10: Decimal("0.90")}
OFFER = {"net": "8.80", "from": "2025-03-01", "until": "2025-03-31"}
RATE = Decimal("19")


def gross(net: Decimal) -> Decimal:
    return (net * (1 + RATE / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def level_prices(factor: Decimal = Decimal(1)) -> dict[str, dict[str, str]]:
    prices = {}
    for level in range(1, 6):
        net = (Decimal(NET.get(level, "0")) * factor).quantize(Decimal("0.01"), ROUND_HALF_UP)
        prices[str(level)] = {"net": str(net), "gross": str(gross(net))}
    return prices


def payload(**changes: Any) -> dict[str, Any]:
    """Three priced levels (VK4, VK5 unused: 0), tiers from 5 and 10 pieces, one offer."""
    body: dict[str, Any] = {
        "sku": "A-1", "erp_id": 1, "texts": {"de": {"name": "Kanne"}},
        "prices": level_prices(),
        "tax": {"code": 1, "rate": "19.00"}, "stock": "5",
        "shop": {"id": 1, "visible": True, "delete_flag": False},
        "tiers": [{"min_qty": q, "prices": level_prices(f)} for q, f in TIER_FACTORS.items()],
        "specials": [OFFER],
    }
    body.update(changes)
    return body


def settings(**changes: Any) -> PriceSettings:
    values: dict[str, Any] = {"shopper_groups": GROUPS, "default_level": 1, "site_tz": BERLIN,
                              "shows_gross": False, "currency_id": EUR}
    values.update(changes)
    return PriceSettings(**values)


def intended(body: Mapping[str, Any], level: int, quantity: int, day: date) -> Decimal:
    """The ERP's price, net: the level's tier for the quantity, an offer running that day
    where it is cheaper."""
    price = Decimal(body["prices"][str(level)]["net"])
    for tier in body.get("tiers") or []:
        if tier["min_qty"] <= quantity:
            price = Decimal(tier["prices"][str(level)]["net"])
    for offer in body.get("specials") or []:
        starts = offer["from"] is None or date.fromisoformat(offer["from"]) <= day
        ends = offer["until"] is None or day <= date.fromisoformat(offer["until"])
        if starts and ends:
            price = min(price, Decimal(offer["net"]))
    return price


QUANTITIES = (1, 4, 5, 9, 10, 11, 500)
MOMENTS = (datetime(2025, 2, 28, 23, 59, 59), datetime(2025, 3, 1, 0, 0, 0),
           datetime(2025, 3, 15, 12, 0, 0), datetime(2025, 3, 31, 23, 59, 59),
           datetime(2025, 4, 1, 0, 0, 0), datetime(2026, 1, 1))


@pytest.mark.parametrize("visitor", sorted(VISITORS))
def test_every_group_quantity_and_moment_resolves_to_the_erp_net_price(visitor: int) -> None:
    """3 levels x (standard, 2 tiers, a dated offer): VM's rule picks the ERP's net price
    for each shopper group, quantity, and inside/outside the offer (edges to the second)."""
    body = payload()
    rows = price_rows(body, settings(), tax_id=0, what=WHAT)
    for quantity, at in itertools.product(QUANTITIES, MOMENTS):
        expected = intended(body, VISITORS[visitor], quantity, at.date())
        assert resolve(rows, visitor, quantity, at) == expected, (visitor, quantity, at)


@pytest.mark.parametrize("visitor", sorted(VISITORS))
def test_a_gross_shop_shows_the_erp_gross_as_the_final_price(visitor: int) -> None:
    """override=1 carries the ERP's gross (an offer's gross from its net and the VAT rate)."""
    body = payload()
    rows = price_rows(body, settings(shows_gross=True), tax_id=0, what=WHAT)
    for quantity, at in itertools.product(QUANTITIES, MOMENTS):
        net = intended(body, VISITORS[visitor], quantity, at.date())
        chosen = select(rows, visitor, quantity, at)
        assert chosen is not None and chosen.override == OVERRIDE_FINAL
        assert resolve(rows, visitor, quantity, at) == gross(net), (visitor, quantity, at)


def test_a_visitor_in_two_mapped_groups_gets_the_cheaper_group_price() -> None:
    """VM lets additional groups add up (sgrp_additional); both groups' rows fit, the later
    (cheaper) one wins."""
    rows = price_rows(payload(specials=[]), settings(), tax_id=0, what=WHAT)
    assert resolve(rows, [2, 5, 7], 1, datetime(2025, 1, 1)) == Decimal("8.00")


def test_per_group_rows_never_overlap() -> None:
    """Exactly one row of each group fits any quantity and moment: VM's order-dependent
    choice (ties, the index-0 fallback) never decides."""
    rows = price_rows(payload(), settings(), tax_id=0, what=WHAT)
    for group in (0, 5, 7):
        own = [r for r in rows if r.virtuemart_shoppergroup_id == group]
        for quantity, at in itertools.product(range(0, 30), MOMENTS):
            fitting = [r for r in own if _fits(r, quantity, at)]
            assert len(fitting) == 1, (group, quantity, at, fitting)


def _fits(row: PriceRow, quantity: int, at: datetime) -> bool:
    up, down = row.product_price_publish_up, row.product_price_publish_down
    return (row.price_quantity_start <= quantity
            and (row.price_quantity_end == 0 or quantity <= row.price_quantity_end)
            and (up is None or up <= at) and (down is None or at <= down))


def test_rows_of_the_standard_and_tiers_have_adjacent_quantity_ranges() -> None:
    rows = price_rows(payload(specials=[]), settings(), tax_id=0, what=WHAT)
    ranges = [(r.price_quantity_start, r.price_quantity_end, r.product_price) for r in rows
              if r.virtuemart_shoppergroup_id == 0]
    assert ranges == [(0, 4, Decimal("10.00")), (5, 9, Decimal("9.50")),
                      (10, 0, Decimal("9.00"))]


def test_an_offer_cuts_the_timeline_in_site_local_time_with_an_inclusive_last_second() -> None:
    """Before, during and after the window are separate rows; VM compares publish_down with
    >=, so the window's last row ends at 23:59:59 of the ERP's last day."""
    rows = price_rows(payload(tiers=[]), settings(), tax_id=0, what=WHAT)
    group0 = [(r.product_price_publish_up, r.product_price_publish_down, r.override,
               r.product_override_price) for r in rows if r.virtuemart_shoppergroup_id == 0]
    assert group0 == [
        (None, datetime(2025, 2, 28, 23, 59, 59), OVERRIDE_NONE, Decimal(0)),
        (datetime(2025, 3, 1), datetime(2025, 3, 31, 23, 59, 59), OVERRIDE_BEFORE_TAX,
         Decimal("8.80")),
        (datetime(2025, 4, 1), None, OVERRIDE_NONE, Decimal(0)),
    ]
    # The offer row keeps the regular net as product_price: VM shows it as the base price.
    assert {r.product_price for r in rows if r.virtuemart_shoppergroup_id == 0} == {
        Decimal("10.00")}


def test_an_offer_not_cheaper_than_a_level_leaves_that_level_one_row() -> None:
    """VK3 (8.00) is below the offer (8.80): wholesale keeps one undated row per quantity."""
    rows = price_rows(payload(), settings(), tax_id=0, what=WHAT)
    wholesale = [r for r in rows if r.virtuemart_shoppergroup_id == 7]
    assert len(wholesale) == 3
    assert all(r.product_price_publish_up is None and r.product_price_publish_down is None
               for r in wholesale)


def test_open_ended_and_overlapping_offers_take_the_cheapest_running_one() -> None:
    specials = [{"net": "9.00", "from": None, "until": "2025-03-10"},
                {"net": "8.50", "from": "2025-03-05", "until": None}]
    body = payload(tiers=[], specials=specials)
    rows = price_rows(body, settings(shopper_groups={}), tax_id=0, what=WHAT)
    assert resolve(rows, 1, 1, datetime(2020, 1, 1)) == Decimal("9.00")
    assert resolve(rows, 1, 1, datetime(2025, 3, 7)) == Decimal("8.50")
    assert resolve(rows, 1, 1, datetime(2030, 1, 1)) == Decimal("8.50")
    assert all(r.product_price_publish_up or r.product_price_publish_down for r in rows)


def test_an_offer_ending_before_it_starts_is_never_active() -> None:
    body = payload(tiers=[], specials=[{"net": "1.00", "from": "2025-03-02",
                                        "until": "2025-03-01"}])
    rows = price_rows(body, settings(shopper_groups={}), tax_id=0, what=WHAT)
    assert [(r.product_price, r.override) for r in rows] == [(Decimal("10.00"), 0)]


def test_a_mapped_level_without_a_price_falls_back_to_group_0() -> None:
    """CAO stores an unused level as 0: no rows for its groups, VM then shows group 0's."""
    rows = price_rows(payload(specials=[]), settings(shopper_groups={0: 1, 9: 4}), tax_id=0,
                      what=WHAT)
    assert {r.virtuemart_shoppergroup_id for r in rows} == {0}
    assert resolve(rows, 9, 1, datetime(2025, 1, 1)) == Decimal("10.00")


def test_group_0_takes_the_mapping_level_over_the_default() -> None:
    rows = price_rows(payload(specials=[], tiers=[]),
                      settings(shopper_groups={0: 3}, default_level=1), tax_id=0, what=WHAT)
    assert [r.product_price for r in rows] == [Decimal("8.00")]


def test_no_priced_level_gives_no_rows() -> None:
    body = payload(prices={"1": {"net": "0", "gross": "0"}}, tiers=[], specials=[])
    assert price_rows(body, settings(shopper_groups={}), tax_id=0, what=WHAT) == ()


def test_a_tier_from_one_piece_replaces_the_standard_price() -> None:
    """A [0, 0] range cannot be written (end 0 = open): the tier starts at 0 instead."""
    body = payload(specials=[], tiers=[{"min_qty": 1, "prices": level_prices(Decimal("0.5"))}])
    rows = price_rows(body, settings(shopper_groups={}), tax_id=0, what=WHAT)
    assert [(r.price_quantity_start, r.price_quantity_end, r.product_price) for r in rows] == [
        (0, 0, Decimal("5.00"))]


def test_a_tier_without_the_level_keeps_the_price_below() -> None:
    tiers = [{"min_qty": 5, "prices": {"2": {"net": "1.00", "gross": "1.19"}}}]
    rows = price_rows(payload(specials=[], tiers=tiers), settings(shopper_groups={}),
                      tax_id=0, what=WHAT)
    assert len(rows) == 1


def test_rows_carry_currency_tax_rule_and_vms_automatic_discounts() -> None:
    rows = price_rows(payload(), settings(currency_id=27), tax_id=3, what=WHAT)
    assert {(r.product_currency, r.product_tax_id, r.product_discount_id) for r in rows} == {
        (27, 3, 0)}


@pytest.mark.parametrize(("changes", "field"), [
    ({"prices": {"1": {"net": "-1.00", "gross": "-1.19"}}}, "payload.prices.1"),
    ({"prices": {"1": {"net": "1000000000", "gross": "1"}}}, "payload.prices.1.net"),
    ({"specials": [{"net": "0", "from": None, "until": None}]}, "payload.specials[0].net"),
    ({"tiers": [{"min_qty": 3, "prices": {"1": {"net": "0", "gross": "0"}}}]},
     "payload.tiers[0].prices.1.net"),
])
def test_values_vm_cannot_hold_are_mapping_errors_naming_the_field(
        changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MappingError, match="field " + re.escape(field)):
        price_rows(payload(**changes), settings(), tax_id=3, what=WHAT)


@pytest.mark.parametrize(("prices", "field"), [
    ({"1": {"net": "1E+40", "gross": "1.19"}}, "payload.prices.1.net"),
    ({"1": {"net": "10.00", "gross": "1E+40"}}, "payload.prices.1.gross"),
    ({"1": {"net": "999999999.9999996", "gross": "1.19"}}, "payload.prices.1.net"),
])
def test_a_price_too_large_for_its_column_names_the_field(prices: dict[str, Any],
                                                           field: str) -> None:
    """Rounded first, then range-checked; even a value too large to round is a MappingError
    (not decimal.InvalidOperation)."""
    body = payload(prices=prices, tiers=[], specials=[])
    with pytest.raises(MappingError, match="field " + re.escape(field)):
        price_rows(body, settings(shopper_groups={}, shows_gross=True), tax_id=0, what=WHAT)


def test_product_price_is_rounded_half_up_before_its_range_check() -> None:
    body = payload(prices={"1": {"net": "999999999.9999994", "gross": "1.19"},
                           "2": {"net": "1.0000005", "gross": "1.19"}}, tiers=[], specials=[])
    rows = price_rows(body, settings(shopper_groups={0: 1, 5: 2}), tax_id=0, what=WHAT)
    assert [r.product_price for r in rows] == [Decimal("999999999.999999"), Decimal("1.000001")]


def test_a_gross_of_0_beside_a_net_price_is_refused_in_a_gross_shop() -> None:
    body = payload(prices={"1": {"net": "10.00", "gross": "0"}}, tiers=[], specials=[])
    with pytest.raises(MappingError, match="gross price of 0"):
        price_rows(body, settings(shopper_groups={}, shows_gross=True), tax_id=0, what=WHAT)
    assert price_rows(body, settings(shopper_groups={}), tax_id=0, what=WHAT)


def test_a_level_outside_vk1_to_vk5_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match=re.escape("1..5")):
        settings(shopper_groups={5: 6})


def test_row_data_is_json_for_a_fingerprint() -> None:
    rows = price_rows(payload(), settings(), tax_id=0, what=WHAT)
    assert json.loads(json.dumps([r.data() for r in rows]))[1][7:9] == [
        "2025-03-01 00:00:00", "2025-03-31 23:59:59"]


# --- the model of VM's rule itself (price_rule.py), on rows VM's own admin could hold ---

def row(group: int, price: str, start: int = 0, end: int = 0,
        up: datetime | None = None, down: datetime | None = None) -> PriceRow:
    return PriceRow(group, Decimal(price), 0, Decimal(0), 0, 0, EUR, up, down, start, end)


NOW = datetime(2025, 6, 1, 12, 0)


def test_vm_prefers_a_group_row_to_the_first_fitting_generic_row() -> None:
    rows = [row(0, "10"), row(5, "12")]
    assert resolve(rows, 5, 1, NOW) == Decimal("12")
    assert resolve(rows, 1, 1, NOW) == Decimal("10")


def test_vm_lets_a_second_fitting_generic_row_beat_the_group_row() -> None:
    """Why prices.py never writes two fitting group-0 rows: the later (cheaper) generic row
    competes with the group's own rows."""
    rows = [row(0, "13"), row(0, "11"), row(5, "12"), row(0, "7")]
    assert resolve(rows, 5, 1, NOW) == Decimal("7")


def test_vm_treats_index_0_as_no_fallback_yet() -> None:
    """PHP's empty(0): a generic row at index 0 makes the next generic row the fallback, so
    a cheaper generic offer loses to the group's row here, unlike the case above."""
    rows = [row(0, "13"), row(7, "12"), row(0, "7")]
    assert resolve(rows, 7, 1, NOW) == Decimal("12")


def test_vm_takes_index_0_when_no_row_fits_the_quantity() -> None:
    rows = [row(0, "10", start=5, end=9), row(0, "9", start=10)]
    assert resolve(rows, 1, 2, NOW) == Decimal("10")


def test_vm_skips_rows_outside_their_publish_window_to_the_second() -> None:
    rows = [row(0, "10"), row(0, "8", up=NOW, down=NOW + timedelta(seconds=59))]
    assert resolve(rows, 1, 1, NOW - timedelta(seconds=1)) == Decimal("10")
    assert resolve(rows, 1, 1, NOW) == Decimal("8")
    assert resolve(rows, 1, 1, NOW + timedelta(seconds=59, microseconds=900)) == Decimal("8")
    assert resolve(rows, 1, 1, NOW + timedelta(seconds=60)) == Decimal("10")


def test_vm_shows_no_price_without_rows_or_with_a_zero_price() -> None:
    assert resolve([], 1, 1, NOW) is None
    assert resolve([row(0, "0")], 1, 1, NOW) is None
    assert resolve([row(5, "10")], 1, 1, NOW) is None


def test_rows_read_back_from_their_hash_data_unchanged() -> None:
    """A product row carries its prices as data (content hash); the writer rebuilds them."""
    rows = price_rows(payload(), settings(shows_gross=True), tax_id=0, what=WHAT)
    assert any(r.product_price_publish_up for r in rows)
    assert tuple(PriceRow.from_data(json.loads(json.dumps(r.data()))) for r in rows) == rows
