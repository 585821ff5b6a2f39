"""VirtueMart price rows written to real MariaDB tables made from the upstream install SQL.

Only the two CREATE statements the writer touches are taken from install.sql, at test time,
with ``#__`` replaced by a unique prefix in a unique database that is dropped afterwards.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from consumers.virtuemart.price_rule import select
from consumers.virtuemart.price_writer import replace_prices
from consumers.virtuemart.prices import PriceRow, PriceSettings, price_rows
from consumers.virtuemart.shop import Tables
from tests.conftest import REFERENCE, Database, require_reference

INSTALL_SQL = REFERENCE / "virtuemart" / "install.sql"
TABLES = ("virtuemart_products", "virtuemart_product_prices")
SETTINGS = PriceSettings(shopper_groups={0: 1, 5: 2, 7: 3}, default_level=1,
                         site_tz=ZoneInfo("Europe/Berlin"), shows_gross=True, currency_id=47)
COLUMNS = ("virtuemart_shoppergroup_id, product_price, override, product_override_price, "
           "product_tax_id, product_discount_id, product_currency, product_price_publish_up, "
           "product_price_publish_down, price_quantity_start, price_quantity_end")


def create_statement(sql: str, table: str) -> str:
    found = re.search(rf"CREATE TABLE IF NOT EXISTS `#__{table}` \(.*?\) ENGINE=[^;]*;", sql,
                      re.DOTALL)
    assert found, f"install.sql has no CREATE TABLE for #__{table}"
    return found[0]


@pytest.fixture
def vm(make_db: Callable[..., Database]) -> tuple[Database, str]:
    """A database with the products and product_prices tables of VM 4.4.0's install.sql."""
    sql = require_reference(INSTALL_SQL)
    prefix = f"t{uuid.uuid4().hex[:6]}_"
    db = make_db("vmprices")
    for table in TABLES:
        db.execute(create_statement(sql, table).replace("#__", prefix))
    db.execute(f"INSERT INTO {prefix}virtuemart_products (virtuemart_product_id, product_sku, "
               "has_prices) VALUES (%s, %s, %s)",
               [(101, "A-101", None), (102, "A-102", 0), (103, "A-103", 1), (104, "A-104", 1)])
    return db, prefix


def payload(**changes: Any) -> dict[str, Any]:
    prices = {str(n): {"net": net, "gross": gross} for n, net, gross in
              ((1, "10.00", "11.90"), (2, "9.00", "10.71"), (3, "8.00", "9.52"))}
    tiers = [{"min_qty": 5, "prices": {"1": {"net": "9.50", "gross": "11.31"}}}]
    body: dict[str, Any] = {"prices": prices, "tax": {"code": 1, "rate": "19"},
                            "tiers": tiers,
                            "specials": [{"net": "8.80", "from": "2025-03-01",
                                          "until": "2025-03-31"}]}
    body.update(changes)
    return body


def stored(db: Database, prefix: str, product_id: int) -> list[PriceRow]:
    return [PriceRow(*r) for r in db.rows(
        f"SELECT {COLUMNS} FROM {prefix}virtuemart_product_prices "
        f"WHERE virtuemart_product_id = %s ORDER BY virtuemart_product_price_id", (product_id,))]


def has_prices(db: Database, prefix: str) -> dict[int, int | None]:
    return dict(db.rows(f"SELECT virtuemart_product_id, has_prices FROM "
                        f"{prefix}virtuemart_products"))


