"""Names of one checkout's demo, and the marker that says which databases are its own.

Several checkouts may share one MariaDB and RabbitMQ (a shared server): every name the demo
uses (databases, broker namespace) carries the checkout's own id, made once and kept in
``.demo/checkout-id``, so running it again in the same checkout replaces its own demo and
never touches another's. Each database it creates carries a marker table with that id, and
the demo drops only a database whose marker names its own checkout: a database of the same
name without it is left alone, with a message. Two runs in the same checkout at once are kept
apart by a MariaDB lock on the id; the second says who holds it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from .errors import DemoConflict
from .sample import server_url

DEMO_DIR = Path(".demo")
ID_FILE = "checkout-id"
ID_RE = re.compile(r"[0-9a-z]{1,24}")
MARKER_TABLE = "shopbridge_demo"     # in every database the demo made: whose it is
DB_EXISTS = 1007                     # MariaDB: can't create database; database exists
SHOPS = ("shop-a", "shop-b", "shop-vm")   # the demo's shops (demo.DEMO_SHOPS says what)


@dataclass(frozen=True)
class DemoNames:
    """Everything one checkout's demo creates, named after ``prefix``; the databases are
    marked with ``checkout_id``."""

    checkout_id: str
    prefix: str
    config_path: Path = DEMO_DIR / "shopbridge.toml"

    def __post_init__(self) -> None:
        if not ID_RE.fullmatch(self.checkout_id) or not re.fullmatch(r"[a-z0-9_]{1,40}",
                                                                      self.prefix):
            raise ValueError(f"demo names: checkout id {self.checkout_id!r} or prefix "
                             f"{self.prefix!r} is not a plain name")

    @classmethod
    def for_checkout(cls, folder: Path = DEMO_DIR) -> DemoNames:
        """This checkout's names: its id is made on the first run and kept in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ID_FILE
        if not path.exists():
            # Written aside and linked into place: two first runs at once agree on one id.
            draft = folder / f".{ID_FILE}.{os.getpid()}"
            draft.write_text(secrets.token_hex(4) + "\n", encoding="ascii")
            try:
                os.link(draft, path)
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        checkout_id = path.read_text(encoding="ascii").strip()
        if not ID_RE.fullmatch(checkout_id):
            raise DemoConflict(f"{path} holds {checkout_id!r}, not a checkout id: delete the "
                               "file to give this checkout's demo new names")
        return cls(checkout_id=checkout_id, prefix=f"shopbridge_demo_{checkout_id}",
                   config_path=folder / "shopbridge.toml")

    @property
    def cao_db(self) -> str:
        return f"{self.prefix}_cao"

    @property
    def shops(self) -> tuple[tuple[str, str], ...]:
        """(shop name, database) of the demo's shops, in the order it builds them."""
        return tuple((shop, f"{self.prefix}_{shop.replace('-', '_')}") for shop in SHOPS)

    @property
    def broker_db(self) -> str:
        """The embedded broker's database, made only when RabbitMQ is not reachable."""
        return f"{self.prefix}_broker"

    @property
    def databases(self) -> tuple[str, ...]:
        """The databases every run builds (the broker's is made only without RabbitMQ)."""
        return (self.cao_db, *(db for _, db in self.shops))

    @property
    def every_database(self) -> tuple[str, ...]:
        """Every database a run may make: what ``remove`` drops where it is this one's."""
        return (*self.databases, self.broker_db)

    @property
    def namespace(self) -> str:
        return self.prefix.replace("_", "-")


# -- whose database is it -----------------------------------------------------------------

def _server(db_url: str) -> sa.Engine:
    return sa.create_engine(server_url(db_url), poolclass=NullPool)


def _owner(conn: sa.Connection, db: str) -> tuple[str, str] | None:
    """None: no database ``db``; else the (checkout id, folder) its marker names, or
    ("", "") when it has no marker (not made by a demo)."""
    if not conn.exec_driver_sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE "
                                "SCHEMA_NAME = %s", (db,)).scalar():
        return None
    if not conn.exec_driver_sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                "TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                                (db, MARKER_TABLE)).scalar():
        return ("", "")
    row = conn.exec_driver_sql(f"SELECT checkout_id, folder FROM `{db}`.{MARKER_TABLE} "
                               "ORDER BY created_at LIMIT 1").first()
    return (str(row[0]), str(row[1])) if row else ("", "")


def _not_ours(db: str, owner: tuple[str, str]) -> str:
    whose = (f"the demo of another checkout ({owner[0]}, {owner[1]})" if owner[0] else
             f"something else (it has no {MARKER_TABLE} table)")
    return (f"database {db} exists and belongs to {whose}: left alone, nothing dropped. Drop "
            "it yourself if nobody needs it, or delete .demo/checkout-id to give this "
            "checkout's demo new names")


def create_database(db_url: str, db: str, names: DemoNames, *, charset: str) -> URL:
    """(Re)create ``db`` as this checkout's: dropped first only if its marker says ours."""
    engine = _server(db_url)
    try:
        with engine.begin() as conn:
            owner = _owner(conn, db)
            if owner is not None:
                if owner[0] != names.checkout_id:
                    raise DemoConflict(_not_ours(db, owner))
                conn.exec_driver_sql(f"DROP DATABASE `{db}`")
            try:
                conn.exec_driver_sql(f"CREATE DATABASE `{db}` CHARACTER SET {charset}")
            except sa.exc.DBAPIError as err:
                if getattr(err.orig, "args", (None,))[0] != DB_EXISTS:
                    raise
                # Made by someone else between the look and the CREATE: theirs.
                raise DemoConflict(_not_ours(db, ("", ""))) from None
            conn.exec_driver_sql(
                f"CREATE TABLE `{db}`.{MARKER_TABLE} (checkout_id VARCHAR(24) NOT NULL "
                "PRIMARY KEY, folder VARCHAR(1024) NOT NULL, created_at DATETIME NOT NULL) "
                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
            conn.exec_driver_sql(f"INSERT INTO `{db}`.{MARKER_TABLE} VALUES (%s, %s, NOW())",
                                 (names.checkout_id, str(names.config_path.parent.resolve())))
    finally:
        engine.dispose()
    return make_url(db_url).set(database=db)


@contextmanager
def checkout_lock(db_url: str, names: DemoNames) -> Iterator[None]:
    """Held for a whole run: a second run of the same checkout stops instead of dropping
    the databases the first one is filling."""
    lock = f"shopbridge_demo:{names.checkout_id}"
    engine = _server(db_url)
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (lock,)).scalar() != 1:
                holder = conn.exec_driver_sql("SELECT IS_USED_LOCK(%s)", (lock,)).scalar()
                raise DemoConflict(f"another 'shopbridge demo' of this checkout "
                                   f"({names.checkout_id}) is running (MariaDB connection "
                                   f"{holder}): wait for it to finish")
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (lock,))
    finally:
        engine.dispose()


def drop_own_databases(db_url: str, names: DemoNames) -> list[str]:
    """Drop the databases of ``names`` whose marker names this checkout.

    Returns:
        Those that exist but are not this checkout's: left alone.
    """
    left: list[str] = []
    engine = _server(db_url)
    try:
        with engine.begin() as conn:
            for db in names.every_database:
                owner = _owner(conn, db)
                if owner is not None and owner[0] == names.checkout_id:
                    conn.exec_driver_sql(f"DROP DATABASE `{db}`")
                elif owner is not None:
                    left.append(db)
    finally:
        engine.dispose()
    return left
