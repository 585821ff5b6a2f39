"""R1/R3: duplicate and out-of-order delivery of the same events leaves the same final state.

Hypothesis draws a producer history (per entity strictly increasing versions of
product.upserted, product.deleted and stock.changed), then delivers it shuffled, with
duplicates, in random batches (coalesced as the consumer does). The result must equal the
history applied in order, one event at a time, on a second real Phoenix database.

"The same final state" is what the storefront shows (visible products with name, price and
quantity) plus the link table's versions. Not the hidden rows: a delete that arrives before
the older create leaves no hidden product behind, where in-order delivery leaves a hidden one.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.oscommerce import PhoenixApplier
from shopbridge import config as cfg
from shopbridge import events as ev
from tests.conftest import Database, shop_entry
from tests.helpers import storefront
from tests.unit.test_events import product_payload

KEYS = ("1", "2", "3")


@st.composite
def histories(draw: Any) -> list[ev.Event]:
    history = []
    for key in KEYS:
        version = 1000
        for _ in range(draw(st.integers(1, 5))):
            version += draw(st.integers(1, 50))
            kind = draw(st.sampled_from(["upsert", "upsert", "stock", "delete"]))
            if kind == "upsert":
                payload = product_payload(
                    sku=f"A-{key}", erp_id=int(key), stock=str(draw(st.integers(-2, 30))),
                    shop={"id": 1, "visible": draw(st.booleans()), "delete_flag": False})
                payload["prices"]["1"]["net"] = f"{draw(st.integers(1, 999))}.5000"
                payload["texts"]["de"]["name"] = draw(st.sampled_from(["Säge", "Öl", "Tür"]))
                raw = ev.make_event("product.upserted", tenant="acme", source="t",
                                    entity_key=key, version=version, payload=payload)
            elif kind == "stock":
                raw = ev.make_event("stock.changed", tenant="acme", source="t", entity_key=key,
                                    version=version, payload={
                                        "erp_id": int(key), "sku": f"A-{key}",
                                        "stock": str(draw(st.integers(-2, 30)))})
            else:
                raw = ev.make_event("product.deleted", tenant="acme", source="t",
                                    entity_key=key, version=version,
                                    payload={"erp_id": int(key), "sku": f"A-{key}",
                                             "reason": "deleted"})
            history.append(ev.parse(raw))
    return history


def _reset(db: Database) -> None:
    for table in ("products", "products_description", "shopbridge_link"):
        db.execute(f"DELETE FROM {table}")


def _state(db: Database) -> tuple[Any, ...]:
    links = db.rows("SELECT entity_key, version, stock_version FROM shopbridge_link "
                    "WHERE version > 0 OR stock_version > 0 ORDER BY entity_key")
    return storefront(db, 2), [tuple(r) for r in links]


@pytest.fixture
def two_shops(phoenix_factory: Any) -> tuple[PhoenixApplier, Database, PhoenixApplier, Database]:
    appliers = []
    for _ in range(2):
        db = phoenix_factory()
        data = {"tenants": [{"name": "acme", "erp": {"url": "mysql://x@y/z"},
                             "shops": [shop_entry("web", db, languages=["de"])]}]}
        shop = cfg.parse(data).tenants[0].shops[0]
        applier = PhoenixApplier(shop=shop, engine=db.engine)
        applier.prepare()
        appliers.append((applier, db))
    return appliers[0][0], appliers[0][1], appliers[1][0], appliers[1][1]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_shuffled_duplicated_batched_delivery_equals_in_order_delivery(two_shops, history, data):
    in_order, expected_db, shuffled, actual_db = two_shops
    _reset(expected_db)
    _reset(actual_db)
    for event in history:
        in_order.apply([event])

    duplicates = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    delivery = data.draw(st.permutations(history + duplicates))
    while delivery:
        size = data.draw(st.integers(1, len(delivery)))
        batch, delivery = delivery[:size], delivery[size:]
        shuffled.apply(ev.coalesce(batch))

    assert _state(actual_db) == _state(expected_db)