def test_replace_prices_replaces_each_products_rows_as_a_set_and_sets_has_prices(
        vm: tuple[Database, str]) -> None:
    """Stale rows go, the computed rows come back unchanged from the decimal and datetime
    columns, has_prices is exactly 1/0, and a product not in the batch is left alone."""
    db, prefix = vm
    stale = (f"INSERT INTO {prefix}virtuemart_product_prices (virtuemart_product_id, "
             "virtuemart_shoppergroup_id, product_price) VALUES (%s, %s, %s)")
    db.execute(stale, [(101, 9, Decimal("99")), (103, 0, Decimal("5")), (104, 0, Decimal("7"))])
    rows = price_rows(payload(), SETTINGS, tax_id=0, what="test")
    fewer = price_rows(payload(specials=[], tiers=[]), SETTINGS, tax_id=0, what="test")
    with db.engine.begin() as conn:
        replace_prices(conn, Tables(prefix), {101: rows, 102: fewer, 103: ()})
    assert stored(db, prefix, 101) == list(rows)
    assert stored(db, prefix, 102) == list(fewer)
    assert stored(db, prefix, 103) == []
    assert len(stored(db, prefix, 104)) == 1
    assert has_prices(db, prefix) == {101: 1, 102: 1, 103: 0, 104: 1}
    assert db.scalar(f"SELECT COUNT(*) FROM {prefix}virtuemart_product_prices WHERE "
                     "created_on IS NULL OR modified_on IS NULL OR "
                     "virtuemart_product_id IN (101, 102)") == len(rows) + len(fewer) + 1


def test_products_whose_insert_set_the_flag_are_not_updated_again(
        vm: tuple[Database, str]) -> None:
    """``flagged``: the store's new products, whose INSERT wrote has_prices from these rows;
    their rows are written, their flag is left as the INSERT made it."""
    db, prefix = vm
    rows = price_rows(payload(), SETTINGS, tax_id=0, what="test")
    with db.engine.begin() as conn:
        replace_prices(conn, Tables(prefix), {101: rows, 102: rows, 103: ()},
                       fresh={101}, flagged={101, 103})
    assert stored(db, prefix, 101) == list(rows)
    assert has_prices(db, prefix) == {101: None, 102: 1, 103: 1, 104: 1}


def test_writing_again_with_fewer_rows_leaves_no_stale_row(vm: tuple[Database, str]) -> None:
    db, prefix = vm
    with db.engine.begin() as conn:
        replace_prices(conn, Tables(prefix),
                       {101: price_rows(payload(), SETTINGS, tax_id=0, what="test")})
    fewer = price_rows(payload(specials=[]), SETTINGS, tax_id=0, what="test")
    with db.engine.begin() as conn:
        replace_prices(conn, Tables(prefix), {101: fewer})
    assert stored(db, prefix, 101) == list(fewer)


@pytest.mark.parametrize(("groups", "quantity", "at", "shown"), [
    ((1,), 1, datetime(2025, 2, 28, 23, 59, 59), Decimal("11.90")),
    ((1,), 1, datetime(2025, 3, 1), Decimal("10.47")),       # 8.80 net + 19 %
    ((1,), 5, datetime(2025, 3, 31, 23, 59, 59), Decimal("10.47")),
    ((1,), 5, datetime(2025, 4, 1), Decimal("11.31")),
    ((5,), 1, datetime(2025, 4, 1), Decimal("10.71")),
    ((5,), 1, datetime(2025, 3, 15), Decimal("10.47")),
    ((7,), 1, datetime(2025, 3, 15), Decimal("9.52")),
])
def test_vm_query_on_the_stored_rows_finds_the_erp_price(
        vm: tuple[Database, str], groups: tuple[int, ...], quantity: int, at: datetime,
        shown: Decimal) -> None:
    """loadProductPrices' own WHERE and ORDER BY, run by MariaDB on the written rows, then
    getRawProductPrices' choice: the final gross the ERP intends."""
    db, prefix = vm
    with db.engine.begin() as conn:
        replace_prices(conn, Tables(prefix),
                       {101: price_rows(payload(), SETTINGS, tax_id=0, what="test")})
    marks = ", ".join(["%s"] * len(groups))
    fetched = [PriceRow(*r) for r in db.rows(
        f"SELECT {COLUMNS} FROM {prefix}virtuemart_product_prices "
        f"WHERE virtuemart_product_id = %s AND (virtuemart_shoppergroup_id IN ({marks}) "
        "OR virtuemart_shoppergroup_id IS NULL OR virtuemart_shoppergroup_id = 0) "
        "AND (product_price_publish_up IS NULL OR product_price_publish_up <= %s) "
        "AND (product_price_publish_down IS NULL OR product_price_publish_down >= %s) "
        "ORDER BY product_price DESC", (101, *groups, at, at))]
    chosen = select(fetched, groups, quantity, at)
    assert chosen is not None and chosen.product_override_price == shown

