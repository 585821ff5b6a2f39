"""Database edge: engines, the one table that turns driver errors into shopbridge errors,
and case-insensitive table-name resolution.

Nothing above this module catches PyMySQL or SQLAlchemy exception types.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

import pymysql
import sqlalchemy as sa
from pymysql.constants import SERVER_STATUS
from sqlalchemy.engine import Connection, Engine, Result

from .config import DatabaseConfig
from .driver import QuickConnection, QuickCursor
from .errors import (
    AccessDenied,
    ConfigError,
    DatabaseFailed,
    ShopbridgeError,
    TargetRejected,
    TargetUnavailable,
    TransientDatabaseError,
)

# MySQL/MariaDB error numbers and what they mean for a retry. Model: kombu's
# recoverable_connection_errors; the numbers are from the server's error reference.
UNAVAILABLE = {
    1049,  # unknown database
    1040,  # too many connections
    1053,  # server shutdown in progress
    1927,  # connection was killed
    2002,  # can't connect through socket
    2003,  # can't connect to server
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,  # lost connection (system error)
}
# A missing grant or login fails every statement alike until the DBA acts: not the event's
# fault, so it pauses the consumer as an outage does (and one-shot commands exit 4).
ACCESS_DENIED = {
    1044,  # access denied to the database
    1045,  # access denied for the user (password)
    1130,  # host not allowed to connect
    1142,  # command denied for a table (e.g. UPDATE on products)
    1143,  # command denied for a column
    1227,  # a global privilege is needed (e.g. SUPER)
    1370,  # command denied for a routine
    1698,  # access denied for the user (no password / unix_socket)
}
TRANSIENT = {
    1205,  # lock wait timeout
    1213,  # deadlock
    1614,  # transaction branch was rolled back: deadlock
}
REJECTED = {
    1048,  # column cannot be null
    1264,  # out of range value
    1265,  # data truncated
    1292,  # incorrect date/time value
    1366,  # incorrect string value (encoding)
    1406,  # data too long for column
    1062,  # duplicate key (e.g. an e-mail another account already has)
}

log = logging.getLogger(__name__)


# The table a statement writes or reads first, and the column or key a server message names:
# what an operator needs from a refused statement, without the statement and its values.
_TABLE = re.compile(r"^\s*(?:INSERT\s+(?:IGNORE\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+IGNORE)?"
                    r"|DELETE\s+FROM|SELECT\b.*?\bFROM)\s+`?([A-Za-z0-9_$]+)`?",
                    re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"\b(?:column|key|field)\s+'([^']+)'", re.IGNORECASE)


def translate(err: BaseException, what: str) -> ShopbridgeError | None:
    """Map a driver error to the shopbridge error it means, or None if it is not one.

    The error an operation ended with may hide the one that caused it: after a lost
    connection, SQLAlchemy's next call on the same connection raises PendingRollbackError
    (e.g. an ``UNLOCK`` in a ``finally``), with the server's error as its context. So the
    chain of causes is searched for the driver error.

    The message keeps the server's error code and text, the table and the column or key;
    never the statement or its parameters (they hold customer data, and the message ends up
    in logs and dead-letter headers).

    Args:
        err: an exception from SQLAlchemy or PyMySQL.
        what: names the database for logs: "CAO database of tenant 'acme' (<url without
            password>)", "database of shop 'web' (...)".
    """
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        mapped = _translate_one(cause, what)
        if mapped is not None:
            return mapped
        cause = cause.__cause__ or cause.__context__
    return None


def _translate_one(err: BaseException, what: str) -> ShopbridgeError | None:
    orig = getattr(err, "orig", None) or err
    if isinstance(err, sa.exc.DisconnectionError):
        return TargetUnavailable(f"{what}: connection lost")
    if isinstance(orig, pymysql.err.MySQLError) and orig.args and isinstance(orig.args[0], int):
        code = orig.args[0]
        message = str(orig.args[1]) if len(orig.args) > 1 else ""
        if code in ACCESS_DENIED:
            return AccessDenied(f"{what}: MySQL error {code}: {message}",
                                grant=_grant(message))
        if code in UNAVAILABLE:
            return TargetUnavailable(f"{what}: MySQL error {code}: {message}")
        if code in TRANSIENT:
            return TransientDatabaseError(f"{what}: MySQL error {code}: {message}")
        where = _where(err, message)
        if code in REJECTED:
            return TargetRejected(f"{what}: MySQL error {code}{where}: {message}")
        if isinstance(orig, pymysql.err.InterfaceError) or getattr(
                err, "connection_invalidated", False):
            # PyMySQL's (0, '') on a closed socket; any error that cost the connection.
            return TargetUnavailable(f"{what}: connection lost (MySQL error {code}"
                                     f"{': ' + message if message else ''})")
        return DatabaseFailed(f"{what}: MySQL error {code}{where}: {message}")
    if isinstance(orig, (ConnectionError, TimeoutError, BrokenPipeError)):
        return TargetUnavailable(f"{what}: {type(orig).__name__}")
    if isinstance(err, sa.exc.StatementError) and err.orig is not None:
        # A statement that never reached the server (a value the driver cannot send).
        return DatabaseFailed(f"{what}: {type(orig).__name__}{_where(err, '')}: {orig}")
    return None


def _where(err: BaseException, message: str) -> str:
    """" in table T, field F" from the failed statement and the server's message."""
    parts = []
    table = _TABLE.match(getattr(err, "statement", None) or "")
    if table:
        parts.append(f"table {table[1]}")
    field = _FIELD.search(message)
    if field:
        parts.append(f"field {field[1]}")
    return f" in {', '.join(parts)}" if parts else ""


