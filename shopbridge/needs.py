"""What each service needs in each database, and what stops it there: for ``shopbridge check``.

Per service, the tables it reads (SELECT), those it writes (INSERT/UPDATE/DELETE, declared
beside the SQL that writes them) and shopbridge's own tables (all four): a ``Needs``, declared
by the kind's role (``kinds``). An own table that is missing is a problem only where the user
may not create it: a service whose user may creates it at start, as ``shopbridge setup``
would.

Each function returns problem lines without the tenant or shop prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from . import kinds
from .config import ShopConfig, TenantConfig
from .db import TableNames, columns_of
from .grants import DML, Grants, describe_missing
from .owntables import SETUP_HINT, OwnTable


@dataclass(frozen=True)
class Needs:
    """What one service needs in one database, declared by the role that runs it.

    Attributes:
        service: the command, as the problem lines name it (``consume --shop web``).
        own: shopbridge's own tables it uses (all four DML privileges).
        reads: the system's tables it reads (SELECT), by logical name.
        writes: the system's tables it writes: logical name -> privileges.
    """

    service: str
    own: Sequence[OwnTable] = ()
    reads: Sequence[str] = ()
    writes: Mapping[str, Sequence[str]] = field(default_factory=dict)


# The four services by role, as check and the kinds' probes ask for them; each asks the
# registered kind what it needs and compares that with the grants.

def erp_producer(conn: Connection, tenant: TenantConfig) -> list[str]:
    """``produce``: what the tenant's ERP source needs."""
    return problems(conn, kinds.erp_source(tenant.erp.kind).needs(tenant))


def erp_order_import(conn: Connection, tenant: TenantConfig) -> list[str]:
    """``consume --erp``: what the tenant's ERP sink needs."""
    return problems(conn, kinds.erp_sink(tenant.erp.kind).needs(tenant))


def shop_consumer(conn: Connection, shop: ShopConfig) -> list[str]:
    """``consume --shop``: what the shop's sink needs."""
    return problems(conn, kinds.shop_sink(shop.kind).needs(shop))


def shop_order_producer(conn: Connection, shop: ShopConfig) -> list[str]:
    """``orders produce``: what the shop's source needs."""
    return problems(conn, kinds.shop_source(shop.kind).needs(shop))


def embedded_broker(conn: Connection, _: object = None) -> list[str]:
    """Every service with ``[broker] kind = "embedded"``: the broker's tables (B5)."""
    from .embedded import TABLES

    return problems(conn, Needs("every service (embedded broker)", own=TABLES))


def problems(conn: Connection, service_needs: Needs) -> list[str]:
    """The problem lines of one service in the database ``conn`` is connected to: own tables
    missing (or outdated) that the user may not create (alter), and missing privileges."""
    service, own = service_needs.service, service_needs.own
    reads, writes = service_needs.reads, service_needs.writes
    database = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
    grants = Grants.read(conn)
    known = bool(grants.grants)     # nothing readable: say nothing rather than guess
    absent, outdated = [], []
    for table in own:
        have = columns_of(conn, table.name)
        missing = table.missing_columns(have)
        privilege = "CREATE" if not have else "ALTER"
        if not missing or (known and grants.allows(privilege, database, table.name)):
            continue        # complete, or the service creates (upgrades) it at start
        if have:
            outdated.append(f"{table.name} lacks column(s) {', '.join(missing)}")
        else:
            absent.append(table.name)
    problems = []
    if absent:
        one = len(absent) == 1
        problems.append(f"{'table' if one else 'tables'} {', '.join(absent)} "
                        f"{'is' if one else 'are'} missing and the database user may not "
                        f"create {'it' if one else 'them'} ({service} needs "
                        f"{'it' if one else 'them'}): {SETUP_HINT}")
    problems += [f"table {text} and the database user may not alter it ({service} needs "
                 f"it): {SETUP_HINT}" for text in outdated]
    if not known:
        return problems
    names = TableNames.read(conn)
    needs: dict[str, list[str]] = {}
    for logical in reads:
        if (real := names.find(logical)) is not None:
            needs.setdefault(real, ["SELECT"])
    for logical, privileges in writes.items():
        if (real := names.find(logical)) is not None:
            have_privileges = needs.setdefault(real, ["SELECT"])
            have_privileges += [p for p in privileges if p not in have_privileges]
    for table in own:
        needs[table.name] = list(DML)
    problems += describe_missing(grants.missing(database, needs), database=database,
                                 user=_account(grants.user), service=service)
    return problems


def _account(user: str) -> str:
    """'shop@%' (CURRENT_USER()) -> 'shop'@'%', as GRANT spells it."""
    name, _, host = user.rpartition("@")
    return f"'{name}'@'{host}'" if name else f"'{user}'"
