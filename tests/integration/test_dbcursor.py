"""shopbridge.dbcursor writes exactly the SQL text PyMySQL's own cursor writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum

import pymysql
import pytest

from shopbridge import dbcursor
from tests.conftest import MARIADB_URL

QUERY = "INSERT INTO t VALUES (" + ", ".join(["%s"] * 16) + ")"


class Level(IntEnum):
    TWO = 2


class Text(str):
    pass


VALUES = (0, -7, 2**70, None, True, False, 1.5, Decimal("10.0000"), "plain",
          "quote ' backslash \\ nul \0 newline \n ctrl-z \x1a „Gießkanne“ 😀 %s",
          b"\x00'bytes", datetime(2026, 12, 7, 1, 2, 3, 456), date(2026, 12, 7),
          Level.TWO, Text("sub'class"), "")


@pytest.fixture
def conn() -> Iterator[pymysql.connections.Connection]:
    from sqlalchemy.engine import make_url

    url = make_url(MARIADB_URL)
    connection = pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306,
                                 user=url.username or "root", password=url.password or "",
                                 charset="utf8mb4", cursorclass=dbcursor.Cursor)
    try:
        yield connection
    finally:
        connection.close()


def _both(conn: pymysql.connections.Connection, query: str, args: object) -> tuple[str, str]:
    ours = conn.cursor()
    assert isinstance(ours, dbcursor.Cursor)
    return ours.mogrify(query, args), pymysql.cursors.Cursor(conn).mogrify(query, args)


def test_the_text_is_pymysqls_for_every_type(conn: pymysql.connections.Connection) -> None:
    assert hasattr(pymysql.cursors.Cursor, "_mogrify"), "PyMySQL renamed the hook dbcursor uses"
    ours, theirs = _both(conn, QUERY, VALUES)
    assert ours == theirs
    assert _both(conn, QUERY, list(VALUES)) == (theirs, theirs)
    assert "'quote \\' backslash \\\\" in ours      # escaped, not just passed on


def test_dict_parameters_and_wrong_counts_behave_as_in_pymysql(
        conn: pymysql.connections.Connection) -> None:
    ours, theirs = _both(conn, "SELECT %(a)s, %(b)s", {"a": "x'", "b": None})
    assert ours == theirs
    for cursor in (conn.cursor(), pymysql.cursors.Cursor(conn)):
        with pytest.raises(pymysql.err.ProgrammingError):
            cursor.mogrify("SELECT %s, %s", ("only one",))


def test_it_stands_aside_under_no_backslash_escapes(
        conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    ours, theirs = _both(conn, QUERY, VALUES)
    assert ours == theirs
    assert "'quote '' backslash \\ " in ours        # the quote doubled, the backslash kept


def test_values_round_trip_through_the_server(conn: pymysql.connections.Connection) -> None:
    tricky = "quote ' backslash \\ nul \0 newline \n „Gießkanne“ 😀 %s"
    with conn.cursor() as cur:
        cur.execute("SELECT %s, %s, %s, %s", (tricky, -7, None, Decimal("1.50")))
        assert cur.fetchone() == (tricky, -7, None, Decimal("1.50"))
