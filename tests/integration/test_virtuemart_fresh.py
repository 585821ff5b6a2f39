"""A product VirtueMart's store inserts gets its texts, manufacturer and category links and
prices without the deletes and locking reads of a rewrite (``consumers.fresh``), except
where the id it got, handed out again after the products table was emptied, still has rows
in one of those tables: then it is written as an existing product and ends with the ERP's
rows only."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from shopbridge import events as ev
from tests.conftest import Database
from tests.contract.pipeline import Pipeline
from tests.unit.test_events import product_payload
from tests.virtuemart_db import PREFIX, vm_pipeline

P = PREFIX + "virtuemart_"
ORPHANS = {
    "prices": f"INSERT INTO {P}product_prices (virtuemart_product_id, "
              f"virtuemart_shoppergroup_id, product_price, product_currency) "
              f"VALUES (%s, 0, 99.00000, 47)",
    "categories": f"INSERT INTO {P}product_categories (virtuemart_product_id, "
                  f"virtuemart_category_id, ordering) VALUES (%s, 999, 1)",
    "manufacturers": f"INSERT INTO {P}product_manufacturers (virtuemart_product_id, "
                     f"virtuemart_manufacturer_id) VALUES (%s, 999)",
    "texts": f"INSERT INTO {P}products_de_de (virtuemart_product_id, product_name, "
             f"slug) VALUES (%s, 'Alt', 'alt-%s')",
}


@pytest.fixture
def pipeline(vm: Database) -> Iterator[Pipeline]:
    with vm_pipeline(vm, name="sbtest-vmfresh") as line:
        yield line


@pytest.mark.parametrize("table", list(ORPHANS))
def test_rows_left_under_a_reused_id_are_replaced(vm: Database, pipeline: Pipeline,
                                                   table: str) -> None:
    next_id = int(vm.scalar(
        "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
        "DATABASE() AND TABLE_NAME = %s", (f"{P}products",)))
    vm.execute(ORPHANS[table], (next_id,) * ORPHANS[table].count("%s"))

    tally = pipeline.deliver(ev.make_event(
        "product.upserted", tenant="acme", source="cao:test", entity_key="1", version=1,
        payload=product_payload(sku="F-1", erp_id=1)))

    assert (tally.applied, tally.dead, tally.retried) == (1, 0, 0)
    pid = int(vm.scalar(f"SELECT virtuemart_product_id FROM {P}products "
                        f"WHERE product_sku = 'F-1'"))
    assert pid == next_id                       # no failed attempt used an id up
    prices = vm.rows(f"SELECT product_price FROM {P}product_prices "
                     f"WHERE virtuemart_product_id = %s", (pid,))
    assert [Decimal(p) for p, in prices] == [Decimal("10")]
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_categories "
                     f"WHERE virtuemart_product_id = %s", (pid,)) == 0
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}product_manufacturers "
                     f"WHERE virtuemart_product_id = %s", (pid,)) == 0
    assert vm.scalar(f"SELECT product_name FROM {P}products_de_de "
                     f"WHERE virtuemart_product_id = %s", (pid,)) == "Gießkanne"
