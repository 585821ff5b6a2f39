"""``shopbridge check`` for the CAO catalogue producer: its tables, columns and grants, and
the merchant's data worth a look (duplicate or missing ARTNUMs, prices a shop cannot show).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge import kinds, needs
from shopbridge.config import ShopConfig, TenantConfig
from shopbridge.db import TableNames, columns_of, quote_ident
from shopbridge.errors import ConfigError, SetupRequired
from shopbridge.probes import CatalogueLimits, CheckReport

from . import capture
from .source import TIER_PRICES, CaoSource


def check(conn: Connection, tenant: TenantConfig, report: CheckReport) -> set[int]:
    """The ``ErpSourceProbe`` of CAO; returns the tax codes of the selected articles."""
    where = f"tenant {tenant.name}"
    source = CaoSource(tenant.erp, flag_fields=(
        s.filter.flag[0] for s in tenant.shops if s.active and s.filter.flag))
    problems = source.schema_problems(conn)
    report.problems += [f"{where}: {p}" for p in problems]
    if problems:
        return set()
    report.needs(where, needs.erp_producer, conn, tenant)
    try:
        source.variants.ensure_table(conn)   # the selection below reads it (C8)
    except SetupRequired as err:
        report.problems.append(f"{where}: {err}")
        return set()
    # The merchant's data, handled as it is: a note, not a failed check.
    for sku, ids in source.duplicate_skus(conn):
        report.notes.append(
            f"{where}: ARTNUM {sku!r} is used by {len(ids)} articles "
            f"(REC_ID {', '.join(map(str, ids))}): shops get duplicate models")
    for rec_id in source.articles_without_sku(conn):
        report.notes.append(f"{where}: article REC_ID {rec_id} has no ARTNUM and is not "
                            "published")
    art = source.t["ARTIKEL"]
    cond = "WHERE SHOP_ID > 0" if tenant.erp.selection == "shop" else ""
    rows = conn.exec_driver_sql(f"SELECT DISTINCT STEUER_CODE FROM {art} {cond}")
    tax_codes = {int(r[0]) for r in rows}
    report.notes += _catalogue_limits(conn, source, tenant)
    problems, notes = source.variants.check(
        conn, art, (c for s in tenant.shops if s.active for c in s.languages))
    report.problems += [f"{where}: {p}" for p in problems]
    report.ok += [f"{where}: {n}" for n in notes]
    _change_signal(conn, where, report)
    report.ok.append(f"{where}: CAO database reachable, tables "
                     f"{', '.join(sorted(source.t.values()))}")
    return tax_codes


def _change_signal(conn: Connection, where: str, report: CheckReport) -> None:
    """The triggers of the change signal (capture.py): complete, absent (a note: follow
    mode then uses the UPDATE_TIME gate), or partial (a problem: some changes would wait for
    the rare full diff)."""
    found = capture.state(conn)
    conn.commit()
    if found.complete:
        report.ok.append(f"{where}: {found.describe()}")
    elif found.assumed:
        report.notes.append(f"{where}: {found.describe()}; GRANT TRIGGER to let check and "
                            f"'produce --follow' see whether they are complete")
    elif found.absent and not found.table:
        report.notes.append(f"{where}: {found.describe()}; 'produce --follow' looks at "
                            f"UPDATE_TIME instead ('shopbridge capture --install' for changes "
                            f"in milliseconds)")
    else:
        report.problems.append(f"{where}: {found.describe()}: changes to those tables reach "
                               f"the shops only with the rare full diff; run 'shopbridge "
                               f"capture --install' (or --remove)")


def _catalogue_limits(conn: Connection, source: CaoSource, tenant: TenantConfig) -> list[str]:
    """C5/C7: ERP prices a shop cannot show, counted per shop, one line each; what a shop
    cannot show, and how to say so, is its kind's (``ShopSink.limits``)."""
    art, prices = source.t["ARTIKEL"], source.t["ARTIKEL_PREIS"]
    tiers: dict[int, int] = dict(conn.exec_driver_sql(
        f"SELECT a.SHOP_ID, COUNT(DISTINCT a.REC_ID) FROM {art} a JOIN {prices} p "
        f"ON p.ARTIKEL_ID = a.REC_ID WHERE {TIER_PRICES} AND p.MENGE2 > 0 GROUP BY a.SHOP_ID"
    ).all())
    addresses = TableNames.read(conn).find("ADRESSEN")
    levels: dict[Any, Counter[int]] = {}
    if addresses is not None and "PR_EBENE" in columns_of(conn, addresses):
        for shop_id, level, count in conn.exec_driver_sql(
                f"SELECT SHOP_ID, PR_EBENE, COUNT(*) FROM {quote_ident(addresses)} "
                f"WHERE SHOP_KUNDE = 'Y' GROUP BY SHOP_ID, PR_EBENE"):
            levels.setdefault(shop_id, Counter())[int(level or 0)] += int(count)
    notes = []
    for shop in tenant.shops:
        if not shop.active:
            continue
        limits = _limits(shop)
        cao_id = shop.filter.cao_shop_id
        n_tiers = (sum(tiers.values()) if cao_id is None else tiers.get(cao_id, 0))
        if n_tiers and limits.tier_prices:
            notes.append(f"shop {shop.name}: {n_tiers} article(s) have quantity-tier prices "
                         f"(ARTIKEL_PREIS); {limits.tier_prices}, the shop sells every "
                         f"quantity at VK{shop.price_level}")
        own = Counter[int]()
        for shop_id, counter in levels.items():
            if cao_id is None or shop_id == cao_id:
                own.update(counter)
        other = {lvl: n for lvl, n in own.items() if lvl != shop.price_level}
        if other and limits.customer_groups:
            notes.append(f"shop {shop.name}: {sum(other.values())} shop customer(s) have "
                         f"another price level in CAO ("
                         f"{', '.join(f'VK{lvl}: {n}' for lvl, n in sorted(other.items()))}); "
                         f"{limits.customer_groups}, they see VK{shop.price_level} prices")
    return notes


def _limits(shop: ShopConfig) -> CatalogueLimits:
    """What the shop's kind cannot show; an unknown kind notes nothing here (the shop's own
    check names it)."""
    try:
        return kinds.shop_sink(shop.kind).limits(shop)
    except ConfigError:
        return CatalogueLimits()
