"""Which products the open transaction has just inserted (a shop kind's store keeps them).

A product inserted in this transaction has no rows in the shop's other product tables yet
(language rows, prices, category links, specials), so their writers may skip the locking
reads and deletes that make a rewrite exact and insert plainly: the initial load is all new
products. VirtueMart's store also writes the flags (``has_categories``, ``has_prices``) in
its INSERT from the batch's rows, so they need no UPDATE. The stores note only ids above
every row of those tables (an id an emptied products table hands out again may still have
rows there). The ids belong to one transaction (the innermost: the dry run applies each
batch in a savepoint): a later batch, or a retry after a rollback, sees none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.engine import Connection


class FreshIds:
    def __init__(self) -> None:
        self._txn: object = None
        self._ids: frozenset[int] = frozenset()

    @staticmethod
    def _transaction(conn: Connection) -> object:
        # The innermost: the dry run applies each batch in a savepoint of one connection.
        return conn.get_nested_transaction() or conn.get_transaction()

    def add(self, conn: Connection, ids: Iterable[int]) -> None:
        """Note ids that ``conn``'s transaction has just inserted into the products table."""
        txn = self._transaction(conn)
        if txn is not self._txn:
            # The previous transaction is kept referenced, so no new one can reuse its id().
            self._txn, self._ids = txn, frozenset()
        self._ids = self._ids | frozenset(ids)

    def add_unreferenced(self, conn: Connection, ids: Sequence[int], *, column: str,
                         tables: Sequence[str]) -> list[int]:
        """Note the ids ``conn``'s transaction has just inserted that are above every
        ``column`` value in ``tables`` (one indexed read each), and return them: an id that
        an emptied products table (TRUNCATE) hands out again may still have rows there."""
        above = conn.exec_driver_sql("SELECT GREATEST(0, {})".format(", ".join(
            f"IFNULL((SELECT MAX({column}) FROM {table}), 0)" for table in tables))
        ).scalar_one()
        clean = [pid for pid in ids if pid > above]
        self.add(conn, clean)
        return clean

    def of(self, conn: Connection) -> frozenset[int]:
        """The product ids ``conn``'s transaction inserted (none for another transaction)."""
        txn = self._transaction(conn)
        return self._ids if txn is not None and txn is self._txn else frozenset()
