"""``shopbridge check`` for a VirtueMart shop: a good shop passes with ok lines; each
problem is one PROBLEM line naming the thing; the shop's own data and settings that hide or
delay what the sync writes (NOTES §10) are notes. Against a VirtueMart database built from
the upstream install SQL (tests/virtuemart_db.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shopbridge import check, cli, kinds, sample
from shopbridge import config as cfg
from tests.conftest import Database, config_data, fill_cao
from tests.conftest import shop_entry as phoenix_entry
from tests.helpers import to_toml
from tests.integration import test_grants
from tests.integration.test_grants import PASSWORD_ENV, User
from tests.virtuemart_db import (
    PREFIX,
    create_virtuemart,
    drop_virtuemart,
    reference_problem,
    shop_entry,
)

REPO = Path(__file__).resolve().parents[2]
make_user = test_grants.make_user       # the fixture: a MariaDB user of the test's own
P = PREFIX + "virtuemart_"
CHF = 27                                # virtuemart_currency_id (install_required_data.sql)
# The good shop: caches switched off in VirtueMart, so it needs no cache_path.
GOOD_CONFIG: dict[str, object] = {"UseCachegetChildCategoryList": 0}


@pytest.fixture
def make_vm() -> Iterator[Callable[..., Database]]:
    problem = reference_problem()
    if problem:
        pytest.skip(problem)
    made: list[Database] = []

    def factory(*, config: dict[str, object] | None = None, **kw: Any) -> Database:
        db = create_virtuemart(config={**GOOD_CONFIG, **(config or {})}, **kw)
        made.append(db)
        # tax_classes of shop_entry: CAO tax code 1 -> rule 2, 2 -> rule 1 (NOTES 8)
        db.execute(f"INSERT INTO {P}calcs (virtuemart_calc_id, calc_name, calc_kind, "
                   "calc_value_mathop, calc_value, published) VALUES "
                   "(1, 'MwSt 19 %%', 'VatTax', '+%%', 19, 1), "
                   "(2, 'MwSt 7 %%', 'VatTax', '+%%', 7, 1)")
        return db

    yield factory
    for db in made:
        drop_virtuemart(db)


@pytest.fixture
def vm(make_vm: Callable[..., Database]) -> Database:
    return make_vm()


def _settings(namespace: str, cao: Database, shops: list[dict[str, Any]]) -> cfg.Settings:
    return cfg.parse(config_data(namespace, cao, shops), source="test")


def _report(namespace: str, cao: Database, *shops: dict[str, Any]) -> check.CheckReport:
    return check.run(_settings(namespace, cao, list(shops)))


def _of(lines: list[str], shop: str = "vm") -> list[str]:
    return [line for line in lines if line.startswith(f"shop {shop}:")]


def _execute_loose(db: Database, *statements: str) -> None:
    """Rows as VirtueMart 3 left them (zero dates): written without the strict sql_mode."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")
        for sql in statements:
            conn.exec_driver_sql(sql)


def _product(db: Database, product_id: int, **columns: object) -> None:
    names = ", ".join(["virtuemart_product_id", "product_sku", *columns])
    marks = ", ".join(["%s"] * (2 + len(columns)))
    db.execute(f"INSERT INTO {P}products ({names}) VALUES ({marks})",
               (product_id, f"S-{product_id}", *columns.values()))


def test_a_good_virtuemart_shop_has_ok_lines_and_exits_0(cao_db, vm, namespace, tmp_path,
                                                         capsys):
    fill_cao(cao_db, sample.articles(8), [])       # tax codes 1 and 2
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry(
        "vm", vm, virtuemart={"prefix": PREFIX, "shopper_groups": {"0": 1, "2": 2}})])))

    code = cli.main(["-c", str(path), "check"])

    lines = capsys.readouterr().out.splitlines()
    assert code == cli.EXIT_OK, "\n".join(lines)
    assert not [line for line in lines if line.startswith("PROBLEM")]
    assert {
        "ok       shop vm: active languages de-DE, en-GB with their language tables",
        "ok       shop vm: vendor 1's currency is EUR, as the ERP's",
        "ok       shop vm: shopper groups 2 exist",
        "ok       shop vm: synced customers join Joomla user group 2 (Registered)",
        "ok       shop vm: calc rules 1, 2 (tax_classes) are published tax rules",
        "ok       shop vm: order_states 1 P, 2 C, 3 S are order states of the shop",
        "ok       shop vm: database reachable, VirtueMart tables under prefix 'sbx_'",
    } <= set(lines)
    assert [line for line in lines if line.startswith("note     shop vm:")] == []
    assert ("ok       shop vm: no orders from orders_id 1 on and no [orders] settings: order "
            "import not checked") in lines


