"""Per-row differences between two states of one database, for dry runs (B2).

A dry run applies events inside a transaction it rolls back. What that transaction changed is
read by comparing it with a second connection that holds a consistent snapshot taken before
the apply (InnoDB's MVCC: the second connection never sees the uncommitted rows and never
waits for them). Each table is compared by a cheap fingerprint first (row count and a sum of
row checksums); only tables whose fingerprints differ are read in full and compared row by
row, keyed by their primary key (a table without one: by the whole row, so a change shows as
a delete and an insert).

Generic SQL over information_schema: it knows no shop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

INSERT, UPDATE, DELETE = "insert", "update", "delete"
# What a dry run can roll back. MyISAM, Aria, MEMORY and CSV tables keep what was written.
TRANSACTIONAL = frozenset({"InnoDB"})


@dataclass(frozen=True)
class RowChange:
    """One row a dry run would insert, update or delete. ``key``: its primary key columns
    (every column where the table has none); ``before``/``after``: the whole row (None for an
    insert's before and a delete's after); ``columns``: the changed columns of an update."""

    table: str
    action: str
    key: Mapping[str, Any]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    columns: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table, "action": self.action,
                               "key": {k: plain(v) for k, v in self.key.items()}}
        if self.action == UPDATE:
            assert self.before is not None and self.after is not None
            out["changes"] = {c: [plain(self.before[c]), plain(self.after[c])]
                              for c in self.columns}
        else:
            row = self.after if self.action == INSERT else self.before
            out["row"] = {k: plain(v) for k, v in (row or {}).items()}
        return out

    def lines(self) -> list[str]:
        key = ", ".join(f"{k}={shown(v)}" for k, v in self.key.items())
        head = f"{self.action.upper():6} {self.table} [{key}]"
        if self.action == UPDATE:
            assert self.before is not None and self.after is not None
            return [head] + [f"         {c}: {shown(self.before[c])} -> {shown(self.after[c])}"
                             for c in self.columns]
        row = (self.after if self.action == INSERT else self.before) or {}
        return [head + " " + ", ".join(f"{k}={shown(v)}" for k, v in row.items()
                                       if k not in self.key)]


@dataclass
class DryRunReport:
    """What a dry run found: the rows it would change, the work outside the database it
    would do (``outside``: "copy 2 image file(s): a.jpg, b.jpg"), and the events' tally."""

    changes: list[RowChange] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    events: int = 0
    messages: int = 0
    applied: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)     # "<event>: error" (would be retried)
    notes: list[str] = field(default_factory=list)      # about the dry run itself

    def counts(self) -> dict[str, int]:
        out = {INSERT: 0, UPDATE: 0, DELETE: 0}
        for change in self.changes:
            out[change.action] += 1
        return out

    def tables(self) -> list[str]:
        return sorted({c.table for c in self.changes})

    def summary(self, where: str) -> str:
        n = self.counts()
        carried = f" in {self.messages} message(s)" if self.messages else ""
        return (f"dry run of {where}: {self.events} event(s){carried} "
                f"would change {n[INSERT]} row(s) inserted, {n[UPDATE]} updated, "
                f"{n[DELETE]} deleted in {len(self.tables())} table(s); "
                f"{self.applied} applied, {self.skipped} skipped, {len(self.failed)} failing; "
                f"nothing written")

    def text(self, where: str) -> list[str]:
        lines = [line for change in self.changes for line in change.lines()]
        lines += [f"would {what}" for what in self.outside]
        lines += [f"would fail: {why}" for why in self.failed]
        lines += [f"note: {note}" for note in self.notes]
        return [*lines, self.summary(where)]

    def as_dict(self, where: str) -> dict[str, Any]:
        return {"target": where, "events": self.events, "messages": self.messages,
                "applied": self.applied, "skipped": self.skipped, "failed": self.failed,
                "counts": self.counts(), "changes": [c.as_dict() for c in self.changes],
                "outside": self.outside, "notes": self.notes, "written": False}


