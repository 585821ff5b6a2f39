"""Prices (C4-C7) and variants (C8) end to end in VirtueMart: events published to RabbitMQ,
applied by the project's consumer (``ShopConsumer`` with the ``virtuemart`` kind's applier)
into a shop database built from the upstream install SQL (tests/virtuemart_db.py).

The stored price rows are read back with the query VirtueMart's front end runs
(``VirtueMartModelProduct::loadProductPrices``) and resolved with ``price_rule.resolve``, the
model of VirtueMart's choice among them, for each shopper group and quantity, inside and
outside an offer: the result must be the price the ERP means for that customer.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from consumers.binder import LINK_TABLE
from consumers.virtuemart.params import parse_params
from consumers.virtuemart.price_rule import resolve
from consumers.virtuemart.prices import PriceRow
from shopbridge import events as ev
from tests.conftest import Database
from tests.contract.pipeline import Pipeline
from tests.unit.test_events import product_payload
from tests.virtuemart_db import PREFIX, vm_pipeline

P = PREFIX + "virtuemart_"
SITE = zoneinfo.ZoneInfo("Europe/Berlin")      # the option's default: Joomla's site zone
RATE = Decimal("19")
# Shopper group -> CAO level: the shop's price_level (1) is everyone's (group 0); group 1
# (VirtueMart's anonymous group) is mapped to no level and gets group 0's rows.
GROUP_LEVELS = {1: 1, 2: 2, 5: 3}
# Net per level: standard, from 10 pieces, from 50 pieces.
LADDERS = {1: ("10.00", "9.00", "8.00"), 2: ("20.00", "18.00", "16.00"),
           3: ("30.00", "27.00", "24.00")}
TIER_STARTS = (0, 10, 50)
OFFER_NET = Decimal("8.50")                    # cheaper than all but level 1's 50+ price


def gross(net: Decimal | str) -> Decimal:
    return (Decimal(net) * (1 + RATE / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def level_prices(index: int) -> dict[str, dict[str, str]]:
    return {str(level): {"net": nets[index], "gross": str(gross(nets[index]))}
            for level, nets in LADDERS.items()}


def intended(level: int, quantity: int, in_offer: bool) -> Decimal:
    """What the ERP means a customer of ``level`` to pay per piece (the shop shows gross)."""
    step = max(i for i, start in enumerate(TIER_STARTS) if start <= max(quantity, 1))
    net = Decimal(LADDERS[level][step])
    return gross(OFFER_NET) if in_offer and net > OFFER_NET else gross(net)


@pytest.fixture
def pipeline(vm: Database) -> Iterator[Pipeline]:
    with vm_pipeline(vm, name="sbtest-vmcat", shopper_groups={
            str(g): lv for g, lv in GROUP_LEVELS.items() if g != 1}) as line:
        yield line


def upserted(key: int, version: int, **changes: Any) -> dict[str, Any]:
    payload = product_payload(sku=f"S-{key}", erp_id=key, **changes)
    return ev.make_event("product.upserted", tenant="acme", source="cao:test",
                         entity_key=str(key), version=version, payload=payload)


def product_id(vm: Database, sku: str) -> int:
    return int(vm.scalar(f"SELECT virtuemart_product_id FROM {P}products WHERE product_sku "
                         "= %s", (sku,)))


def vm_price_rows(vm: Database, product: int, groups: Sequence[int], now: datetime
                  ) -> list[PriceRow]:
    """loadProductPrices' query (VirtueMart 4.4.0, models/product.php), price_orderby DESC."""
    rows = vm.rows(
        f"SELECT virtuemart_shoppergroup_id, product_price, override, product_override_price, "
        f"product_tax_id, product_discount_id, product_currency, product_price_publish_up, "
        f"product_price_publish_down, price_quantity_start, price_quantity_end "
        f"FROM {P}product_prices WHERE virtuemart_product_id = %s "
        f"AND (virtuemart_shoppergroup_id IN ({', '.join(['%s'] * len(groups))}) "
        f"OR virtuemart_shoppergroup_id = 0 OR virtuemart_shoppergroup_id IS NULL) "
        f"AND (product_price_publish_up IS NULL OR product_price_publish_up <= %s) "
        f"AND (product_price_publish_down IS NULL OR product_price_publish_down >= %s) "
        f"ORDER BY product_price DESC",
        (product, *groups, now, now))
    return [PriceRow(int(g or 0), Decimal(price), int(override or 0), Decimal(over),
                     int(tax), int(discount), int(currency), up, down, int(start or 0),
                     int(end or 0))
            for g, price, override, over, tax, discount, currency, up, down, start, end in rows]