def test_each_problem_is_one_line_naming_the_thing(cao_db, make_vm, namespace):
    rows = sample.articles(8)
    rows[0]["STEUER_CODE"] = 3
    fill_cao(cao_db, rows, [])
    vm = make_vm(currency_id=CHF)
    vm.execute(f"DROP TABLE {P}products_en_gb")
    vm.execute(f"UPDATE {P}calcs SET published = 0 WHERE virtuemart_calc_id = 1")
    vm.execute(f"INSERT INTO {P}calcs (virtuemart_calc_id, calc_name, calc_kind, published) "
               "VALUES (3, 'Rabatt', 'DBTax', 1), (4, 'Alt', 'VatTax', 1)")
    vm.execute(f"UPDATE {P}calcs SET publish_down = '2020-01-01 00:00:00' "
               "WHERE virtuemart_calc_id = 4")
    entry = shop_entry("vm", vm, languages=["de", "en", "fr"],
                       tax_classes={"1": 2, "2": 1, "4": 9, "5": 3, "6": 4},
                       virtuemart={"prefix": PREFIX, "shopper_groups": {"2": 1, "7": 3},
                                   "order_states": {"2": "C", "3": "Z"}, "user_group": 99})

    problems = _of(_report(namespace, cao_db, entry).problems)

    assert problems == [
        "shop vm: language table sbx_virtuemart_products_en_gb of active language en-GB is "
        "missing: save VirtueMart's configuration once so that it creates it",
        "shop vm: language 'fr' is configured but not an active VirtueMart language (active: "
        "de-DE, en-GB): its texts would reach no table",
        "shop vm: vendor 1's currency is 'CHF', but the ERP's prices are EUR (erp.currency): "
        "make EUR the vendor's currency",
        "shop vm: shopper_groups names group 7, which the shop does not have "
        "(sbx_virtuemart_shoppergroups)",
        "shop vm: user_group 99 is not a Joomla user group (sbx_usergroups): synced customers "
        "would join no group",
        "shop vm: CAO tax code 3 is used by articles but has no entry in tax_classes",
        "shop vm: tax_classes maps CAO tax code 2 to calc rule 1 ('MwSt 19 %'), which is not "
        "published: VirtueMart would add no tax",
        "shop vm: tax_classes maps CAO tax code 4 to calc rule 9, which the shop does not have "
        "(sbx_virtuemart_calcs)",
        "shop vm: tax_classes maps CAO tax code 5 to calc rule 3 ('Rabatt'), a DBTax rule, "
        "not a tax (VatTax or Tax)",
        "shop vm: tax_classes maps CAO tax code 6 to calc rule 4 ('Alt'), which ended on "
        "2020-01-01 (publish_down): VirtueMart would add no tax",
        "shop vm: order_states maps CAO status 3 to 'Z', which sbx_virtuemart_orderstates "
        "does not have (it has C, D, F, P, R, S, U, X): that status change would be "
        "dead-lettered",
    ]


def test_a_wrong_prefix_is_one_line_naming_the_prefixes_found(cao_db, vm, namespace):
    fill_cao(cao_db, sample.articles(2), [])
    entry = shop_entry("vm", vm, virtuemart={"prefix": "jos_"})

    report = _report(namespace, cao_db, entry)

    assert _of(report.problems) == [
        "shop vm: no VirtueMart table under the prefix 'jos_' (no jos_virtuemart_products): "
        "is [virtuemart] prefix right?; the database has them under 'sbx_'"]
    assert not any("database reachable" in line for line in _of(report.ok))


def test_a_missing_table_or_column_is_named(cao_db, vm, namespace):
    fill_cao(cao_db, sample.articles(2), [])
    vm.execute(f"DROP TABLE {P}product_shoppergroups")
    vm.execute(f"ALTER TABLE {P}products DROP COLUMN has_prices")

    problems = _of(_report(namespace, cao_db, shop_entry("vm", vm)).problems)

    assert problems == [f"shop vm: table {P}product_shoppergroups missing",
                        f"shop vm: column {P}products.has_prices missing"]


def test_orders_of_a_virtuemart_shop_are_checked_against_its_orders_mappings(erp, vm,
                                                                             namespace):
    """Issue 12 O5: what recent orders use (method names in the order's language, countries)
    must be mapped."""
    from tests.vm_checkout import Method, VmLine, add_method, place_vm_order

    fill_cao(erp, sample.articles(2), [])
    add_method(vm, "payment", 1, {"de-DE": "Vorkasse", "en-GB": "Prepayment"})
    add_method(vm, "shipment", 1, {"de-DE": "DHL Paket"})
    place_vm_order(vm, items=[VmLine(1, "A-1", "Buch", Decimal("10.00"), Decimal(7))],
                   payment=Method(1), shipment=Method(1, Decimal("4.90")))
    entry = shop_entry("vm", vm, orders={"payment_methods": {"Vorkasse": 1}})

    report = _report(namespace, erp, entry)

    assert _of(report.problems) == [
        "shop vm: shipping method 'DHL Paket' (1 order) has no entry in "
        "orders.shipping_methods",
        "shop vm: country DE (1 order) is neither in orders.countries nor a CAO LAND.ID"]


