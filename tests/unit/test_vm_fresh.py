"""FreshIds: the products one connection's transaction inserted, none for another."""

from typing import cast

from sqlalchemy.engine import Connection

from consumers.virtuemart.fresh import FreshIds


def test_fresh_ids_belong_to_their_connection() -> None:
    first, second = cast(Connection, object()), cast(Connection, object())
    fresh = FreshIds()
    assert fresh.of(first) == frozenset()
    fresh.add(first, [1, 2])
    fresh.add(first, [3])
    assert fresh.of(first) == {1, 2, 3}
    assert fresh.of(second) == frozenset()        # the next batch: a new connection
    fresh.add(second, [4])
    assert fresh.of(second) == {4}
    assert fresh.of(first) == frozenset()