def test_every_shopper_group_pays_the_erps_price_for_each_quantity_inside_and_outside_an_offer(
        vm: Database, pipeline: Pipeline) -> None:
    # Given a product with 3 price levels, each with a standard price, 2 tiers and a dated
    # offer running from yesterday until tomorrow (ERP calendar days, the site's zone)
    today = datetime.now(SITE).date()
    event = upserted(1, 1, prices=level_prices(0),
                     tiers=[{"min_qty": start, "prices": level_prices(i)}
                            for i, start in enumerate(TIER_STARTS) if start],
                     specials=[{"net": str(OFFER_NET), "from": str(today - timedelta(days=1)),
                                "until": str(today + timedelta(days=1))}])
    # When it goes through the broker into the shop
    tally = pipeline.deliver(event)
    assert (tally.applied, tally.dead, tally.retried) == (1, 0, 0)
    product = product_id(vm, "S-1")
    assert vm.scalar(f"SELECT has_prices FROM {P}products WHERE virtuemart_product_id = %s",
                     (product,)) == 1
    # Then VirtueMart's own choice gives every group the ERP's price for every quantity
    during = datetime.combine(today, datetime.min.time()).replace(hour=12)
    after = during + timedelta(days=10)
    for group, level in GROUP_LEVELS.items():
        for at, in_offer in ((during, True), (after, False)):
            rows = vm_price_rows(vm, product, [group], at)
            for quantity in (1, 9, 10, 49, 50, 200):
                assert resolve(rows, group, quantity, at) == intended(level, quantity,
                                                                       in_offer), \
                    (group, quantity, at)
    # ... and the rows carry the vendor currency and the calc rule of CAO tax code 2
    assert vm.rows(f"SELECT DISTINCT product_currency, product_tax_id FROM {P}product_prices "
                   "WHERE virtuemart_product_id = %s", (product,)) == [(47, 1)]


COLOURS, SIZES = ("Rot", "Blau"), ("S", "M", "L")
NAMES = {"A": {"de": "Farbe", "en": "Colour"}, "B": {"de": "Größe", "en": "Size"}}


def shirt_variants(*, without: str | None = None) -> list[dict[str, Any]]:
    children = []
    for i, (colour, size) in enumerate((c, s) for c in COLOURS for s in SIZES):
        net = Decimal("10.00") + i
        sku = f"TS-{colour}-{size}"
        if sku != without:
            children.append({"erp_id": 900 + i, "sku": sku, "dims": {"A": colour, "B": size},
                             "prices": {"1": {"net": str(net), "gross": str(gross(net))}},
                             "stock": "3.0000"})
    return children


def shirt(version: int, *, without: str | None = None) -> dict[str, Any]:
    return upserted(7, version, texts={"de": {"name": "T-Shirt"}, "en": {"name": "Tee"}},
                    variants=shirt_variants(without=without), variant_options=NAMES)


def selector(vm: Database, parent: int) -> list[tuple[int, dict[str, Any]]]:
    return [(int(fid), parse_params(params)) for fid, params in vm.rows(
        f"SELECT f.virtuemart_customfield_id, f.customfield_params FROM "
        f"{P}product_customfields f JOIN {P}customs c USING (virtuemart_custom_id) "
        f"WHERE c.field_type = 'C' AND f.virtuemart_product_id = %s", (parent,))]


def children(vm: Database, parent: int) -> dict[str, int]:
    return {sku: int(pid) for pid, sku in vm.rows(
        f"SELECT virtuemart_product_id, product_sku FROM {P}products "
        f"WHERE product_parent_id = %s", (parent,))}


