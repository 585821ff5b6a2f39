"""``shopbridge check``: everything that would stop the pipeline, one line per problem.

Loads nothing lazily: connects to the broker and to every database of every tenant, checks
the tables and columns the adapters need, and checks the mappings against the shop's own
data (languages, tax classes) and the ERP's (tax codes in use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kombu import Connection

from .config import Settings, ShopConfig, TenantConfig
from .db import TableNames, columns_of, create_engine, translated
from .errors import ShopbridgeError


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)


def run(settings: Settings) -> CheckReport:
    report = CheckReport()
    _check_broker(settings, report)
    for tenant in settings.tenants:
        tax_codes = _check_erp(tenant, report)
        for shop in tenant.shops:
            if shop.active:
                _check_shop(shop, tax_codes, report)
            else:
                report.ok.append(f"shop {shop.name}: inactive, not checked")
    return report


def _guard(report: CheckReport, what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except ShopbridgeError as err:
        report.problems.append(f"{what}: {err}")
    except Exception as err:
        report.problems.append(f"{what}: {type(err).__name__}: {err}")


def _check_broker(settings: Settings, report: CheckReport) -> None:
    def probe() -> None:
        with Connection(settings.broker.url, connect_timeout=5) as conn:
            try:
                conn.ensure_connection(max_retries=1)
            except Exception as err:
                raise ShopbridgeError(f"cannot connect to {settings.broker.safe}: "
                                      f"{type(err).__name__}") from None
        report.ok.append(f"broker {settings.broker.safe}: reachable")

    _guard(report, "broker", probe)


def _check_erp(tenant: TenantConfig, report: CheckReport) -> set[int]:
    from producers.cao.source import CaoSource

    tax_codes: set[int] = set()
    what = f"tenant {tenant.name}: CAO database {tenant.erp.db.safe}"

    def probe() -> None:
        engine = create_engine(tenant.erp.db)
        try:
            with translated(what), engine.connect() as conn:
                source = CaoSource(tenant.erp)
                problems = source.schema_problems(conn)
                report.problems += [f"tenant {tenant.name}: {p}" for p in problems]
                if problems:
                    return
                for sku, ids in source.duplicate_skus(conn):
                    report.problems.append(
                        f"tenant {tenant.name}: ARTNUM {sku!r} is used by {len(ids)} articles "
                        f"(REC_ID {', '.join(map(str, ids))}): shops get duplicate models")
                for rec_id in source.articles_without_sku(conn):
                    report.problems.append(f"tenant {tenant.name}: article REC_ID {rec_id} has "
                                           "no ARTNUM and is not published")
                art = source.t["ARTIKEL"]
                cond = "WHERE SHOP_ID > 0" if tenant.erp.selection == "shop" else ""
                rows = conn.exec_driver_sql(f"SELECT DISTINCT STEUER_CODE FROM {art} {cond}")
                tax_codes.update(int(r[0]) for r in rows)
                report.ok.append(f"tenant {tenant.name}: CAO database reachable, tables "
                                 f"{', '.join(sorted(source.t.values()))}")
        finally:
            engine.dispose()

    _guard(report, f"tenant {tenant.name}", probe)
    return tax_codes


def _check_shop(shop: ShopConfig, tax_codes: set[int], report: CheckReport) -> None:
    from consumers.oscommerce.tables import metadata

    what = f"shop {shop.name}: database {shop.db.safe}"

    def probe() -> None:
        engine = create_engine(shop.db)
        try:
            with translated(what), engine.connect() as conn:
                names = TableNames.read(conn)
                for table in metadata.sorted_tables:
                    real = names.find(table.name)
                    if real is None:
                        report.problems.append(f"shop {shop.name}: table {table.name} missing")
                        continue
                    have = columns_of(conn, real)
                    for column in table.columns:
                        if column.name.upper() not in have:
                            report.problems.append(
                                f"shop {shop.name}: column {table.name}.{column.name} missing")
                if "languages" not in names or "tax_class" not in names:
                    return
                languages = {c: i for c, i in conn.exec_driver_sql(
                    "SELECT code, languages_id FROM languages")}
                for code in shop.languages:
                    if code not in languages:
                        report.problems.append(f"shop {shop.name}: language {code!r} is "
                                               "configured but not in the shop's languages")
                for code, lid in sorted(languages.items()):
                    if code not in shop.languages:
                        report.problems.append(
                            f"shop {shop.name}: shop language {code!r} (id {lid}) is not in "
                            "'languages': products would be 'not found' in it")
                classes = {r[0] for r in conn.exec_driver_sql(
                    "SELECT tax_class_id FROM tax_class")}
                for code, class_id in sorted(shop.tax_classes.items()):
                    if class_id not in classes:
                        report.problems.append(f"shop {shop.name}: tax_classes maps CAO tax "
                                               f"code {code} to tax_class_id {class_id}, which "
                                               "the shop does not have")
                for code in sorted(tax_codes):
                    if code not in shop.tax_classes:
                        report.problems.append(f"shop {shop.name}: CAO tax code {code} is used "
                                               "by articles but has no entry in tax_classes")
                report.ok.append(f"shop {shop.name}: database reachable")
        finally:
            engine.dispose()

    _guard(report, f"shop {shop.name}", probe)
