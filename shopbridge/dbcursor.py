"""PyMySQL's cursor with a shorter way to escape the parameters nearly every statement has.

PyMySQL binds ``%s`` parameters on the client: each value goes through ``Connection.escape``
(isinstance tests, then ``escape_item``'s encoder lookup, then the encoder), several Python
calls per value. A bulk write of 500 products sends ~33,000 values, so that is ~1.5 us per
value and the consumer's largest CPU cost after the database waits (bench/PROFILE_VM.txt).
This cursor turns the three commonest exact types into the very text PyMySQL makes:
``str`` -> ``'...'`` through PyMySQL's own ``converters.escape_string``, ``int`` -> ``str()``,
``None`` -> ``NULL``, 25-40 % less time per value, and leaves everything else (Decimal, datetime,
bool, bytes, str subclasses, dict parameters) to PyMySQL. It stands aside completely where
the connection differs from PyMySQL's defaults: NO_BACKSLASH_ESCAPES set on the server
(``'`` is then doubled instead) or other encoders than the stock int/None ones. The SQL
stays parameterised: the values are escaped by the driver's rules, only with fewer calls.

``tests/integration/test_dbcursor.py`` checks that the text equals PyMySQL's for every type.
The hook is PyMySQL's ``Cursor._mogrify`` (as in PyMySQL 1.2): where a PyMySQL version lacks
it, nothing calls this override and PyMySQL escapes as always (the test then says so).
"""

from __future__ import annotations

from typing import Any

import pymysql.cursors
from pymysql import converters
from pymysql.constants import SERVER_STATUS

_NO_BACKSLASH = SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
_escape_string = converters.escape_string
_STOCK_INT = converters.escape_int
_STOCK_NONE = converters.escape_None


class Cursor(pymysql.cursors.Cursor):
    def _mogrify(self, query: Any, args: Any) -> Any:
        conn: Any = self.connection         # None once closed: PyMySQL's own error below
        if conn is not None and (type(args) is tuple or type(args) is list):
            encoders = conn.encoders
            if (not conn.server_status & _NO_BACKSLASH
                    and encoders.get(int) is _STOCK_INT
                    and encoders.get(type(None)) is _STOCK_NONE):
                escape = conn.escape
                escaped = tuple([
                    "'" + _escape_string(value) + "'" if type(value) is str
                    else str(value) if type(value) is int
                    else "NULL" if value is None
                    else escape(value)
                    for value in args])
                try:
                    return query % escaped
                except TypeError as err:    # as PyMySQL: wrong number of parameters
                    raise pymysql.err.ProgrammingError(str(err)) from None
        return super()._mogrify(query, args)  # type: ignore[misc]
