"""CAO-Faktura number ranges (REGISTRY MAIN\\NUMBERS), allocated atomically.

CAO itself reads the next number and writes it back in two statements without a lock (NOTES
3). We take it in one UPDATE that remembers the old value with LAST_INSERT_ID(expr), which
MyISAM executes under its table lock: two shopbridge consumers can never draw the same number,
and the window left to CAO's own read-then-write is a single statement wide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy.engine import Connection

from shopbridge.errors import MappingError

NUMBERS_KEY = "MAIN\\NUMBERS"
KUNNUM_RANGE = 99     # customer numbers (ADRESSEN.KUNNUM1)
DEB_NUM_RANGE = 31    # debtor numbers (ADRESSEN.DEB_NUM)


def number_range(quelle: int) -> int:
    """CAO: all *_EDI drafts (QUELLE 11..19) share range 10 (IncNummer)."""
    return 10 if 10 < quelle < 20 else quelle


def format_number(fmt: str | None, number: int) -> str:
    """Apply CAO's format (e.g. '000000', 'RE-00000'): the last run of zeros is the number."""
    if not fmt:
        return str(number)
    runs = list(re.finditer(r"0+", fmt))
    if not runs:
        return f"{fmt}{number}"
    last = runs[-1]
    width = last.end() - last.start()
    return f"{fmt[:last.start()]}{number:0{width}d}{fmt[last.end():]}"


class NumberRanges:
    def __init__(self, t: Mapping[str, str]) -> None:
        self.t = t

    def _take(self, conn: Connection, key: int, what: str, count: int = 1
              ) -> tuple[int, str | None]:
        """Reserve ``count`` consecutive numbers; returns the first and the range's format.

        Two round trips whatever ``count``: the reserving UPDATE, and one SELECT that reads
        both the remembered old value and the format."""
        result = conn.exec_driver_sql(
            f"UPDATE {self.t['REGISTRY']} SET VAL_INT2 = LAST_INSERT_ID(VAL_INT2) + %s "
            f"WHERE MAINKEY = %s AND VAL_INT = %s", (count, NUMBERS_KEY, key))
        if result.rowcount != 1:
            raise MappingError(f"CAO has no number range {key} for the {what} (REGISTRY "
                               f"MAINKEY 'MAIN\\NUMBERS' with VAL_INT {key})")
        row = conn.exec_driver_sql(
            f"SELECT LAST_INSERT_ID(), VAL_CHAR FROM {self.t['REGISTRY']} "
            f"WHERE MAINKEY = %s AND VAL_INT = %s", (NUMBERS_KEY, key)).one()
        return int(row[0] or 0), row[1]

    def next_formatted(self, conn: Connection, key: int, what: str) -> str:
        number, fmt = self._take(conn, key, what)
        return format_number(fmt, number)

    def next_int(self, conn: Connection, key: int, what: str) -> int:
        return self._take(conn, key, what)[0]

    def many_formatted(self, conn: Connection, key: int, count: int, what: str) -> list[str]:
        """``count`` consecutive numbers of one range, reserved in one statement (a batch of
        documents): no other drawer can take one in between."""
        if count <= 0:
            return []
        first, fmt = self._take(conn, key, what, count)
        return [format_number(fmt, first + i) for i in range(count)]

    def many_ints(self, conn: Connection, key: int, count: int, what: str) -> list[int]:
        """``count`` consecutive plain numbers of one range, reserved in one statement."""
        if count <= 0:
            return []
        first, _ = self._take(conn, key, what, count)
        return list(range(first, first + count))
