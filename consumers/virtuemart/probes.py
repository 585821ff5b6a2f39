"""``shopbridge check`` for the VirtueMart consumer (the kind's ``ShopSinkProbe``).

Problems (the sync cannot run correctly): tables and columns missing under the shop's
prefix, an active language without its language tables, a configured language the shop
does not have active, the vendor's currency other than the ERP's, shopper groups, calc
rules or the Joomla user group (``user_group``, for customers) the config names that the
shop lacks (or a rule that is no published tax rule), tax codes without a rule, order state
codes ``order_states`` maps to that the shop's ``orderstates`` lacks, grants. What the
shop's own data and settings make worth a look
(NOTES §10) are notes, from ``pitfalls``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from shopbridge import kinds, needs
from shopbridge.config import ShopConfig
from shopbridge.db import TableNames
from shopbridge.errors import ConfigError
from shopbridge.probes import CheckReport, ShopFacts

from . import pitfalls
from .options import VirtueMartOptions
from .shop import Language, Tables, active_languages, language_sizes, read_config
from .tables import LANGUAGE_TABLES, metadata

# What VirtueMart's product_tax_id means besides a rule id (NOTES 3): no rule to look up.
AUTOMATIC_TAX, NO_TAX = 0, -1
TAX_KINDS = ("VatTax", "Tax")           # calc_kind of a rule that adds tax (NOTES 8)
EVERYONE = 0                            # shopper group 0: the price row for all groups


def check(conn: Connection, shop: ShopConfig, report: CheckReport, *, tax_codes: set[int],
          currency: str) -> ShopFacts:
    """The ``ShopSinkProbe`` of VirtueMart. The frame's order statuses are the CAO status
    ids ``order_states`` maps to a code the shop has (O4)."""
    where = f"shop {shop.name}"
    options = shop.options
    if not isinstance(options, VirtueMartOptions):
        report.problems.append(f"{where}: [virtuemart] prefix is not configured")
        return ShopFacts()
    t = Tables(options.prefix)
    if not _check_tables(conn, where, options.prefix, report):
        report.needs(where, needs.shop_consumer, conn, shop)
        return ShopFacts()
    config = read_config(conn.exec_driver_sql(
        f"SELECT config FROM {t.configs} WHERE virtuemart_config_id = 1").scalar())
    languages = _check_languages(conn, where, shop, t, config, report)
    report.needs(where, _consumer_needs(languages, t), conn, shop)
    _check_currency(conn, where, options, t, currency, report)
    _check_shopper_groups(conn, where, options, t, report)
    _check_user_group(conn, where, options, t, report)
    _check_tax_rules(conn, where, shop, t, tax_codes, report)
    status_ids = _check_order_states(conn, where, options, t, report)
    report.notes += [f"{where}: {n}" for n in pitfalls.notes(conn, t, config, options,
                                                              languages)]
    problem = pitfalls.cache_problem(options)
    if problem:
        report.problems.append(f"{where}: {problem}")
    report.ok.append(f"{where}: database reachable, VirtueMart tables under prefix "
                     f"{options.prefix!r}")
    return ShopFacts(order_status_ids=status_ids)


def _check_order_states(conn: Connection, where: str, options: VirtueMartOptions, t: Tables,
                        report: CheckReport) -> set[int]:
    """Every code ``order_states`` maps a CAO status to must be one of the shop's order
    states; returns the CAO status ids that have one."""
    codes = {str(code) for (code,) in conn.exec_driver_sql(
        f"SELECT order_status_code FROM {t.orderstates}")}
    for status_id, code in sorted(options.order_states.items()):
        if code not in codes:
            report.problems.append(
                f"{where}: order_states maps CAO status {status_id} to {code!r}, which "
                f"{t.orderstates} does not have (it has {', '.join(sorted(codes))}): that "
                f"status change would be dead-lettered")
    if options.order_states and all(c in codes for c in options.order_states.values()):
        mapped = ", ".join(f"{i} {c}" for i, c in sorted(options.order_states.items()))
        report.ok.append(f"{where}: order_states {mapped} are order states of the shop")
    return {status_id for status_id, code in options.order_states.items() if code in codes}


def _check_tables(conn: Connection, where: str, prefix: str, report: CheckReport) -> bool:
    """The tables and columns the consumer reads and writes; False: some table is missing
    (nothing further can be read)."""
    names = TableNames.read(conn)
    tables = metadata(prefix).sorted_tables
    missing = [table.name for table in tables if names.find(table.name) is None]
    if len(missing) == len(tables):
        others = _other_prefixes(conn)
        hint = (f"; the database has them under {', '.join(map(repr, others))}" if others
                else "")
        report.problems.append(f"{where}: no VirtueMart table under the prefix {prefix!r} "
                               f"(no {prefix}virtuemart_products): is [virtuemart] prefix "
                               f"right?{hint}")
        return False
    return report.tables(where, conn, names, tables)


def _other_prefixes(conn: Connection) -> list[str]:
    """The prefixes under which the database does have VirtueMart's products table."""
    suffix = "virtuemart_products"
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME LIKE %s", (f"%{suffix}",))
    return sorted(str(r[0])[:-len(suffix)] for r in rows if str(r[0]).endswith(suffix))


