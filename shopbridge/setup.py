"""``shopbridge setup``: create and upgrade shopbridge's own tables, once, with a DDL user.

The services then need DML grants only (SELECT, INSERT, UPDATE, DELETE): they make sure of
their tables at start and create them only where one is missing (``owntables.ensure``). Each
table is made sure of by the code that owns it, so setup creates exactly what a service
would, the way it would (the image table also registers the images already in the shop).

Which tables a database gets is the kinds' answer (``kinds``: each role's ``own_tables`` and
``ensure_tables``); today, per database:
- the CAO database of a tenant: ``shopbridge_snapshot`` (produce), ``shopbridge_variant``
  (produce, where variants are enabled), ``shopbridge_order_import`` (consume --erp);
- each shop database: ``shopbridge_link``, ``shopbridge_special``, ``shopbridge_image`` (where
  images are copied), ``shopbridge_mail_outbox`` (where status mails are sent) for consume;
  ``shopbridge_order_out``, ``shopbridge_customer_out`` for orders produce;
- with ``[broker] kind = "embedded"`` (B5), the broker's database: ``shopbridge_broker_queue``,
  ``shopbridge_broker_binding``, ``shopbridge_broker_message`` (``shopbridge/embedded.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.engine import Connection, Engine, make_url

from . import kinds
from .config import BrokerConfig, DatabaseConfig, Settings, ShopConfig, TenantConfig
from .db import columns_of, create_engine, translated
from .owntables import OwnTable, ensure


@dataclass(frozen=True)
class Login:
    """Another database user for this run (e.g. an administrator); the password is kept out
    of repr() like every other one."""

    user: str
    password: str | None = field(default=None, repr=False)

    def apply(self, db: DatabaseConfig) -> DatabaseConfig:
        url = make_url(db.url).set(username=self.user, password=None)
        return replace(db, url=url.render_as_string(hide_password=False),
                       password=self.password)


def run(settings: Settings, *, tenant: str | None = None, shop: str | None = None,
        erp_only: bool = False, login: Login | None = None) -> Iterator[str]:
    """Create or upgrade the own tables of the chosen databases; yields one line per
    database as it is done.

    Without ``tenant``, every tenant; without ``shop`` and ``erp_only``, the tenant's CAO
    database and its active shops' databases.

    Raises:
        SetupRequired: the user may not create a table (names it).
        TargetUnavailable: a database cannot be reached or refuses the login.
        ConfigError: an unknown tenant or shop.
    """
    if shop is not None:
        yield _shop(settings.find_shop(shop, tenant), login)
        return
    tenants = [settings.tenant(tenant)] if tenant is not None else list(settings.tenants)
    if settings.broker.embedded and tenant is None and not erp_only:
        yield _broker(settings.broker, login)
    for t in tenants:
        yield _erp(t, login)
        if not erp_only:
            yield from (_shop(s, login) for s in t.shops if s.active)


def _erp(tenant: TenantConfig, login: Login | None) -> str:
    source, sink = kinds.erp_source(tenant.erp.kind), kinds.erp_sink(tenant.erp.kind)
    tables = [*source.own_tables(tenant), *sink.own_tables(tenant)]

    def make_sure(conn: Connection) -> None:
        source.ensure_tables(conn, tenant)
        sink.ensure_tables(conn, tenant)

    db = login.apply(tenant.erp.db) if login else tenant.erp.db
    where = f"tenant {tenant.name}: CAO database {db.safe}"
    return f"{where}: {_run(create_engine(db), where, tables, make_sure)}"


def _broker(broker: BrokerConfig, login: Login | None) -> str:
    """The embedded broker's tables (B5), in the database its ``url`` names."""
    from .embedded import TABLES

    db = DatabaseConfig(broker.url)
    db = login.apply(db) if login else db
    where = f"embedded broker: database {db.safe}"

    def make_sure(conn: Connection) -> None:
        for table in TABLES:
            ensure(conn, table)

    return f"{where}: {_run(create_engine(db), where, TABLES, make_sure)}"


def _shop(shop: ShopConfig, login: Login | None) -> str:
    sink, source = kinds.shop_sink(shop.kind), kinds.shop_source(shop.kind)
    tables = [*sink.own_tables(shop), *source.own_tables(shop)]
    db = login.apply(shop.db) if login else shop.db
    where = f"shop {shop.name}: database {db.safe}"

    def make_sure(conn: Connection) -> None:
        sink.ensure_tables(conn, shop)
        source.ensure_tables(conn, shop)

    return f"{where}: {_run(create_engine(db), where, tables, make_sure)}"


def _run(engine: Engine, where: str, tables: Sequence[OwnTable],
         make_sure: Callable[[Connection], None]) -> str:
    try:
        with translated(where), engine.begin() as conn:
            before = {t.name: columns_of(conn, t.name) for t in tables}
            make_sure(conn)
            return "; ".join(_outcomes(conn, tables, before))
    finally:
        engine.dispose()


def _outcomes(conn: Connection, tables: Sequence[OwnTable],
              before: dict[str, dict[str, str]]) -> Iterator[str]:
    done, current = [], []
    for table in tables:
        had = before[table.name]
        if not had:
            done.append(f"{table.name} created")
        elif missing := table.missing_columns(had):
            done.append(f"{table.name}: added column(s) {', '.join(missing)}")
        else:
            current.append(table.name)
    yield from done
    if current:
        yield f"{', '.join(current)} up to date"
