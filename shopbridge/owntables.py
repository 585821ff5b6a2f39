"""shopbridge's own tables (link, snapshot, order import, ...): how each is made sure of.

Each table's DDL stays in the module that owns the table (``consumers/binder.py`` owns
``shopbridge_link``, ``producers/cao/snapshot.py`` owns ``shopbridge_snapshot``, ...); that
module describes it once as an ``OwnTable`` and calls ``ensure`` where it starts.

``ensure`` reads the catalogue first and issues DDL only for what is missing, so a service
whose database user has DML grants only (SELECT, INSERT, UPDATE, DELETE) runs once
``shopbridge setup`` has created the tables, and a user that may create tables keeps working
without setup, as before. A missing table the user may not create ends the service with one
line naming the table and the setup command (``SetupRequired``, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .db import columns_of
from .errors import SetupRequired

DUPLICATE_COLUMN = 1060      # ER_DUP_FIELDNAME: another process added the column first
DENIED = {
    1142,  # CREATE/ALTER command denied for the table
    1044,  # access denied to the database (no CREATE on it)
}
SETUP_HINT = ("run 'shopbridge setup' once with a database user that may create and alter "
              "tables (docs/configuration.md, \"Database users\")")

_COLUMN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+[A-Z]", re.MULTILINE)
_NOT_COLUMNS = {"primary", "key", "unique", "index", "constraint", "foreign"}


@dataclass(frozen=True)
class OwnTable:
    """One table of shopbridge's own.

    Args:
        name: the table's name.
        ddl: ``CREATE TABLE IF NOT EXISTS`` with every column, one column per line.
        added: columns added after the table first shipped -> their definition; a table made
            by an older version gets them with ``ALTER TABLE ... ADD COLUMN``.
    """

    name: str
    ddl: str
    added: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns as its DDL declares them."""
        body = self.ddl.split("(", 1)[1]
        return tuple(c for c in _COLUMN.findall(body) if c not in _NOT_COLUMNS)

    def missing_columns(self, have: dict[str, str]) -> list[str]:
        return [c for c in self.columns if c.upper() not in have]


def ensure(conn: Connection, table: OwnTable) -> str | None:
    """Make sure ``table`` exists with every column; create or upgrade it where the user may.

    Returns:
        what was done: "created", "added column(s) ...", or None when it was complete.

    Raises:
        SetupRequired: the table or a column is missing and the user may not add it.
    """
    have = columns_of(conn, table.name)
    missing = table.missing_columns(have)
    if not missing:
        return None
    try:
        if not have:
            conn.exec_driver_sql(table.ddl)
            return "created"
        for column in missing:
            if column not in table.added:
                raise SetupRequired(
                    f"table {table.name} in database {_database(conn)} lacks column {column}, "
                    "which no upgrade adds: drop the table and " + SETUP_HINT)
            _add_column(conn, table, column)
    except sa.exc.DBAPIError as err:
        if _code(err) not in DENIED:
            raise
        what = (f"table {table.name} is missing (or not visible: no grant on it)" if not have else
                f"table {table.name} lacks column(s) {', '.join(missing)}")
        raise SetupRequired(f"{what} in database {_database(conn)} and this database user "
                            f"may not {'create' if not have else 'alter'} it: "
                            + SETUP_HINT) from err
    return f"added column(s) {', '.join(missing)}"


def _add_column(conn: Connection, table: OwnTable, column: str) -> None:
    # MySQL 8 lacks ADD COLUMN IF NOT EXISTS: two processes may race, the second one fails.
    try:
        conn.exec_driver_sql(
            f"ALTER TABLE {table.name} ADD COLUMN {column} {table.added[column]}")
    except sa.exc.DBAPIError as err:
        if _code(err) != DUPLICATE_COLUMN:
            raise


def _code(err: sa.exc.DBAPIError) -> int | None:
    args = getattr(err.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _database(conn: Connection) -> str:
    return f"`{conn.exec_driver_sql('SELECT DATABASE()').scalar()}`"