def test_colour_by_size_gives_one_selector_over_six_real_children_with_stable_ids(
        vm: Database, pipeline: Pipeline) -> None:
    # Given a T-shirt in 2 colours x 3 sizes, each child with its own price
    assert pipeline.deliver(shirt(1)).applied == 1
    parent = product_id(vm, "S-7")
    kids = children(vm, parent)
    assert sorted(kids) == sorted(f"TS-{c}-{s}" for c in COLOURS for s in SIZES)

    # Then the parent has one selector whose options point at the right children
    [(field_id, params)] = selector(vm, parent)
    assert [(s["clabel"], s["values"]) for s in params["selectoptions"]] == [
        ("Farbe", "Rot\r\nBlau"), ("Größe", "S\r\nM\r\nL")]
    options = params["options"]
    assert options.pop(str(parent)) == ["", ""]
    assert {int(pid): tuple(values) for pid, values in options.items()} == {
        kids[f"TS-{c}-{s}"]: (c, s) for c in COLOURS for s in SIZES}
    # ... each child published, with its stock, no categories, its own group-0 price
    for i, (colour, size) in enumerate((c, s) for c in COLOURS for s in SIZES):
        child = kids[f"TS-{colour}-{size}"]
        assert vm.rows(f"SELECT published, product_in_stock, has_categories, has_prices "
                       f"FROM {P}products WHERE virtuemart_product_id = %s",
                       (child,)) == [(1, 3, 0, 1)]
        assert vm.scalar(f"SELECT product_price FROM {P}product_prices WHERE "
                         f"virtuemart_product_id = %s AND virtuemart_shoppergroup_id = 0 "
                         f"AND price_quantity_start = 0", (child,)) == Decimal("10.00") + i
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_categories WHERE "
                     f"virtuemart_product_id IN ({', '.join(map(str, kids.values()))})") == 0
    # ... and a language row per active language, named after the parent, unique slugs
    for lang, name in (("de_de", "T-Shirt"), ("en_gb", "Tee")):
        rows = dict(vm.rows(f"SELECT virtuemart_product_id, product_name FROM "
                            f"{P}products_{lang} WHERE virtuemart_product_id IN "
                            f"({', '.join(map(str, kids.values()))})"))
        assert rows[kids["TS-Blau-M"]] == f"{name} Blau / M"
        assert len(rows) == 6
        slugs = [s for (s,) in vm.rows(f"SELECT slug FROM {P}products_{lang}")]
        assert len(slugs) == len(set(slugs)) == 7

    # When the same state comes again with a higher version
    tally = pipeline.deliver(shirt(2))
    assert (tally.applied, tally.skipped, tally.dead) == (0, 1, 0)
    # ... and then without the red L
    assert pipeline.deliver(shirt(3, without="TS-Rot-L")).applied == 1

    # Then the ids stay, the field is still one row (the same one), the red L is hidden
    assert children(vm, parent) == kids
    [(same_field, params)] = selector(vm, parent)
    assert same_field == field_id
    assert kids["TS-Rot-L"] not in {int(pid) for pid in params["options"]}
    assert len(params["options"]) == 6                  # the parent and 5 children
    assert vm.scalar(f"SELECT published FROM {P}products WHERE virtuemart_product_id = %s",
                     (kids["TS-Rot-L"],)) == 0
    assert vm.scalar(f"SELECT COUNT(*) FROM {LINK_TABLE} WHERE entity_type = 'vm_variant'") == 6

    # When the ERP takes the T-shirt out of the shop, and later deletes it
    hidden = shirt(4, without="TS-Rot-L")
    hidden["payload"]["shop"]["visible"] = False
    assert pipeline.deliver(hidden).applied == 1
    # Then its children are hidden with it (their pages open by URL), none deleted
    published = f"SELECT published FROM {P}products WHERE product_parent_id = %s"
    assert {p for (p,) in vm.rows(published, (parent,))} == {0}
    assert pipeline.deliver(shirt(5, without="TS-Rot-L")).applied == 1
    assert sorted(p for (p,) in vm.rows(published, (parent,))) == [0, 1, 1, 1, 1, 1]
    assert pipeline.deliver(ev.make_event(
        "product.deleted", tenant="acme", source="cao:test", entity_key="7", version=6,
        payload={"erp_id": 7, "sku": "S-7", "reason": "deleted"})).applied == 1
    assert {p for (p,) in vm.rows(published, (parent,))} == {0}
    assert children(vm, parent) == kids


