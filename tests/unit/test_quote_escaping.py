"""``db.quotes_only``: quote-only escaping only where the server reports the mode the driver
escapes by (a proxy that drops the status flag must not get it)."""

from __future__ import annotations

from typing import Any

from pymysql.constants import SERVER_STATUS

from shopbridge.db import quotes_only


class _Cursor:
    def __init__(self, conn: _Conn) -> None:
        self.conn = conn

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.statements.append((sql, params))
        if sql.startswith("SET SESSION sql_mode = CONCAT_WS") and self.conn.reports_mode:
            self.conn.server_status |= SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES

    def fetchone(self) -> tuple[str]:
        return ("STRICT_TRANS_TABLES",)


class _Conn:
    def __init__(self, *, reports_mode: bool) -> None:
        self.reports_mode = reports_mode
        self.server_status = SERVER_STATUS.SERVER_STATUS_AUTOCOMMIT
        self.statements: list[tuple[str, Any]] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self)


def test_the_mode_stays_where_the_server_reports_it():
    conn = _Conn(reports_mode=True)
    assert quotes_only(conn) is True
    assert len(conn.statements) == 2


def test_the_old_mode_comes_back_where_the_status_flag_does_not_arrive():
    conn = _Conn(reports_mode=False)
    assert quotes_only(conn) is False
    assert conn.statements[-1] == ("SET SESSION sql_mode = %s", ("STRICT_TRANS_TABLES",))
