"""FreshIds: the products one transaction inserted, none for another (the next batch's, or
the next savepoint of the dry run's one connection)."""

from __future__ import annotations

from typing import cast

from sqlalchemy.engine import Connection

from consumers.fresh import FreshIds


class _Conn:
    """A connection as FreshIds sees it: its transaction and savepoint in hand."""

    def __init__(self) -> None:
        self.transaction: object | None = object()
        self.savepoint: object | None = None

    def get_transaction(self) -> object | None:
        return self.transaction

    def get_nested_transaction(self) -> object | None:
        return self.savepoint


def test_fresh_ids_belong_to_their_transaction() -> None:
    first, second = _Conn(), _Conn()
    fresh = FreshIds()
    assert fresh.of(cast(Connection, first)) == frozenset()
    fresh.add(cast(Connection, first), [1, 2])
    fresh.add(cast(Connection, first), [3])
    assert fresh.of(cast(Connection, first)) == {1, 2, 3}
    assert fresh.of(cast(Connection, second)) == frozenset()    # the next batch
    fresh.add(cast(Connection, second), [4])
    assert fresh.of(cast(Connection, second)) == {4}
    assert fresh.of(cast(Connection, first)) == frozenset()


def test_each_savepoint_of_one_connection_has_its_own() -> None:
    """The dry run applies every batch in a savepoint of one held connection."""
    conn = _Conn()
    fresh = FreshIds()
    conn.savepoint = object()
    fresh.add(cast(Connection, conn), [1])
    assert fresh.of(cast(Connection, conn)) == {1}
    conn.savepoint = object()                   # the next batch
    assert fresh.of(cast(Connection, conn)) == frozenset()
    conn.savepoint = None                       # back in the outer transaction
    assert fresh.of(cast(Connection, conn)) == frozenset()


def test_no_transaction_has_none() -> None:
    conn = _Conn()
    conn.transaction = None
    fresh = FreshIds()
    fresh.add(cast(Connection, conn), [1])
    assert fresh.of(cast(Connection, conn)) == frozenset()