_DENIED = re.compile(r"^(?P<priv>[A-Za-z ]+?) command denied to user .+? for "
                     r"(?:column (?P<column>\S+) in )?(?P<kind>table|routine) (?P<obj>\S+)$")
_NEEDS = re.compile(r"you need \(at least one of\) the (?P<priv>.+?) privilege")
_DATABASE = re.compile(r"^Access denied for user .+? to database (?P<db>\S+)$")


def _grant(message: str) -> str | None:
    """The grant a denial names, e.g. "UPDATE on `shop`.`products`" (None: not one grant)."""
    if m := _DENIED.match(message):
        on = f"column {m['column']} of {m['obj']}" if m["column"] else m["obj"]
        return f"{m['priv'].upper()} on {on}"
    if m := _NEEDS.search(message):
        return m["priv"]
    if m := _DATABASE.match(message):
        return f"access to database {m['db']}"
    return None


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise known driver errors as shopbridge errors, ``from`` the original."""
    try:
        yield
    except (sa.exc.SQLAlchemyError, pymysql.err.MySQLError, ConnectionError,
            TimeoutError) as err:
        mapped = translate(err, what)
        if mapped is None:
            raise
        raise mapped from err


def create_engine(db: DatabaseConfig, **kwargs: object) -> Engine:
    """An engine that talks utf8mb4, so latin1 ERP columns arrive as proper str.

    pool_pre_ping lets a consumer heal after the database restarted; the short connect
    timeout lets the consumer notice an outage quickly instead of hanging. Connections are
    ``driver.QuickConnection``s with ``QuickCursor``s: PyMySQL with less Python per value.
    """
    options: dict[str, object] = {
        "pool_pre_ping": True,
        "pool_recycle": 3600,
        "connect_args": {"charset": "utf8mb4", "connect_timeout": 5,
                         "read_timeout": 60, "write_timeout": 60,
                         "cursorclass": QuickCursor},
    }
    # A caller's connect_args add to ours (the driver classes and timeouts stay).
    connect_args: dict[str, Any] = {**cast(dict[str, Any], options["connect_args"]),
                                    **cast(dict[str, Any], kwargs.pop("connect_args", {}))}
    options.update(kwargs, connect_args=connect_args)
    engine = sa.create_engine(db.sqlalchemy_url(), **options)

    @sa.event.listens_for(engine, "do_connect")
    def _connect(_dialect: object, _record: object, cargs: Any, cparams: Any) -> Any:
        return QuickConnection(*cargs, **cparams)
    return engine


def quote_escaping(engine: Engine) -> Engine:
    """Make each new connection of ``engine`` escape string values by doubling quotes only.

    The session gets NO_BACKSLASH_ESCAPES (the rest of its sql_mode stays); PyMySQL reads the
    mode from the server's status and escapes accordingly: the driver still escapes every
    value, with one ``str.replace`` where the default mode costs a ``str.translate`` per
    character (2.5 µs for a 150-character German description, a third of a shop consumer's
    escaping during an initial load). A backslash in SQL text is then an ordinary character:
    only for connections whose statements never rely on it as an escape (a LIKE pattern's
    default escape character is one).
    """
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        quotes_only(dbapi_conn)
    return engine


def quotes_only(dbapi_conn: Any) -> bool:
    """Add NO_BACKSLASH_ESCAPES to the session's sql_mode where the server then says so in
    its status (which PyMySQL escapes by); returns whether it did.

    A proxy in between (ProxySQL has had this bug) may not pass the status flag on: the
    driver would go on escaping with backslashes that the server now keeps, doubling every
    backslash in the shop's texts. So without the flag the session's old mode comes back:
    backslash escaping on both sides, slower, never wrong.
    """
    with dbapi_conn.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        before = cur.fetchone()[0]
        cur.execute("SET SESSION sql_mode = "
                    "CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_BACKSLASH_ESCAPES')")
        if dbapi_conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
            return True
        cur.execute("SET SESSION sql_mode = %s", (before,))
    log.warning("the shop database's server did not report NO_BACKSLASH_ESCAPES (a proxy?): "
                "its connections keep backslash escaping")
    return False


def null_default_columns(conn: Connection, table: str, columns: Iterable[str]) -> frozenset[str]:
    """Those of ``columns`` of ``table`` (in the connection's database) that are nullable and
    default to NULL: the ones ``without_null_columns`` may leave out of an INSERT. A shop's
    own changes to its schema (a ``DEFAULT ''``) are read here, not assumed."""
    wanted = list(columns)
    if not wanted:
        return frozenset()
    rows = conn.exec_driver_sql(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        f"AND TABLE_NAME = %s AND COLUMN_NAME IN ({marks(wanted)}) AND IS_NULLABLE = 'YES' "
        # MariaDB shows a NULL default as the text NULL, MySQL as SQL NULL
        "AND (COLUMN_DEFAULT IS NULL OR COLUMN_DEFAULT = 'NULL')", (table, *wanted))
    return frozenset(str(r[0]) for r in rows)


def sql_datetime(at: datetime) -> str:
    """``at`` as a DATETIME column reads it: for a value that repeats in every row of a bulk
    statement, formatted once per statement (PyMySQL escapes a str in a sixth of the time it
    formats a datetime)."""
    return f"{at:%Y-%m-%d %H:%M:%S.%f}" if at.microsecond else f"{at:%Y-%m-%d %H:%M:%S}"


def utc_now() -> datetime:
    """Now in UTC without tzinfo: what shopbridge writes into its own DATETIME columns."""
    return datetime.now(UTC).replace(tzinfo=None)


def has_table(conn: Connection, name: str) -> bool:
    """Whether the current database has a table of exactly this name."""
    return bool(conn.exec_driver_sql(
        "SELECT COUNT(*) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (name,)).scalar())


def rows_by_name(result: Result[Any]) -> list[Mapping[str, Any]]:
    """The rows of ``result`` as mappings by column name.

    SQLAlchemy types a row mapping's keys as ``str | Column``, because it also accepts column
    objects; rows of a textual query are read by name only.
    """
    return cast("list[Mapping[str, Any]]", result.mappings().all())


def marks(values: Sized) -> str:
    """``%s, %s, ...``, one placeholder per value, for ``IN (...)`` and ``VALUES (...)``:
    the values stay parameters."""
    return ", ".join(["%s"] * len(values))


def delete_in(conn: Connection, table: str, column: str, ids: Sequence[object]) -> None:
    """Delete the rows of ``table`` whose ``column`` is one of ``ids`` (none: no statement).
    ``table`` and ``column`` are identifiers the caller owns, never input."""
    if ids:
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE {column} IN ({marks(ids)})",
                             tuple(ids))


def consecutive_autoinc_ids(conn: Connection) -> bool:
    """Whether one multi-row INSERT gets consecutive auto-increment ids, the first being its
    LAST_INSERT_ID(): true under innodb_autoinc_lock_mode 0 (traditional) and 1 (consecutive,
    the default); under 2 (interleaved) a concurrent bulk insert may take ids in between."""
    mode = int(conn.exec_driver_sql("SELECT @@innodb_autoinc_lock_mode").scalar() or 0)
    return mode in (0, 1)


def insert_returning_ids(conn: Connection, table: str, columns: Sequence[str],
                         rows: Sequence[Sequence[object]], *, consecutive: bool,
                         chunk: int = 1000) -> list[int]:
    """Insert ``rows`` into ``table`` and return each row's auto-increment id, in order.

    With ``consecutive`` (see ``consecutive_autoinc_ids``) one multi-row INSERT per ``chunk``
    rows, whose ids run from its LAST_INSERT_ID() on; otherwise one INSERT per row, the only
    way to learn each id for sure. ``table`` and ``columns`` are the caller's identifiers.
    """
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    one = f"({marks(columns)})"
    ids: list[int] = []
    step = chunk if consecutive else 1
    for start in range(0, len(rows), step):
        part = rows[start:start + step]
        first = conn.exec_driver_sql(head + ", ".join([one] * len(part)),
                                     tuple(x for row in part for x in row)).lastrowid
        ids.extend(range(int(first), int(first) + len(part)))
    return ids


def without_null_columns(columns: Sequence[str], rows: Sequence[Sequence[object]],
                         default_null: Iterable[str]) -> tuple[list[str], list[Sequence[object]]]:
    """``columns`` and ``rows`` without those of the ``default_null`` columns that are None in
    every row.

    An INSERT gives a column it leaves out its default, and ``VALUES(col)`` in an ON DUPLICATE
    KEY UPDATE reads that default too: for a column whose default is NULL the rows are the
    same, and the driver escapes fewer values (an initial load's optional texts are mostly
    empty). ``default_null`` names only such columns (the caller knows its tables).
    """
    optional = set(default_null)
    drop = {i for i, name in enumerate(columns) if name in optional
            and all(row[i] is None for row in rows)}
    if not drop:
        return list(columns), list(rows)
    keep = [i for i in range(len(columns)) if i not in drop]
    pick = itemgetter(*keep)
    return [columns[i] for i in keep], [pick(row) if len(keep) > 1 else (pick(row),)
                                        for row in rows]


def update_by_key(conn: Connection, table: str, key: str, column: str,
                  values: Sequence[tuple[object, object]], *, wrap: str = "{}",
                  chunk: int = 1000) -> None:
    """Set ``column`` per row from (key, value) pairs: one ``UPDATE ... CASE key WHEN ...``
    per ``chunk`` pairs instead of a round trip per row (PyMySQL's executemany sends UPDATEs
    one by one). ``wrap`` puts the CASE into an expression, e.g. ``"({}) + product_ordered"``.
    ``table``, ``key``, ``column`` and ``wrap`` are the caller's identifiers, never input."""
    for start in range(0, len(values), chunk):
        part = values[start:start + chunk]
        cases = " ".join(["WHEN %s THEN %s"] * len(part))
        params = [x for pair in part for x in pair] + [k for k, _ in part]
        value = wrap.format(f"CASE {key} {cases} END")
        conn.exec_driver_sql(f"UPDATE {table} SET {column} = {value} "
                             f"WHERE {key} IN ({marks(part)})", tuple(params))


def quote_ident(name: str) -> str:
    """Backtick-quote an identifier that came from the server's own catalogue."""
    if not re.fullmatch(r"[A-Za-z0-9_$]+", name):
        raise ConfigError(f"refusing unexpected identifier {name!r}")
    return f"`{name}`"


class TableNames:
    """Resolves logical table names to the names the server really has, ignoring case.

    CAO-Faktura's code says ARTIKEL, a dump from Windows says artikel (NOTES 2); on Linux with
    lower_case_table_names=0 only the exact spelling works, so we ask the server.
    """

    def __init__(self, actual: Iterable[str]) -> None:
        self._by_lower: dict[str, list[str]] = {}
        for name in actual:
            self._by_lower.setdefault(name.lower(), []).append(name)

    @classmethod
    def read(cls, conn: Connection) -> TableNames:
        rows = conn.exec_driver_sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return cls(r[0] for r in rows)

    def find(self, *candidates: str) -> str | None:
        for candidate in candidates:
            names = self._by_lower.get(candidate.lower())
            if names:
                exact = [n for n in names if n == candidate]
                return exact[0] if exact else sorted(names)[0]
        return None

    def require(self, *candidates: str) -> str:
        found = self.find(*candidates)
        if found is None:
            raise ConfigError(f"table {' or '.join(candidates)} not found")
        return found

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._by_lower


def columns_of(conn: Connection, table: str) -> dict[str, str]:
    """Column name (upper case) -> data type of a table in the current database."""
    rows = conn.exec_driver_sql(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
    return {r[0].upper(): r[1] for r in rows}