def test_a_missing_account_table_is_a_problem_naming_it(erp, vm, namespace):
    """K3: the account producer reads vmusers and userinfos besides Joomla's users."""
    fill_cao(erp, sample.articles(2), [])
    vm.execute(f"DROP TABLE {P}vmusers")

    report = _report(namespace, erp, shop_entry("vm", vm))

    assert f"shop vm: table {P}vmusers missing: accounts cannot be read" in _of(
        report.problems), report.problems

def test_a_cache_path_that_is_no_folder_is_a_problem_and_none_is_a_note(cao_db, make_vm,
                                                                         namespace, tmp_path):
    fill_cao(cao_db, sample.articles(2), [])
    vm = make_vm(config={"UseCachegetChildCategoryList": 1})
    absent = str(tmp_path / "absent")

    without = _report(namespace, cao_db, shop_entry("vm", vm))
    wrong = _report(namespace, cao_db, shop_entry(
        "vm", vm, virtuemart={"prefix": PREFIX, "cache_path": absent}))
    right = _report(namespace, cao_db, shop_entry(
        "vm", vm, virtuemart={"prefix": PREFIX, "cache_path": str(tmp_path)}))

    assert not _of(without.problems)
    assert any("no [virtuemart] cache_path is set" in n and "UseCachegetChildCategoryList=0"
               in n for n in _of(without.notes)), without.notes
    assert _of(wrong.problems) == [
        f"shop vm: [virtuemart] cache_path {absent!r} is not a folder on this machine "
        "(Joomla's cache folder, e.g. /var/www/shop/cache)"]
    assert not _of(right.problems)
    assert not any("cache_path" in n for n in _of(right.notes))


def test_the_shops_own_data_and_settings_worth_a_look_are_notes(cao_db, make_vm, namespace):
    """NOTES §10: every pitfall check can see up front, as a note; the check still passes."""
    fill_cao(cao_db, sample.articles(2), [])
    vm = make_vm(config={"prodOnlyWLang": 1, "stockhandle": "disableit",
                         "stockhandle_products": 1})
    _product(vm, 1, has_prices=0)                      # priced, flag says unpriced
    vm.execute(f"INSERT INTO {P}products_de_de (virtuemart_product_id, product_name, slug) "
               "VALUES (1, 'Eins', 'eins')")           # no en-GB row
    vm.execute(f"INSERT INTO {P}product_prices (virtuemart_product_id, product_price) "
               "VALUES (1, 10)")
    _product(vm, 2, product_stockhandle="disableadd")
    vm.execute(f"INSERT INTO {P}products_de_de (virtuemart_product_id, product_name, slug) "
               "VALUES (2, 'Zwei', 'zwei')")
    vm.execute(f"INSERT INTO {P}products_en_gb (virtuemart_product_id, product_name, slug) "
               "VALUES (2, 'Two', 'two')")
    vm.execute(f"INSERT INTO {P}categories (virtuemart_category_id, category_parent_id, "
               "has_children) VALUES (1, 0, 0), (2, 1, NULL)")
    _execute_loose(vm, f"UPDATE {P}products SET created_on = '0000-00-00 00:00:00', "
                       "product_available_date = '0000-00-00 00:00:00' "
                       "WHERE virtuemart_product_id = 2")
    vm.execute(f"ALTER TABLE {P}products_de_de MODIFY product_name varchar(100) NOT NULL "
               "DEFAULT ''")
    entry = shop_entry("vm", vm, virtuemart={"prefix": PREFIX,
                                             "availability": {"1": "24h.gif"}})

    report = _report(namespace, cao_db, entry)

    assert not _of(report.problems)
    assert _of(report.notes) == [
        f"shop vm: 1 product(s) have no row in {P}products_en_gb: VirtueMart shows them in "
        "en-GB only through its fallback language, or not at all ('Empty slug'); "
        "prodOnlyWLang=1 also leaves them out of every list in en-GB; shopbridge writes the "
        "rows of the products it syncs",
        f"shop vm: 1 product(s) have has_prices = 0 but rows in {P}product_prices: with "
        "optimisedProductSql VirtueMart skips them, the products show no prices; set "
        "has_prices to NULL and VirtueMart recomputes it (shopbridge writes exact flags for "
        "the products it syncs)",
        "shop vm: 1 category has has_children = 0 but child categories: VirtueMart does not "
        "load those children; set has_children to NULL and VirtueMart recomputes it",
        "shop vm: stockhandle=disableit: VirtueMart hides products whose product_in_stock - "
        "product_ordered is below 1",
        "shop vm: VirtueMart's default templates show product_availability (the availability "
        "mapping) only on products whose product_in_stock - product_ordered is below 1; "
        "in-stock products need a template override",
        "shop vm: 1 product(s) have their own product_stockhandle, which overrides "
        "stockhandle=disableit (stockhandle_products=1)",
        f"shop vm: 1 row(s) of {P}products carry zero dates from VirtueMart 3 "
        "(product_available_date, created_on): VirtueMart reads them as empty; shopbridge "
        "writes NULL in the columns it writes and leaves the others",
        f"shop vm: {P}products_de_de.product_name holds 100 characters (VirtueMart's default "
        "400), ERP texts up to 255 (payload.texts.*.name): longer ones are dead-lettered "
        "naming the field",
    ]


