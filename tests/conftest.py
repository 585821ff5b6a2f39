"""Fixtures against the real MariaDB and RabbitMQ of this machine (DESIGN 7).

Every test gets uniquely named databases and a unique broker namespace (exchange and queue
prefix) and drops them afterwards. Shop and ERP databases are built from the upstream install
SQL in ../shared/reference; where that folder is absent (a user's clone) those tests skip.
A MariaDB or RabbitMQ that is down fails the run: it is not a reason to skip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kombu import Connection
from sqlalchemy.engine import URL, make_url

from shopbridge import config as cfg
from shopbridge import sample, topology
from shopbridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("SHOPBRIDGE_REFERENCE_DIR", REPO.parent / "shared" / "reference"))
CAO_SQL = REFERENCE / "cao-faktura" / "schema.sql"
PHOENIX_SQL = REFERENCE / "oscommerce" / "phoenix.sql"
MARIADB_URL = os.environ.get("SHOPBRIDGE_TEST_DB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
AMQP_URL = os.environ.get("SHOPBRIDGE_TEST_AMQP_URL", "amqp://guest@127.0.0.1:5672//")


# sshfs closes its SFTP connections in finalizers at interpreter exit, where asyncssh's INFO
# lines would otherwise follow pytest's summary line.
logging.getLogger("asyncssh").setLevel(logging.WARNING)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def require_reference(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"upstream reference SQL {path} is absent (it lives in ../shared, beside "
                    "the repository, in CI and on developer machines)")
    return path.read_text(encoding="utf-8")


@dataclass
class Database:
    name: str
    url: URL
    engine: sa.Engine

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).scalar() if params is not None else \
                conn.exec_driver_sql(sql).scalar()

    def rows(self, sql: str, params: Any = None) -> list[Any]:
        with self.engine.connect() as conn:
            result = conn.exec_driver_sql(sql, params) if params is not None else \
                conn.exec_driver_sql(sql)
            return list(result)

    def execute(self, sql: str, params: Any = None) -> None:
        with self.engine.begin() as conn:
            if params is None:
                conn.exec_driver_sql(sql)
            else:
                conn.exec_driver_sql(sql, params)


@pytest.fixture(scope="session", autouse=True)
def _services_are_up() -> None:
    """A missing MariaDB or RabbitMQ fails the run with a clear message."""
    engine = sa.create_engine(make_url(MARIADB_URL))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as err:
        pytest.exit(f"MariaDB at {MARIADB_URL} is not reachable: {err}", returncode=3)
    finally:
        engine.dispose()
    try:
        with Connection(AMQP_URL, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as err:
        pytest.exit(f"RabbitMQ at {AMQP_URL} is not reachable: {err}", returncode=3)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """A command run in-process installs its SIGTERM and SIGINT handlers
    (``cli._stop_on_signals``); left in place, the forked workers of a later test inherit
    them and outlive SIGTERM, and ``multiprocessing.Pool.terminate`` may wait for them
    forever (seen once: test_events' pool after the integration tests, a worker blocked on
    the pool's queue lock)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        if handler is not None:     # None: installed outside Python, not ours to restore
            signal.signal(sig, handler)


@pytest.fixture
def make_db() -> Iterator[Callable[..., Database]]:
    """Factory: make_db(prefix, sql=None, charset='utf8mb4') -> a fresh database."""
    made: list[Database] = []

    def factory(prefix: str, sql: str | None = None, charset: str = "utf8mb4") -> Database:
        name = unique(f"sbtest_{prefix}")
        url = sample.create_database(MARIADB_URL, name, charset=charset)
        if sql:
            sample.run_sql_file(url, sql)
        db = Database(name, url, sa.create_engine(url, connect_args={"charset": "utf8mb4"}))
        made.append(db)
        return db

    yield factory
    for db in made:
        db.engine.dispose()
        sample.drop_database(MARIADB_URL, db.name)


def upper_case_tables(sql: str) -> str:
    """The CAO dump with CAO's own upper-case table names, as on a Linux server."""
    return re.sub(r"CREATE TABLE IF NOT EXISTS `([a-z_]+)`",
                  lambda m: f"CREATE TABLE IF NOT EXISTS `{m[1].upper()}`", sql)


CAO_NAMES = {"ARTIKEL": "artikel", "ARTIKEL_LTEXT": "artikel_ltext", "SPRACHEN": "sprachen",
             "REGISTRY": "registry"}


def fill_cao(db: Database, rows: list[dict[str, Any]], translations: list[dict[str, Any]],
             names: dict[str, str] | None = None) -> None:
    names = names or CAO_NAMES
    with db.engine.begin() as conn:
        sample.insert_rows(conn, names["ARTIKEL"], rows)
        sample.insert_rows(conn, names["ARTIKEL_LTEXT"], translations)


@pytest.fixture
def cao_db(make_db: Callable[..., Database]) -> Database:
    """A CAO-Faktura database from the real DDL (lower-case names, MyISAM, latin1)."""
    db = make_db("cao", require_reference(CAO_SQL), charset="latin1")
    with db.engine.begin() as conn:
        sample.cao_reference_data(conn, CAO_NAMES)
    return db


# The CAO articles the order tests book: (REC_ID, ARTNUM, KURZNAME).
ORDER_ARTICLES = [(1, "A-000001", "Gießkanne"), (2, "A-000002", "Buch"),
                  (30, "KB-30", "Kaffeebecher")]


def add_cao_articles(db: Database, rows: list[tuple[int, str, str]] = ORDER_ARTICLES) -> None:
    """Articles an imported order may book (the importer refuses lines CAO lacks)."""
    db.execute("INSERT INTO artikel (REC_ID, ARTNUM, KURZNAME) VALUES (%s, %s, %s)", rows)


@pytest.fixture
def erp(cao_db: Database) -> Database:
    """The CAO test database with number ranges and countries, as a real installation has."""
    cao_db.execute(
        f"INSERT INTO {CAO_NAMES['REGISTRY']} (MAINKEY, NAME, VAL_INT, VAL_CHAR, VAL_INT2) "
        "VALUES (%s, %s, %s, %s, %s)",
        [("MAIN\\NUMBERS", "EDI", 10, "RE-000000", 1001),
         ("MAIN\\NUMBERS", "KUNNUM", 99, "00000", 50001),
         ("MAIN\\NUMBERS", "DEBNUM", 31, None, 10001)])
    cao_db.execute("INSERT INTO land (ID, NAME, ISO_CODE_3) VALUES (%s, %s, %s)",
                   [("D", "Deutschland", "DEU"), ("AT", "Österreich", "AUT")])
    return cao_db


def setup_phoenix(db: Database) -> None:
    """Add German (id 2) to the default install's English (id 1), and a 7 % tax class."""
    with db.engine.begin() as conn:
        sample.phoenix_reference_data(conn)


@pytest.fixture
def phoenix_factory(make_db: Callable[..., Database]) -> Callable[[], Database]:
    def factory() -> Database:
        db = make_db("phoenix", require_reference(PHOENIX_SQL))
        setup_phoenix(db)
        return db
    return factory


@pytest.fixture
def phoenix_db(phoenix_factory: Callable[[], Database]) -> Database:
    """A CE Phoenix Cart 1.1.0.6 database from the upstream install SQL."""
    return phoenix_factory()


@pytest.fixture
def vm() -> Iterator[Database]:
    """A VirtueMart shop database from the upstream SQL (tests/virtuemart_db.py), dropped
    afterwards; skips where the reference SQL is absent."""
    from tests.virtuemart_db import virtuemart_for_a_test

    yield from virtuemart_for_a_test()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Starts shopbridge commands as child processes (tests/services.py); any still running
    at the end is killed."""
    from tests.services import Service

    started: list[Service] = []

    def run(config: Path, *args: str, label: str) -> Service:
        _record_queues_of(config)
        service = Service(config, list(args), tmp_path, label)
        started.append(service)
        return service

    yield run
    for service in started:
        if service.alive():
            service.proc.kill()
            service.proc.wait(timeout=10)


@pytest.fixture
def namespace() -> Iterator[str]:
    """A broker namespace of the test's own; its queues and exchange are deleted after."""
    ns = unique("sbtest").replace("_", "-")
    yield ns
    with Connection(AMQP_URL) as conn:
        channel = conn.default_channel
        for name in list(_declared.get(ns, ())):
            try:
                channel.queue_delete(name)
            except Exception:
                channel = conn.channel()
        with contextlib.suppress(Exception):
            channel.exchange_delete(ns)
    _declared.pop(ns, None)


_declared: dict[str, set[str]] = {}
_original_target_queues = topology.target_queues


def _recording_target_queues(broker: cfg.BrokerConfig, target: topology.Target) -> list[Any]:
    queues = _original_target_queues(broker, target)
    _declared.setdefault(broker.namespace, set()).update(q.name for q in queues)
    return queues


topology.target_queues = _recording_target_queues  # lets the fixture find every queue to delete


def _record_queues_of(config: Path) -> None:
    """The queues a child process with ``config`` may declare, recorded for the namespace
    fixture to delete: it declares them in its own process, where no recording sees them."""
    try:
        settings = cfg.load(config)
    except (ConfigError, OSError):
        return      # a test of a broken configuration: the child declares nothing
    for tenant in settings.tenants:
        for target in (*(topology.Target.for_shop(shop) for shop in tenant.shops),
                       topology.Target.for_erp(tenant.name),
                       topology.Target.for_reservations(tenant.name)):
            topology.target_queues(settings.broker, target)


def shop_entry(name: str, db: Database, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name, "kind": "oscommerce",
        "url": db.url.render_as_string(hide_password=False),
        "languages": ["de", "en"], "price_level": 1, "stock_mode": "available",
        "tax_classes": {"1": 2, "2": 1}, "filter": {"cao_shop_id": 1},
    }
    entry.update(overrides)
    return entry


def settings_for(namespace: str, cao: Database, shops: list[dict[str, Any]],
                 **broker: Any) -> cfg.Settings:
    return cfg.parse(config_data(namespace, cao, shops, **broker), source="test")


def config_data(namespace: str, cao: Database, shops: list[dict[str, Any]],
                **broker: Any) -> dict[str, Any]:
    return {
        "broker": {**broker_entry(), "namespace": namespace, "retry_tiers_s": [1, 2],
                   "batch_wait_ms": 50, **broker},
        "tenants": [{
            "name": "acme",
            "erp": {"kind": "cao", "url": cao.url.render_as_string(hide_password=False)},
            "shops": shops,
        }],
    }


# -- the broker kind (B5) ----------------------------------------------------------------------
# Tests that prove R1-R5 run on both kinds: they ask for ``broker_kind`` (parametrised), and
# ``config_data``/``settings_for``/``broker_entry`` then give that kind's [broker] entry. All
# other tests keep RabbitMQ.

BROKER_KINDS = ("rabbitmq", "embedded")
_active: dict[str, str] = {"kind": "rabbitmq", "url": AMQP_URL}


def broker_entry() -> dict[str, Any]:
    """The [broker] kind and url of the kind the running test uses."""
    return {"kind": _active["kind"], "url": _active["url"]}


@pytest.fixture(scope="session")
def embedded_broker_url() -> Iterator[str]:
    """A database of this run's own for the embedded broker's tables; every test's
    namespace keeps its queue names apart."""
    name = unique("sbtest_broker")
    url = sample.create_database(MARIADB_URL, name)
    yield url.render_as_string(hide_password=False)
    sample.drop_database(MARIADB_URL, name)


@pytest.fixture(params=BROKER_KINDS)
def broker_kind(request: pytest.FixtureRequest, namespace: str) -> Iterator[str]:
    """The broker kind of the test (both in turn); the embedded one's rows of the test's
    namespace are deleted after."""
    kind = request.param
    url = request.getfixturevalue("embedded_broker_url") if kind == "embedded" else AMQP_URL
    _active.update(kind=kind, url=url)
    try:
        yield kind
    finally:
        _active.update(kind="rabbitmq", url=AMQP_URL)
        if kind == "embedded":
            from shopbridge.embedded import Store

            store = Store(cfg.BrokerConfig(url=url, namespace=namespace, kind=kind))
            try:
                used = store.used()
                store.purge_namespace()
            finally:
                store.close()
            # A test that asks for both kinds but builds its broker settings elsewhere would
            # pass twice on RabbitMQ: make that impossible to miss.
            assert used, f"the test never declared a queue of {namespace} on the embedded broker"
