"""Which products the open transaction has just inserted.

A product inserted in this transaction cannot have language rows, price rows, category or
manufacturer links yet, so their writers may skip the locking reads and deletes that make a
rewrite exact and insert plainly (the initial load is all new products); the flags the
store's INSERT already wrote from the batch's rows (``has_categories``, ``has_prices``) need
no UPDATE. The ids belong to one connection: the core opens a new one per batch, so a later
batch, or a retry after a rollback, sees none of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Connection


class FreshIds:
    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._ids: frozenset[int] = frozenset()

    def add(self, conn: Connection, ids: Iterable[int]) -> None:
        """Note ids that ``conn`` has just inserted into the products table."""
        if conn is not self._conn:
            # The previous connection is kept referenced, so no new one can reuse its id().
            self._conn, self._ids = conn, frozenset()
        self._ids = self._ids | frozenset(ids)

    def of(self, conn: Connection) -> frozenset[int]:
        """The product ids ``conn``'s transaction inserted (none for another connection)."""
        return self._ids if conn is self._conn else frozenset()