def _check_languages(conn: Connection, where: str, shop: ShopConfig, t: Tables,
                     config: dict[str, object], report: CheckReport) -> list[Language]:
    """Active languages with their tables (NOTES 2), against the configured ``languages``.

    Returns the active languages whose tables exist, with their column sizes.
    """
    tags = active_languages(conn, t)
    if not config.get("active_languages"):
        report.notes.append(f"{where}: VirtueMart's active_languages is empty: it uses "
                            f"Joomla's site language {tags[0]}, and so does shopbridge")
    languages = []
    for tag in tags:
        try:
            languages.append(Language(tag, language_sizes(conn, t, tag)))
        except ConfigError as err:
            report.problems.append(f"{where}: {err}")
    codes = {tag.split("-")[0].lower(): tag for tag in tags}
    for code in shop.languages:
        if code not in codes:
            report.problems.append(
                f"{where}: language {code!r} is configured but not an active VirtueMart "
                f"language (active: {', '.join(tags)}): its texts would reach no table")
    fallback = next((c for c in shop.languages if c in codes), shop.languages[0])
    for code, tag in sorted(codes.items()):
        if code not in shop.languages:
            report.notes.append(
                f"{where}: active language {tag} is not in 'languages': its rows get the "
                f"ERP's {fallback!r} texts")
    if languages:
        report.ok.append(f"{where}: active languages {', '.join(lang.tag for lang in languages)}"
                         " with their language tables")
    return languages


def _consumer_needs(languages: Sequence[Language], t: Tables
                    ) -> Callable[[Connection, ShopConfig], list[str]]:
    """``consume --shop``'s grants, with the language tables of the active languages (their
    names depend on the shop's languages, so the kind's ``needs`` cannot list them)."""
    def check(conn: Connection, shop: ShopConfig) -> list[str]:
        declared = kinds.shop_sink(shop.kind).needs(shop)
        lang_tables = [t.lang(base, lang) for lang in languages for base in LANGUAGE_TABLES]
        return needs.problems(conn, replace(
            declared, reads=[*declared.reads, *lang_tables],
            writes={**declared.writes, **{name: ("INSERT", "UPDATE") for name in lang_tables}}))
    return check


def _check_currency(conn: Connection, where: str, options: VirtueMartOptions, t: Tables,
                    currency: str, report: CheckReport) -> None:
    """Product prices are in the vendor's currency (NOTES 3): it must be the ERP's."""
    row = conn.exec_driver_sql(
        f"SELECT v.vendor_currency, c.currency_code_3 FROM {t.vendors} v LEFT JOIN "
        f"{t.currencies} c ON c.virtuemart_currency_id = v.vendor_currency "
        f"WHERE v.virtuemart_vendor_id = %s", (options.vendor_id,)).first()
    if row is None:
        report.problems.append(f"{where}: vendor {options.vendor_id} is not in {t.vendors} "
                               "([virtuemart] vendor_id)")
    elif row[1] != currency:
        shop_currency = repr(row[1]) if row[1] else f"id {row[0]} (not in {t.currencies})"
        report.problems.append(
            f"{where}: vendor {options.vendor_id}'s currency is {shop_currency}, but the "
            f"ERP's prices are {currency} (erp.currency): make {currency} the vendor's "
            "currency")
    else:
        report.ok.append(f"{where}: vendor {options.vendor_id}'s currency is {currency}, as "
                         "the ERP's")