def fingerprint(vm: Database) -> Any:
    tables = [name for (name,) in vm.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_name NOT LIKE 'shopbridge%%' ORDER BY table_name", (vm.name,))]
    return vm.rows(f"CHECKSUM TABLE {', '.join(f'`{t}`' for t in tables)}")


def test_an_unchanged_product_sent_again_changes_nothing_in_the_shop(
        vm: Database, pipeline: Pipeline) -> None:
    until = str(date.today() + timedelta(days=30))
    state = {"tiers": [{"min_qty": 10, "prices": level_prices(1)}],
             "specials": [{"net": "8.50", "from": None, "until": until}],
             "texts": {"de": {"name": "T-Shirt"}}, "variants": shirt_variants(),
             "variant_options": NAMES}
    assert pipeline.deliver(upserted(3, 1, **state)).applied == 1
    before = fingerprint(vm)
    tally = pipeline.deliver(upserted(3, 2, **state))
    assert (tally.applied, tally.skipped, tally.dead) == (0, 1, 0)
    assert fingerprint(vm) == before


def shirt_stock(version: int, stocks: dict[str, int], *, schema_version: int = 2
                ) -> dict[str, Any]:
    """stock.changed of the T-shirt: each child's stock (by SKU, others 3) and their sum."""
    children = [(c["erp_id"], stocks.get(c["sku"], 3)) for c in shirt_variants()]
    payload: dict[str, Any] = {"erp_id": 7, "sku": "S-7",
                               "stock": f"{sum(max(n, 0) for _, n in children)}.0000"}
    if schema_version == 2:
        payload["variants"] = [{"erp_id": e, "stock": f"{n}.0000"} for e, n in children]
    event = ev.make_event("stock.changed", tenant="acme", source="cao:test", entity_key="7",
                          version=version, payload=payload)
    event["schema_version"] = schema_version
    return event


def stocks(vm: Database) -> dict[str, int]:
    """product_in_stock by SKU of the T-shirt and its children."""
    return {sku: int(n) for sku, n in vm.rows(
        f"SELECT product_sku, product_in_stock FROM {P}products WHERE product_sku = 'S-7' "
        f"OR product_sku LIKE 'TS-%%'")}


def test_each_childs_stock_follows_the_newest_stock_event_also_when_the_sum_stays(
        vm: Database, pipeline: Pipeline) -> None:
    # Given a T-shirt whose six children were made in the same batch as a newer stock
    tally = pipeline.deliver(shirt(1), shirt_stock(2, {"TS-Rot-S": 4}))
    assert (tally.applied, tally.dead) == (2, 0)
    assert stocks(vm) == {"S-7": 19, **{f"TS-{c}-{s}": 3 for c in COLOURS for s in SIZES},
                          "TS-Rot-S": 4}

    # When two children change in opposite directions (the master's sum stays 19)
    assert pipeline.deliver(shirt_stock(3, {"TS-Rot-S": 6, "TS-Blau-L": 1})).applied == 1
    # Then both child rows change, the others and the parent keep theirs
    assert stocks(vm) == {"S-7": 19, **{f"TS-{c}-{s}": 3 for c in COLOURS for s in SIZES},
                          "TS-Rot-S": 6, "TS-Blau-L": 1}

    # When a product event with a newer text but an older stock arrives after a stock change
    assert pipeline.deliver(shirt_stock(5, {"TS-Rot-S": 8, "TS-Blau-L": 1})).applied == 1
    renamed = shirt(4)
    renamed["payload"]["texts"]["de"]["name"] = "Hemd"
    assert pipeline.deliver(renamed).applied == 1
    # Then the children are renamed but keep the newer stock (stock is versioned apart)
    parent = product_id(vm, "S-7")
    assert vm.scalar(f"SELECT product_name FROM {P}products_de_de WHERE "
                     f"virtuemart_product_id = %s", (children(vm, parent)["TS-Rot-S"],)
                     ) == "Hemd Rot / S"
    assert stocks(vm)["TS-Rot-S"] == 8 and stocks(vm)["S-7"] == 21

    # And a v1 stock event (no variants) still sets the parent's stock alone
    assert pipeline.deliver(shirt_stock(6, {"TS-Rot-S": 0}, schema_version=1)).applied == 1
    assert stocks(vm)["S-7"] == 15 and stocks(vm)["TS-Rot-S"] == 8


def test_has_prices_is_exact_from_a_new_products_insert_on_and_after_a_change(
        vm: Database, pipeline: Pipeline) -> None:
    """A new product's flag comes with its INSERT (no UPDATE after its price rows), 1 with
    rows and 0 without; a later change of its prices turns it over."""
    def flags() -> list[tuple[str, int | None, int]]:
        return vm.rows(f"SELECT p.product_sku, p.has_prices, COUNT(r.virtuemart_product_price_id)"
                       f" FROM {P}products p LEFT JOIN {P}product_prices r USING "
                       f"(virtuemart_product_id) WHERE p.product_sku IN ('S-1', 'S-2') "
                       f"GROUP BY p.product_sku, p.has_prices ORDER BY p.product_sku")

    tally = pipeline.deliver(upserted(1, 1, prices=level_prices(0)), upserted(2, 1, prices={}))
    assert (tally.applied, tally.dead) == (2, 0)
    assert flags() == [("S-1", 1, len(GROUP_LEVELS)), ("S-2", 0, 0)]

    tally = pipeline.deliver(upserted(1, 2, prices={}), upserted(2, 2, prices=level_prices(0)))
    assert (tally.applied, tally.dead) == (2, 0)
    assert flags() == [("S-1", 0, 0), ("S-2", 1, len(GROUP_LEVELS))]
