"""The consumer's fallback for a failed batch (``consumers.applying.apply_in_halves``): halves
down to the events that fail alone, in the batch's order, at a cost of about 2k x log2(n/k)
calls for k poison events among n instead of one call per event."""

from __future__ import annotations

import gc
import math
import weakref
from collections.abc import Sequence
from typing import Any

import pytest

from consumers.applying import apply_in_halves
from shopbridge import events as ev
from shopbridge.errors import (
    MappingError,
    TargetLocked,
    TargetUnavailable,
    TransientDatabaseError,
)
from shopbridge.events import Event
from tests.helpers import product_event


def _events(n: int) -> list[Event]:
    return [ev.parse(product_event(k, 1)) for k in range(1, n + 1)]


class _Shop:
    """Applies a part unless it holds a poison event; remembers what it applied, in order."""

    def __init__(self, poison: set[str], error: type[Exception] = MappingError) -> None:
        self.poison, self.error = poison, error
        self.calls = 0
        self.sizes: list[int] = []
        self.applied: list[str] = []

    def apply(self, part: Sequence[Event]) -> None:
        self.calls += 1
        self.sizes.append(len(part))
        bad = [e.entity_key for e in part if e.entity_key in self.poison]
        if bad:
            raise self.error(f"product {bad[0]}: unmapped tax code")
        self.applied += [e.entity_key for e in part]


@pytest.mark.parametrize("poison", [{"1"}, {"250"}, {"500"}, {"7", "400"},
                                    {str(k) for k in range(100, 113)}])
def test_the_poison_events_alone_fail_the_rest_is_applied_in_order_in_few_calls(poison):
    events = _events(500)
    shop = _Shop(poison)
    failed: list[tuple[str, Any]] = []
    splits: list[int] = []

    apply_in_halves(events, shop.apply, lambda e, err: failed.append((e.entity_key, err)),
                    split=lambda part, err: splits.append(len(part)))

    assert [k for k, _ in failed] == sorted(poison, key=int)        # in the batch's order
    assert all(isinstance(err, MappingError) for _, err in failed)
    assert shop.applied == [e.entity_key for e in events if e.entity_key not in poison]
    if len(poison) <= 2:                                               # halved all the way
        assert shop.calls <= 1 + 2 * len(poison) * math.ceil(math.log2(500) + 1)
    assert shop.calls <= 500 + 3 * math.ceil(math.log2(500))          # never much over n
    assert splits[0] == 500


def test_a_batch_where_every_event_fails_costs_about_one_call_per_event_not_more():
    events = _events(500)
    shop = _Shop({e.entity_key for e in events})
    failed: list[str] = []

    apply_in_halves(events, shop.apply, lambda e, err: failed.append(e.entity_key))

    assert failed == [e.entity_key for e in events]
    assert shop.calls <= 500 + 2 * math.ceil(math.log2(500)) + 2
    assert sum(shop.sizes) <= 4 * 500           # events applied in all, failed ones included


@pytest.mark.parametrize("error", [TargetLocked, TransientDatabaseError])
def test_a_lock_held_elsewhere_sends_the_batch_one_by_one_not_into_halves(error):
    """Every part holding the locked event would wait for its lock again."""
    shop = _Shop({"5"}, error=error)
    failed: list[str] = []

    apply_in_halves(_events(16), shop.apply, lambda e, err: failed.append(e.entity_key))

    assert shop.sizes == [16] + [1] * 16
    assert failed == ["5"]


def test_a_batch_that_applies_is_one_call_and_no_split():
    shop = _Shop(set())
    apply_in_halves(_events(10), shop.apply, lambda e, err: pytest.fail(f"{e} failed"),
                    split=lambda part, err: pytest.fail("split"))
    assert shop.calls == 1 and len(shop.applied) == 10


def test_a_database_that_is_away_is_raised_not_blamed_on_an_event():
    shop = _Shop({"3"}, error=TargetUnavailable)
    with pytest.raises(TargetUnavailable):
        apply_in_halves(_events(8), shop.apply, lambda e, err: pytest.fail(f"{e} blamed"))
    assert shop.calls == 1


def test_a_database_that_goes_away_while_halving_is_raised_from_the_part():
    """The batch fails for a poison event; then, at the second half, the database is away."""
    events = _events(8)
    calls: list[int] = []

    def apply(part: Sequence[Event]) -> None:
        calls.append(len(part))
        if len(calls) == 1:
            raise MappingError("product 2: unmapped tax code")
        if part[0].entity_key == "5":
            raise TargetUnavailable("the shop's database is away")

    failed: list[str] = []
    with pytest.raises(TargetUnavailable):
        apply_in_halves(events, apply, lambda e, err: failed.append(e.entity_key))
    assert calls == [8, 4, 4] and failed == []


def test_a_batch_is_freed_when_it_ends_without_the_collector():
    """A batch that fails in parts is freed by reference counting when it ends: the consumer
    pauses the collector while it applies one, and a self-calling closure here kept every
    batch's events alive until the next full collection (1.5 s of the collector's CPU per
    100,000 events)."""
    class Batch(list[Event]):
        pass

    class Splits:
        """As the consumer's callback: it holds the whole batch."""
        def __init__(self, batch: Batch) -> None:
            self.batch = batch
            self.sizes: list[int] = []

        def split(self, part: Sequence[Event], err: Exception) -> None:
            self.sizes.append(len(part))

    batch = Batch(_events(8))
    splits = Splits(batch)
    gc.disable()
    try:
        apply_in_halves(batch, _Shop({"3"}).apply, lambda e, err: None, split=splits.split)
        assert splits.sizes[0] == 8
        gone = weakref.ref(batch)
        del batch, splits
        assert gone() is None
    finally:
        gc.enable()


def test_an_empty_batch_makes_no_call():
    shop = _Shop(set())
    apply_in_halves([], shop.apply, lambda e, err: None)
    assert shop.calls == 0
