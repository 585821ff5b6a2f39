"""What each service needs in each database, and what stops it there: for ``shopbridge check``.

Per service, the tables it reads (SELECT), those it writes (INSERT/UPDATE/DELETE, declared
beside the SQL that writes them) and shopbridge's own tables (all four). An own table that is
missing is a problem only where the user may not create it: a service whose user may creates
it at start, as ``shopbridge setup`` would.

Each function returns problem lines without the tenant or shop prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.engine import Connection

from .config import ShopConfig, TenantConfig
from .db import TableNames, columns_of
from .grants import DML, Grants, describe_missing
from .owntables import SETUP_HINT, OwnTable


def erp_producer(conn: Connection, tenant: TenantConfig) -> list[str]:
    """``produce``: SELECT on the CAO tables it reads, its snapshot (and variant) table."""
    from producers.cao import snapshot, variants
    from producers.cao.tables import ALSO_READ, metadata

    own = [snapshot.TABLE] + ([variants.TABLE] if tenant.erp.variants.enabled else [])
    reads = [t.name for t in metadata.sorted_tables if t.name != "REGISTRY"]
    reads += [*ALSO_READ, *_registry(tenant)]
    return _problems(conn, "produce", own=own, reads=reads)


def erp_order_import(conn: Connection, tenant: TenantConfig) -> list[str]:
    """``consume --erp``: the CAO tables the order import reads and writes, its own table."""
    from consumers.cao import importer

    reads = [t for t in importer.TABLES if t != "REGISTRY"] + _registry(tenant)
    writes = {t: p for t, p in importer.WRITES.items() if t != "REGISTRY"}
    writes |= {t: importer.WRITES["REGISTRY"] for t in _registry(tenant)}
    return _problems(conn, "consume --erp", own=[importer.TABLE], reads=reads, writes=writes)


def shop_consumer(conn: Connection, shop: ShopConfig) -> list[str]:
    """``consume --shop``: every Phoenix table it knows, those it writes, its own tables."""
    from consumers.binder import TABLE as LINKS
    from consumers.imagefiles import OWN_TABLE as IMAGES
    from consumers.mailer import TABLE as OUTBOX
    from consumers.oscommerce.specials import TABLE as SPECIALS
    from consumers.oscommerce.tables import WRITES, metadata

    own = [LINKS, SPECIALS]
    own += [IMAGES] if shop.images is not None else []
    own += [OUTBOX] if shop.mail is not None else []
    return _problems(conn, f"consume --shop {shop.name}", own=own,
                     reads=[t.name for t in metadata.sorted_tables], writes=WRITES)


def shop_order_producer(conn: Connection, shop: ShopConfig) -> list[str]:
    """``orders produce``: what it records as published (it reads what the consumer reads)."""
    from producers.oscommerce import customers, orders

    return _problems(conn, f"orders produce --shop {shop.name}",
                     own=[orders.PUBLISHED.own, customers.PUBLISHED.own])


def _registry(tenant: TenantConfig) -> list[str]:
    """CAO's registry table under the names the producer and importer look for."""
    from systems.cao import candidates

    return list(candidates("REGISTRY", tenant.erp))


def _problems(conn: Connection, service: str, *, own: Sequence[OwnTable],
              reads: Iterable[str] = (), writes: Mapping[str, Sequence[str]] | None = None
              ) -> list[str]:
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
    for logical, privileges in (writes or {}).items():
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