def _check_shopper_groups(conn: Connection, where: str, options: VirtueMartOptions,
                          t: Tables, report: CheckReport) -> None:
    named = set(options.shopper_groups) - {EVERYONE}
    if not named:
        return
    groups = {int(r[0]): int(r[1]) for r in conn.exec_driver_sql(
        f"SELECT virtuemart_shoppergroup_id, published FROM {t.shoppergroups}")}
    for group in sorted(named - set(groups)):
        report.problems.append(f"{where}: shopper_groups names group {group}, which the "
                               f"shop does not have ({t.shoppergroups})")
    for group in sorted(g for g in named if groups.get(g) == 0):
        report.notes.append(f"{where}: shopper group {group} (shopper_groups) is not "
                            "published: its prices are written, VirtueMart ignores them")
    if named <= set(groups):
        report.ok.append(f"{where}: shopper groups {', '.join(map(str, sorted(named)))} "
                         "exist")


def _check_user_group(conn: Connection, where: str, options: VirtueMartOptions, t: Tables,
                      report: CheckReport) -> None:
    """The Joomla group synced customers join (``user_group``): an account without a group
    Joomla lets log in is no customer account."""
    title = conn.exec_driver_sql(f"SELECT title FROM {t.core('usergroups')} WHERE id = %s",
                                 (options.user_group,)).scalar()
    if title is None:
        report.problems.append(f"{where}: user_group {options.user_group} is not a Joomla "
                               f"user group ({t.core('usergroups')}): synced customers "
                               "would join no group")
    else:
        report.ok.append(f"{where}: synced customers join Joomla user group "
                         f"{options.user_group} ({title})")


def _check_tax_rules(conn: Connection, where: str, shop: ShopConfig, t: Tables,
                     tax_codes: set[int], report: CheckReport) -> None:
    """``tax_classes`` maps CAO tax codes to ``product_tax_id``: a calc rule id, or 0
    (VirtueMart's automatic rules) or -1 (no tax)."""
    for tax_code in sorted(tax_codes - set(shop.tax_classes)):
        report.problems.append(f"{where}: CAO tax code {tax_code} is used by articles but "
                               "has no entry in tax_classes")
    wanted = {code: rule for code, rule in shop.tax_classes.items()
              if rule not in (AUTOMATIC_TAX, NO_TAX)}
    if not wanted:
        return
    if TableNames.read(conn).find(t.calcs) is None:
        report.problems.append(f"{where}: table {t.calcs} missing (tax_classes names calc "
                               "rules)")
        return
    rules = {int(r[0]): r[1:] for r in conn.exec_driver_sql(
        f"SELECT virtuemart_calc_id, calc_name, calc_kind, published, publish_down "
        f"FROM {t.calcs}")}
    now = datetime.now(UTC).replace(tzinfo=None)
    problems = []
    for tax_code, rule in sorted(wanted.items()):
        found = rules.get(rule)
        mapping = f"tax_classes maps CAO tax code {tax_code} to calc rule {rule}"
        if found is None:
            problems.append(f"{mapping}, which the shop does not have ({t.calcs})")
            continue
        name, kind, published, down = found
        if kind not in TAX_KINDS:
            problems.append(f"{mapping} ({name!r}), a {kind or 'kindless'} rule, not a tax "
                            f"({' or '.join(TAX_KINDS)})")
        elif not published:
            problems.append(f"{mapping} ({name!r}), which is not published: VirtueMart "
                            "would add no tax")
        elif isinstance(down, datetime) and down.year > 1 and down < now:
            problems.append(f"{mapping} ({name!r}), which ended on {down:%Y-%m-%d} "
                            "(publish_down): VirtueMart would add no tax")
    report.problems += [f"{where}: {p}" for p in problems]
    if not problems:
        report.ok.append(f"{where}: calc rules {', '.join(map(str, sorted(set(wanted.values()))))}"
                         " (tax_classes) are published tax rules")
