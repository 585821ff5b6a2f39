"""PyMySQL with less Python per value: the connection, result and cursor of every engine
``db.create_engine`` makes (the producer's, the consumers', the commands').

PyMySQL is pure Python. Reading, it decodes each column of each row through three method
calls (``_read_row_from_packet``): an initial load of 100,000 articles reads five million
columns from CAO. ``QuickResult`` decodes a row in one loop with the same converters, a
third less CPU for the producer's article pages, the same values (tests/integration/
test_driver.py compares them column type by column type).

Writing, PyMySQL binds parameters in Python (it has no server-side prepared statements): for each
value ``Connection.escape`` tests the type three times, looks up the encoder and calls it.
During an initial load a shop consumer binds about six million values (products, texts,
links, history), and the generic path costs about 0.2 µs per value more than the work
itself. ``QuickCursor`` binds the three types that make up nearly all of them (str, int,
None) directly, with exactly the text PyMySQL's own encoders give, and hands every other
value to PyMySQL (tests/integration/test_driver.py compares both on generated values).

Values are still parameters: SQL text never carries a value that did not pass through the
driver's escaping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymysql import converters, err
from pymysql.connections import Connection, MySQLResult
from pymysql.constants import SERVER_STATUS
from pymysql.cursors import Cursor
from pymysql.protocol import MysqlPacket

_QUOTES_ONLY = SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES


def _null(_value: None) -> str:
    return "NULL"


def _quoted(value: str) -> str:
    """A string as PyMySQL escapes it where the session has NO_BACKSLASH_ESCAPES."""
    return "'" + value.replace("'", "''") + "'"


def _backslashed(value: str) -> str:
    """A string as PyMySQL escapes it in the default mode."""
    return "'" + converters.escape_string(value) + "'"


# Type -> its literal, by the session's escaping mode.
_LITERALS: dict[bool, dict[type, Callable[[Any], str]]] = {
    quotes_only: {int: int.__repr__, type(None): _null,
                  str: _quoted if quotes_only else _backslashed}
    for quotes_only in (False, True)}


class QuickCursor(Cursor):
    """``pymysql.cursors.Cursor`` whose parameter binding takes a shortcut for str, int and
    None; the SQL it sends is the same."""

    def _mogrify(self, query: str, args: Any) -> str:
        if type(args) is not tuple and type(args) is not list:
            return str(super()._mogrify(query, args))  # type: ignore[misc]
        conn = self._get_db()  # type: ignore[attr-defined]  # not in the stubs
        encoders = conn.encoders
        # Only where the connection keeps PyMySQL's own encoders for these types.
        if (encoders.get(int) is not converters.escape_int
                or encoders.get(type(None)) is not converters.escape_None):
            return str(super()._mogrify(query, args))  # type: ignore[misc]
        get = _LITERALS[bool(conn.server_status & _QUOTES_ONLY)].get
        escape = conn.escape
        # As PyMySQL: a value it cannot escape raises its own error; a query whose
        # placeholders do not match the values raises ProgrammingError.
        literals = tuple([(get(type(value)) or escape)(value) for value in args])
        try:
            return query % literals
        except TypeError as problem:
            raise err.ProgrammingError(str(problem)) from None


class QuickResult(MySQLResult):
    """``MySQLResult`` that decodes a row's columns in one loop (the protocol's length-coded
    strings, then PyMySQL's own decoding and converters per column)."""

    def _read_row_from_packet(self, packet: MysqlPacket) -> tuple[Any, ...]:
        data: bytes = packet._data  # type: ignore[attr-defined]
        pos: int = packet._position  # type: ignore[attr-defined]
        end = len(data)
        row: list[Any] = []
        append = row.append
        for encoding, converter in self.converters:  # type: ignore[attr-defined]
            if pos >= end:
                break           # no more columns in this row (as PyMySQL: PR 434)
            size = data[pos]
            pos += 1
            if size == 251 or size == 255:      # NULL (255: no length, None as in PyMySQL)
                append(None)
                continue
            if size > 251:      # a longer length: 2, 3 or 8 bytes follow
                width = 2 if size == 252 else 3 if size == 253 else 8
                size = int.from_bytes(data[pos:pos + width], "little")
                pos += width
            if pos + size > end:
                raise err.InternalError(f"a row packet ended {pos + size - end} byte(s) early")
            value: Any = data[pos:pos + size]
            pos += size
            if encoding is not None:
                value = value.decode(encoding)
            if converter is not None:
                value = converter(value)
            append(value)
        packet._position = pos  # type: ignore[attr-defined]
        return tuple(row)


class QuickConnection(Connection):
    """A PyMySQL connection whose buffered results are ``QuickResult``s (unbuffered ones,
    which nothing of ours uses, stay PyMySQL's)."""

    def _read_query_result(self, unbuffered: bool = False) -> int | None:
        if unbuffered:
            return super()._read_query_result(unbuffered)  # type: ignore[misc]
        self._result = None
        result = QuickResult(self)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows
