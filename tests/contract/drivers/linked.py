"""What every contract driver of a shop in MariaDB shares: reading through the link table,
and the fingerprint of the shop's own tables."""

from __future__ import annotations

from typing import Any

from consumers.binder import LINK_TABLE
from tests.conftest import Database


class LinkedShop:
    """A driver's base: ``db`` is the shop's database (set by the driver)."""

    db: Database
    _tables: list[str] | None = None       # the shop's own tables, read once

    def fingerprint(self) -> Any:
        if self._tables is None:
            self._tables = [name for (name,) in self.db.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name NOT LIKE 'shopbridge%%' ORDER BY table_name", (self.db.name,))]
        tables = ", ".join(f"`{t}`" for t in self._tables)
        return self.db.rows(f"CHECKSUM TABLE {tables}")

    def _target(self, entity: str, key: str) -> int | None:
        """The shop id linked to ``key``; None: not in the shop."""
        target = self.db.scalar(f"SELECT target_id FROM {LINK_TABLE} WHERE entity_type = %s "
                                f"AND entity_key = %s", (entity, key))
        return None if target is None else int(target)

    def _linked_row(self, entity: str, key: str, sql: str,
                    *params: Any) -> tuple[Any, ...] | None:
        """The row ``sql`` reads for the shop id linked to ``key`` (``sql`` takes ``params``,
        then the shop id); None: not in the shop."""
        target_id = self._target(entity, key)
        if target_id is None:
            return None
        rows = self.db.rows(sql, (*params, target_id))
        return tuple(rows[0]) if rows else None

    def _category_key(self, category_id: int) -> str | None:
        """The key of the category the shop has as ``category_id`` (0: the top level)."""
        if not category_id:
            return None
        key = self.db.scalar(f"SELECT entity_key FROM {LINK_TABLE} WHERE entity_type = "
                             f"'category' AND target_id = %s", (category_id,))
        return None if key is None else str(key)
