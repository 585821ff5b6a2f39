"""``driver``: ``QuickCursor`` binds parameters exactly as PyMySQL's own cursor does, in both
escaping modes, and what it sends comes back from the server unchanged; ``QuickConnection``
reads every column type as PyMySQL's own connection does."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymysql.connections import MySQLResult
from pymysql.cursors import Cursor
from pymysql.protocol import MysqlPacket
from sqlalchemy.engine import make_url

from shopbridge.config import DatabaseConfig
from shopbridge.db import create_engine, quotes_only
from shopbridge.driver import QuickConnection, QuickCursor, QuickResult
from tests.conftest import MARIADB_URL, Database


class _Level(enum.IntEnum):
    ONE = 1


class _Text(str):
    pass


# Every type a statement of ours binds, texts with what escaping is about, and subclasses of
# the types the cursor takes a shortcut for (PyMySQL's encoders must decide those).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | \
    st.sampled_from(["", "'", "''", "\\", "\\'", "O'Brien \\n", "a\x00b", "\x1a", '"', "%s",
                     "%(x)s", "Größe ½ €"])
VALUES = st.one_of(
    TEXT, st.integers(min_value=-(2**63), max_value=2**64), st.none(), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.datetimes(min_value=datetime.datetime(1000, 1, 1)), st.dates(), st.binary(max_size=8),
    st.sampled_from([_Level.ONE, _Text("O'Brien \\"), True, False]))


def _server(**more: Any) -> dict[str, Any]:
    """Connection arguments for the test server (utf8mb4, autocommit), plus ``more``."""
    url = make_url(MARIADB_URL)
    return {"host": url.host or "127.0.0.1", "port": url.port or 3306,
            "user": url.username or "root", "password": url.password or "",
            "charset": "utf8mb4", "autocommit": True, **more}


@pytest.fixture(params=[False, True], ids=["backslash", "quotes-only"])
def conn(request: pytest.FixtureRequest) -> Iterator[pymysql.Connection[Any]]:
    connection = pymysql.connect(**_server())
    if request.param:
        assert quotes_only(connection)
    try:
        yield connection
    finally:
        connection.close()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.lists(VALUES, min_size=1, max_size=6))
def test_the_sql_is_the_same_as_pymysqls(conn: pymysql.Connection[Any], row: list[Any]):
    template = "(" + ", ".join(["%s"] * len(row)) + ")"
    assert QuickCursor(conn)._mogrify(template, tuple(row)) == \
        Cursor(conn)._mogrify(template, tuple(row))   # type: ignore[attr-defined]
    assert QuickCursor(conn)._mogrify(template, list(row)) == \
        Cursor(conn)._mogrify(template, list(row))    # type: ignore[attr-defined]


def test_the_mode_is_read_at_each_statement(conn: pymysql.Connection[Any]):
    cursor, before = QuickCursor(conn), conn.server_status
    first = cursor._mogrify("%s", ("a'\\b",))
    with conn.cursor() as other:
        other.execute("SET SESSION sql_mode = IF(@@SESSION.sql_mode LIKE '%NO_BACKSLASH%', "
                      "REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', ''), "
                      "CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_BACKSLASH_ESCAPES'))")
    assert conn.server_status != before
    second = cursor._mogrify("%s", ("a'\\b",))
    assert second != first
    assert second == Cursor(conn)._mogrify("%s", ("a'\\b",))   # type: ignore[attr-defined]


def test_a_connections_own_encoders_are_kept(conn: pymysql.Connection[Any]):
    conn.encoders = {**conn.encoders, int: lambda value, mapping=None: f"'{value}'"}
    assert QuickCursor(conn)._mogrify("%s, %s", (7, None)) == "'7', NULL"


def test_other_argument_shapes_go_to_pymysql(conn: pymysql.Connection[Any]):
    assert QuickCursor(conn)._mogrify("%(a)s + %(b)s", {"a": 1, "b": "x"}) == "1 + 'x'"
    with pytest.raises(pymysql.err.ProgrammingError):
        QuickCursor(conn)._mogrify("%s %s", (1,))
    anything = object()     # no encoder of its own: PyMySQL's fallback decides
    assert QuickCursor(conn)._mogrify("%s", (anything,)) == \
        Cursor(conn)._mogrify("%s", (anything,))   # type: ignore[attr-defined]


def test_texts_arrive_as_sent(make_db: Callable[..., Database], conn: pymysql.Connection[Any]):
    db = make_db("sbdrv")
    texts = ["O'Brien", "back\\slash \\n \\'", "a\x00b\x1a", "%s %(x)s", "Größe ½ €", "",
             "'; DROP TABLE t; --"]
    with conn.cursor(QuickCursor) as cur:
        cur.execute(f"CREATE TABLE `{db.name}`.t (i INT PRIMARY KEY, s TEXT, n BIGINT, "
                    f"d DECIMAL(12,4)) DEFAULT CHARSET=utf8mb4")
        cur.executemany(f"INSERT INTO `{db.name}`.t (i, s, n, d) VALUES (%s, %s, %s, %s)",
                        [(i, s, None if i % 2 else -i, Decimal("1.5")) for i, s in
                         enumerate(texts)])
        cur.execute(f"SELECT s, n FROM `{db.name}`.t WHERE s = %s", ("back\\slash \\n \\'",))
        assert cur.fetchall() == (("back\\slash \\n \\'", None),)
        cur.execute(f"SELECT i, s FROM `{db.name}`.t ORDER BY i")
        assert [row[1] for row in cur.fetchall()] == texts


# Column types CAO and the shops use, with values that take the length encodings of 1, 2 and 3
# bytes (up to 250, 65,535 and 16,777,215 bytes; 8 bytes would exceed max_allowed_packet).
COLUMNS = {"i": "INT", "b": "BIGINT UNSIGNED", "t": "TINYINT", "d": "DECIMAL(16,4)",
           "f": "DOUBLE", "dt": "DATETIME(6)", "da": "DATE", "tm": "TIME", "ts": "TIMESTAMP NULL",
           "v": "VARCHAR(300)", "l1": "LONGTEXT CHARACTER SET latin1", "tx": "LONGTEXT",
           "bl": "LONGBLOB", "bi": "VARBINARY(16)", "e": "ENUM('Y','N')", "j": "JSON",
           "y": "YEAR", "bit": "BIT(8)"}
ROWS = [
    (1, 2**64 - 1, -1, "12345678.1234", 1.5, "2026-12-07 10:11:12.123456", "2026-12-07",
     "-838:59:59", "2026-12-07 10:00:00", "ä" * 300, "Größe" * 20, "x" * 251, b"\x00\xff" * 40000,
     b"\x00" * 16, "Y", '{"a": [1, "b"]}', 2026, b"\x81"),
    (2, 0, 0, "-0.0001", -1e300, "1000-01-01 00:00:00", "9999-12-31", "00:00:00", None,
     "", "", "y" * 70000, b"", b"", "N", "null", 1901, b"\x00"),
    (3, *([None] * 17)),
    (4, 1, 1, "0", 0.0, None, None, None, None, "'\\", "€", "z" * 1_000_000, None, None, None,
     None, None, None),
]


def test_rows_read_as_pymysql_reads_them(make_db: Callable[..., Database]):
    db = make_db("sbdrvrd")
    args = _server(database=db.name)
    plain, quick = pymysql.connect(**args), QuickConnection(**args)
    try:
        with plain.cursor() as cur:
            cur.execute("CREATE TABLE t (" + ", ".join(f"{c} {kind}" for c, kind in
                                                        COLUMNS.items()) + ")")
            cur.executemany(f"INSERT INTO t VALUES ({', '.join(['%s'] * len(COLUMNS))})", ROWS)
        query = f"SELECT {', '.join(COLUMNS)} FROM t ORDER BY i"
        with plain.cursor() as a, quick.cursor() as b:
            a.execute(query)
            b.execute(query)
            expected, got = a.fetchall(), b.fetchall()
        assert len(got) == len(ROWS)
        assert [[(type(v), v) for v in row] for row in got] == \
            [[(type(v), v) for v in row] for row in expected]
        assert got[3][11] == "z" * 1_000_000
        # Statements without a result set report what they changed; a failed statement
        # leaves no result behind and the connection usable.
        with quick.cursor() as cur:
            assert cur.execute("UPDATE t SET t = 5 WHERE i <= 2") == 2
            with pytest.raises(pymysql.err.MySQLError):
                cur.execute("SELECT no_such_column FROM t")
            assert quick._result is None   # type: ignore[attr-defined]
            cur.execute("SELECT COUNT(*), SUM(t) FROM t")
            assert cur.fetchone() == (4, Decimal("11"))
    finally:
        plain.close()
        quick.close()


def test_the_engines_use_it():
    engine = create_engine(DatabaseConfig(MARIADB_URL))
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert isinstance(raw, QuickConnection) and raw.cursorclass is QuickCursor
    finally:
        engine.dispose()


def _rows_of(data: bytes, columns: int) -> tuple[Any, Any]:
    """The row both decoders make of one packet (``columns`` text columns, no converter)."""
    results = []
    for cls in (MySQLResult, QuickResult):
        result = cls.__new__(cls)
        result.converters = [("utf8", None)] * columns   # type: ignore[attr-defined]
        result.unbuffered_active = False
        try:
            results.append(result._read_row_from_packet(MysqlPacket(data, "utf8")))
        except Exception as problem:
            results.append(type(problem))
    return results[0], results[1]


def test_packets_decode_as_pymysql_decodes_them():
    long = "ä" * 200
    good = (b"\x03abc\xfb\x00" + b"\xfc" + len(long.encode()).to_bytes(2, "little")
            + long.encode() + b"\xfd" + (70000).to_bytes(3, "little") + b"z" * 70000)
    assert _rows_of(good, 5) == (("abc", None, "", long, "z" * 70000),) * 2
    assert _rows_of(b"\x01a\xff", 3)[1] == ("a", None)       # 255: None, as PyMySQL
    assert _rows_of(b"\x01a", 3) == (("a",), ("a",))          # fewer columns: a shorter row
    plain, quick = _rows_of(b"\x05ab", 1)                     # cut short: an error, never "ab"
    assert plain in (AssertionError, pymysql.err.InternalError)
    assert quick is pymysql.err.InternalError