def plain(value: Any) -> Any:
    """A value as JSON holds it exactly: money stays a decimal string."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + bytes(value).hex()
    return str(value)


def shown(value: Any, width: int = 80) -> str:
    text = "NULL" if value is None else repr(plain(value))
    return text if len(text) <= width else text[:width - 3] + "..."


# -- reading the database ----------------------------------------------------------------------

def base_tables(conn: Connection) -> dict[str, str]:
    """Table name -> storage engine, of every base table of the connection's database."""
    return {str(name): str(engine or "") for name, engine in conn.exec_driver_sql(
        "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")}


def not_transactional(tables: Mapping[str, str]) -> list[str]:
    """"name (ENGINE)" of the tables a rollback would not undo."""
    return [f"{name} ({engine or 'unknown engine'})" for name, engine in sorted(tables.items())
            if engine not in TRANSACTIONAL]


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]            # the primary key, or every column


def shapes(conn: Connection, tables: Iterable[str]) -> dict[str, TableShape]:
    wanted = set(tables)
    columns: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    for table, column in conn.exec_driver_sql(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"):
        if table in wanted:
            columns.setdefault(table, []).append(column)
    for table, column in conn.exec_driver_sql(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY' "
            "ORDER BY TABLE_NAME, SEQ_IN_INDEX"):
        if table in wanted:
            keys.setdefault(table, []).append(column)
    return {t: TableShape(t, tuple(cols), tuple(keys.get(t) or cols))
            for t, cols in columns.items()}


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def fingerprint(conn: Connection, shape: TableShape) -> tuple[int, int]:
    """(rows, sum of row checksums): equal fingerprints, equal tables (but for a collision
    of CRC32 sums, which a dry run accepts). HEX keeps columns of different character sets
    apart from one another's collations; ISNULL tells NULL from an empty string."""
    parts = ", ".join(f"ISNULL({_q(c)}), HEX({_q(c)})" for c in shape.columns)
    row = conn.exec_driver_sql(
        f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS(',', {parts}))), 0) "
        f"FROM {_q(shape.name)}").one()
    return int(row[0]), int(row[1])


def read_rows(conn: Connection, shape: TableShape) -> dict[tuple[Any, ...], dict[str, Any]]:
    cols = ", ".join(_q(c) for c in shape.columns)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in conn.exec_driver_sql(f"SELECT {cols} FROM {_q(shape.name)}"):
        values = dict(zip(shape.columns, row, strict=True))
        key = tuple(values[k] for k in shape.key)
        if key in out and shape.key == shape.columns:
            # A duplicate whole row of a table without a primary key: keep both apart.
            key = (*key, sum(1 for k in out if k[:len(shape.key)] == key))
        out[key] = values
    return out


def diff_table(shape: TableShape, before: Mapping[tuple[Any, ...], Mapping[str, Any]],
               after: Mapping[tuple[Any, ...], Mapping[str, Any]]) -> list[RowChange]:
    changes = []
    for key in sorted(before.keys() | after.keys(), key=_sortable):
        old, new = before.get(key), after.get(key)
        named = {k: (old or new or {})[k] for k in shape.key}
        if old is None:
            changes.append(RowChange(shape.name, INSERT, named, None, new))
        elif new is None:
            changes.append(RowChange(shape.name, DELETE, named, old, None))
        else:
            changed = tuple(c for c in shape.columns if old[c] != new[c])
            if changed:
                changes.append(RowChange(shape.name, UPDATE, named, old, new, changed))
    return changes


def _sortable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is not None, str(type(v).__name__), v if v is not None else 0)
                 for v in key)


def compare(before: Connection, after: Connection, tables: Sequence[str]) -> list[RowChange]:
    """The rows of ``tables`` that differ between what ``before`` and ``after`` see."""
    table_shapes = shapes(after, tables)
    changes: list[RowChange] = []
    for name in tables:
        shape = table_shapes.get(name)
        if shape is None or fingerprint(before, shape) == fingerprint(after, shape):
            continue
        changes += diff_table(shape, read_rows(before, shape), read_rows(after, shape))
    return changes