def test_a_missing_grant_on_a_language_table_is_named(cao_db, vm, namespace, make_user):
    """The language tables' names depend on the active languages: check adds them to what
    ``consume --shop`` needs."""
    fill_cao(cao_db, sample.articles(2), [])
    root = _settings(namespace, cao_db, [shop_entry("vm", vm)]).tenants[0].shops[0]
    with vm.engine.begin() as conn:                 # shopbridge setup, as root
        kinds.shop_sink("virtuemart").ensure_tables(conn, root)
    user: User = make_user()
    user.grant_dml(vm, except_on={f"{P}products_en_gb": "SELECT"})
    entry = shop_entry("vm", vm, url=user.url(vm), password_env=PASSWORD_ENV)

    problems = _of(_report(namespace, cao_db, entry).problems)

    assert len(problems) == 1, problems
    assert f"{P}products_en_gb" in problems[0] and "INSERT, UPDATE" in problems[0]
    assert "consume --shop vm" in problems[0]


def test_tier_and_group_notes_come_from_the_shops_kind(cao_db, phoenix_db, vm, namespace):
    """osCommerce shops keep their words; a VirtueMart shop shows tiers and shopper-group
    prices, so it gets neither note."""
    fill_cao(cao_db, sample.articles(3), [])
    cao_db.execute("INSERT INTO artikel_preis (ARTIKEL_ID, ADRESS_ID, PREIS_TYP, PT2, MENGE2, "
                   "PREIS2) VALUES (1, -99, 3, 'VK', 10, 5)")
    cao_db.execute("INSERT INTO adressen (MATCHCODE, SHOP_KUNDE, SHOP_ID, PR_EBENE) VALUES "
                   "('B', 'Y', 1, 3)")

    notes = _report(namespace, cao_db, phoenix_entry("web", phoenix_db),
                    shop_entry("vm", vm)).notes

    assert [n for n in notes if "price" in n] == [
        "shop web: 1 article(s) have quantity-tier prices (ARTIKEL_PREIS); osCommerce core "
        "has no tier prices, the shop sells every quantity at VK1",
        "shop web: 1 shop customer(s) have another price level in CAO (VK3: 1); osCommerce "
        "core has no customer groups, they see VK1 prices"]


def test_the_cli_prints_one_clear_line_per_finding(cao_db, make_vm, namespace, tmp_path):
    """A real process: every finding one line, no traceback, exit 1."""
    fill_cao(cao_db, sample.articles(2), [])
    vm = make_vm(currency_id=CHF)
    vm.execute(f"DROP TABLE {P}manufacturers_en_gb")
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry(
        "vm", vm, tax_classes={"1": 2, "2": 8})])))

    run = subprocess.run([sys.executable, "-m", "shopbridge", "-c", str(path), "check"],
                         cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                         timeout=60, check=False)

    assert run.returncode == cli.EXIT_PROBLEMS, run.stdout + run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[-1] == "3 problem(s)"
    assert all(line.startswith(("ok       ", "note     ", "PROBLEM  ")) for line in lines[:-1])
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert problems == [
        f"PROBLEM  shop vm: language table {P}manufacturers_en_gb of active language en-GB is "
        "missing: save VirtueMart's configuration once so that it creates it",
        "PROBLEM  shop vm: vendor 1's currency is 'CHF', but the ERP's prices are EUR "
        "(erp.currency): make EUR the vendor's currency",
        "PROBLEM  shop vm: tax_classes maps CAO tax code 2 to calc rule 8, which the shop does "
        f"not have ({P}calcs)"]
