"""The contract every shop kind keeps, per event type a shop consumes.

Each test runs once per shop kind (tests/contract/drivers/) and event type: events go through
the real broker path into a running consumer, and the shop is read back in shop-neutral terms
(tests/contract/shop.py). Versions: 10 and 20 are older states, 30 is the newest.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.conftest import ContractShop
from tests.contract.pipeline import Tally
from tests.contract.shop import HIDDEN
from tests.contract.subjects import (
    DELETED_TYPES,
    EVENT_TYPES,
    HIDING_TYPES,
    UNMAPPABLE_TYPES,
    Hiding,
    ProductUpserted,
    StockChanged,
)

each_type = pytest.mark.parametrize("event_type", EVENT_TYPES)


@each_type
def test_an_event_is_applied(shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)

    shop.deliver(s.before(10))
    assert s.shown() == s.shows_before(10)
    tally = shop.deliver(s.event(30))

    assert s.shown() == s.shows(30, before=10)
    assert tally.dead == tally.retried == 0


@each_type
def test_the_same_event_again_changes_nothing(shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))
    event = s.event(30)
    shop.deliver(event)
    rows = shop.driver.fingerprint()

    tally = shop.deliver(event)                     # redelivered: same id, same version

    assert tally == Tally(applied=0, skipped=1, dead=0, retried=0)
    assert s.shown() == s.shows(30, before=10)
    assert shop.driver.fingerprint() == rows


@each_type
def test_an_older_version_arriving_late_is_ignored(shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))
    shop.deliver(s.event(30))
    rows = shop.driver.fingerprint()

    tally = shop.deliver(s.before(20))              # older than what the shop has

    assert tally == Tally(applied=0, skipped=1, dead=0, retried=0)
    assert s.shown() == s.shows(30, before=10)
    assert shop.driver.fingerprint() == rows


@each_type
def test_newer_first_then_older_published_together_the_newer_wins(shop: ContractShop,
                                                         event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))

    shop.deliver(s.event(30), s.before(20))         # published in this order

    assert s.shown() == s.shows(30, before=10)


@each_type
def test_newer_first_then_older_for_a_new_entity_the_newer_wins(shop: ContractShop,
                                                                event_type: str) -> None:
    """For a deleted type: an entity deleted before it ever arrived is never created."""
    s = shop.subject(event_type)

    shop.deliver(s.event(30), s.before(20))

    assert s.shown() == s.shows(30, before=None)


@pytest.mark.parametrize("event_type", HIDING_TYPES)
def test_hidden_then_shown_again(shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)
    assert isinstance(s, Hiding)
    shop.deliver(s.show(10))
    assert s.shown() == s.shows_before(10)

    shop.deliver(s.hide(20))
    assert s.shown() == HIDDEN                       # kept (orders may reference it), not shown

    shop.deliver(s.show(30))
    assert s.shown() == s.shows_before(30)


def test_a_stock_change_does_not_show_a_hidden_product(shop: ContractShop) -> None:
    s = shop.subject("stock.changed")
    assert isinstance(s, StockChanged)
    shop.deliver(s.upserted(10, visible=False))
    assert s.shown() == HIDDEN

    shop.deliver(s.event(20))
    assert s.shown() == HIDDEN

    shop.deliver(s.upserted(30, stock="20"))         # selected again, with the same stock
    assert s.shown() == s.product(30, quantity=20)


def test_a_stock_change_before_its_product_arrives_is_kept_for_it(shop: ContractShop) -> None:
    s = shop.subject("product.upserted")
    assert isinstance(s, ProductUpserted)

    shop.deliver(s.stock_changed(20))
    assert s.shown() is None
    shop.deliver(s.upserted(10))                     # carries the older stock of v10

    assert s.shown() == s.product(10, quantity=20, manufacturer=s.maker)


def test_a_stock_change_never_makes_a_newer_product_change_look_stale(
        shop: ContractShop) -> None:
    """The product state and the stock are versioned apart (docs/architecture.md)."""
    s = shop.subject("product.upserted")
    assert isinstance(s, ProductUpserted)
    shop.deliver(s.upserted(10))

    shop.deliver(s.stock_changed(30))
    shop.deliver(s.upserted(20))                     # newer text and price, older stock

    assert s.shown() == s.product(20, quantity=30, manufacturer=s.maker)


@pytest.mark.parametrize("event_type", DELETED_TYPES)
def test_upserted_again_after_deletion_shows_the_newer_state(shop: ContractShop,
                                                            event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))
    shop.deliver(s.event(20))

    shop.deliver(s.before(30))

    assert s.shown() == s.shows_before(30)


@each_type
def test_an_invalid_event_is_dead_lettered_naming_entity_and_field(
        shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))
    invalid, field = s.invalid(30)

    tally = shop.deliver(invalid)

    assert tally.dead == 1 and tally.applied == 0
    assert s.shown() == s.shows_before(10)
    assert_dead_letter(shop, invalid, "InvalidEvent", field)


@pytest.mark.parametrize("event_type", UNMAPPABLE_TYPES)
def test_an_event_the_shop_cannot_express_is_dead_lettered_naming_entity_and_field(
        shop: ContractShop, event_type: str) -> None:
    s = shop.subject(event_type)
    shop.deliver(s.before(10))
    unmappable = s.unmappable(30)
    assert unmappable is not None
    event, field = unmappable

    tally = shop.deliver(event)

    assert tally.dead == 1 and tally.applied == 0
    assert s.shown() == s.shows_before(10)
    assert_dead_letter(shop, event, "MappingError", field)


def assert_dead_letter(shop: ContractShop, event: dict[str, Any], error_class: str,
                       field: str) -> None:
    """One dead letter for the event, its headers naming type, entity and field."""
    [letter] = shop.pipeline.dead_letters(event["entity_key"])
    assert (letter.event_type, letter.entity_key) == (event["type"], event["entity_key"])
    assert letter.error_class == error_class
    assert f"{event['type']} {event['entity_key']}" in letter.error
    assert f"field {field}" in letter.error
