"""The one table from driver errors to ours: it finds the real cause behind the error an
operation ended with, and keeps the statement and its values out of the message."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa

from shopbridge.db import translate
from shopbridge.errors import DatabaseFailed, TargetRejected, TargetUnavailable

CAO = "CAO database of tenant 'acme' (mysql+pymysql://sb:***@db/cao)"


def _dbapi_error(code: int, message: str, statement: str, params: tuple) -> sa.exc.DBAPIError:
    orig = pymysql.err.OperationalError(code, message)
    return sa.exc.OperationalError(statement, params, orig)


def test_the_cause_behind_a_pending_rollback_is_translated():
    lost = _dbapi_error(2013, "Lost connection to server during query",
                        "SELECT REC_ID FROM JOURNAL WHERE SHOP_ID = %s", (1,))
    try:
        try:
            raise lost
        finally:
            raise sa.exc.PendingRollbackError("Can't reconnect until invalid transaction is "
                                              "rolled back")
    except sa.exc.PendingRollbackError as err:
        mapped = translate(err, CAO)

    assert isinstance(mapped, TargetUnavailable)
    assert str(mapped) == f"{CAO}: MySQL error 2013: Lost connection to server during query"


def test_a_refused_statement_keeps_code_table_and_field_but_not_the_sql_or_its_values():
    err = _dbapi_error(1364, "Field 'module_flag' doesn't have a default value",
                       "INSERT INTO customers (customers_email_address) VALUES (%s)",
                       ("anna@example.org",))
    mapped = translate(err, "database of shop 'web' (...)")

    assert isinstance(mapped, DatabaseFailed)
    assert str(mapped) == ("database of shop 'web' (...): MySQL error 1364 in table customers, "
                           "field module_flag: Field 'module_flag' doesn't have a default value")


@pytest.mark.parametrize(("statement", "table"), [
    ("UPDATE `products` SET products_model = %s", "products"),
    ("  insert ignore into products_description (products_id) VALUES (%s)",
     "products_description"),
    ("DELETE FROM specials WHERE products_id = %s", "specials"),
    ("SELECT a, (SELECT 1) FROM shopbridge_link WHERE x = %s", "shopbridge_link"),
])
def test_the_table_is_read_from_the_statement(statement, table):
    err = _dbapi_error(1406, "Data too long for column 'x' at row 1", statement, ("v",))
    mapped = translate(err, "db")
    assert isinstance(mapped, TargetRejected)
    assert str(mapped) == (f"db: MySQL error 1406 in table {table}, field x: "
                           "Data too long for column 'x' at row 1")


def test_a_closed_connection_is_an_outage():
    err = sa.exc.InterfaceError("SELECT 1", (), pymysql.err.InterfaceError(0, ""))
    assert isinstance(translate(err, "db"), TargetUnavailable)
