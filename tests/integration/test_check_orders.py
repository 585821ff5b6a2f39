"""``shopbridge check`` for the order import (O5): what CAO needs and the shop's orders use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shopbridge import check, cli, sample
from tests.conftest import CAO_NAMES, Database, config_data, fill_cao, shop_entry
from tests.helpers import to_toml

DE, AT, FR = 81, 14, 73
NUMBERS = [("MAIN\\NUMBERS", "EDI", 10, "RE-000000", 1001),
           ("MAIN\\NUMBERS", "KUNNUM", 99, "00000", 50001),
           ("MAIN\\NUMBERS", "DEBNUM", 31, None, 10001)]
ORDERS = {"payment_methods": {"Cash on Delivery": 3},
          "shipping_methods": {"Flat Rate (Best Way)": 2}, "countries": {"DE": "D"}}


def erp(db: Database, numbers: list[tuple[Any, ...]] = NUMBERS) -> Database:
    """CAO with articles, number ranges, countries and payment methods, as installed."""
    fill_cao(db, sample.articles(3), [])
    db.execute(f"INSERT INTO {CAO_NAMES['REGISTRY']} (MAINKEY, NAME, VAL_INT, VAL_CHAR, "
               "VAL_INT2) VALUES (%s, %s, %s, %s, %s)", numbers)
    db.execute("INSERT INTO land (ID, NAME, ISO_CODE_3) VALUES (%s, %s, %s)",
               [("D", "Deutschland", "DEU"), ("AT", "Österreich", "AUT")])
    db.execute("INSERT INTO zahlungsarten (REC_ID, NAME) VALUES (%s, %s)",
               [(1, "Vorkasse"), (3, "Nachnahme")])
    return db


def add_order(db: Database, *, payment: str = "Cash on Delivery",
              shipping: str | None = "Flat Rate (Best Way):", billing: int = DE,
              delivery: int = DE) -> int:
    """An order as Phoenix's checkout writes it (only what check reads matters here)."""
    row: dict[str, Any] = {"customers_id": 0, "customers_telephone": "",
                           "customers_email_address": "erika@example.de",
                           "payment_method": payment, "orders_status": 1, "currency": "EUR",
                           "currency_value": 1}
    for prefix, country_id in (("customers", DE), ("delivery", delivery), ("billing", billing)):
        row.update({f"{prefix}_name": "Erika Mustermann", f"{prefix}_street_address": "Weg 1",
                    f"{prefix}_city": "Köln", f"{prefix}_postcode": "51147",
                    f"{prefix}_country": "Atlantis" if country_id == 999 else "Land",
                    f"{prefix}_country_id": country_id, f"{prefix}_address_format_id": 5})
    with db.engine.begin() as conn:
        orders_id = conn.exec_driver_sql(
            f"INSERT INTO orders ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
            tuple(row.values())).lastrowid
        totals = [("ot_subtotal", "Zwischensumme:", 10, 1), ("ot_total", "Summe:", 15, 4)]
        if shipping is not None:
            totals.append(("ot_shipping", shipping, 5, 2))
        conn.exec_driver_sql(
            "INSERT INTO orders_total (orders_id, title, text, value, class, sort_order) "
            "VALUES (%s, %s, '', %s, %s, %s)",
            [(orders_id, title, value, class_, sort) for class_, title, value, sort in totals])
    return int(orders_id)


def shipping_module(db: Database, module: str, *, status: str = "True",
                    tax_class: str | None = "0") -> None:
    """Install (or re-set) a shipping module the way Phoenix's admin does: its file in
    MODULE_SHIPPING_INSTALLED, its STATUS and TAX_CLASS rows (``None``: no TAX_CLASS row)."""
    key = f"MODULE_SHIPPING_{module.upper()}_"
    db.execute("UPDATE configuration SET configuration_value = CONCAT(configuration_value, "
               "%s) WHERE configuration_key = 'MODULE_SHIPPING_INSTALLED' AND NOT "
               "FIND_IN_SET(%s, REPLACE(configuration_value, ';', ','))",
               (f";{module}.php", f"{module}.php"))
    db.execute("DELETE FROM configuration WHERE configuration_key IN (%s, %s)",
               (key + "STATUS", key + "TAX_CLASS"))
    rows = [(key + "STATUS", status)] + ([(key + "TAX_CLASS", tax_class)] if tax_class else [])
    db.execute("INSERT INTO configuration (configuration_title, configuration_key, "
               "configuration_value, configuration_description, configuration_group_id, "
               "date_added) VALUES ('', %s, %s, '', 6, NOW())", rows)


def _output(tmp_path, data, capsys) -> tuple[int, dict[str, list[str]]]:
    """Exit code and check's lines by kind (ok, note, PROBLEM), each without its prefix."""
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    code = cli.main(["-c", str(path), "check"])
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith(("ok ", "note ", "PROBLEM ")) for line in out[:-1])  # one each
    assert out[-1].endswith("problem(s)")
    lines: dict[str, list[str]] = {"ok": [], "note": [], "PROBLEM": []}
    for line in out[:-1]:
        kind, text = line.split(maxsplit=1)
        lines[kind].append(text)
    return code, lines


@pytest.fixture
def check_shop_web(cao_db, phoenix_db, namespace, tmp_path, capsys
                   ) -> Callable[..., tuple[int, dict[str, list[str]]]]:
    """CAO as installed and shop "web" with one order; calling it runs ``check`` with the
    given ``orders`` settings (default ``ORDERS``) and returns ``_output``'s result."""
    erp(cao_db)
    add_order(phoenix_db)

    def run(orders: dict[str, Any] = ORDERS) -> tuple[int, dict[str, list[str]]]:
        return _output(tmp_path, config_data(
            namespace, cao_db, [shop_entry("web", phoenix_db, orders=orders)]), capsys)
    return run


def _run(tmp_path, data, capsys) -> tuple[int, list[str], list[str]]:
    code, lines = _output(tmp_path, data, capsys)
    return code, lines["PROBLEM"], lines["ok"]


def test_a_consistent_setup_with_orders_has_no_problem(cao_db, phoenix_db, namespace, tmp_path,
                                                       capsys):
    erp(cao_db)
    add_order(phoenix_db)
    add_order(phoenix_db, delivery=AT)           # AT is a CAO LAND.ID: needs no mapping
    add_order(phoenix_db, shipping=None)         # no shipping line: nothing to map

    code, problems, ok = _run(tmp_path, config_data(
        namespace, cao_db, [shop_entry("web", phoenix_db, orders=ORDERS)]), capsys)

    assert (code, problems) == (cli.EXIT_OK, [])
    assert "shop web: order import ready (3 recent order(s) checked)" in ok


def test_a_shop_without_orders_or_order_settings_is_not_checked_for_the_import(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    fill_cao(cao_db, sample.articles(3), [])     # no number ranges: not needed yet

    code, problems, ok = _run(tmp_path, config_data(
        namespace, cao_db, [shop_entry("web", phoenix_db)]), capsys)

    assert (code, problems) == (cli.EXIT_OK, [])
    assert ("shop web: no orders from orders_id 1 on and no [orders] settings: order import "
            "not checked") in ok


def test_each_order_import_problem_is_one_clear_line(cao_db, phoenix_db, namespace, tmp_path,
                                                     capsys):
    erp(cao_db, numbers=[("MAIN\\NUMBERS", "EDI", 10, "RE-000000", 1001),
                         ("MAIN\\NUMBERS", "KUNNUM", 99, "00000", 50001),
                         ("MAIN\\NUMBERS", "KUNNUM_ALT", 99, "00000", 70001)])
    cao_db.execute("DROP TABLE adressen_lief")
    add_order(phoenix_db, payment="Altes Verfahren", shipping="Sonderweg:")  # < first_order_id
    first = add_order(phoenix_db, payment="PayPal")
    add_order(phoenix_db, payment="PayPal", shipping="Express :", billing=FR)
    add_order(phoenix_db, delivery=999)
    orders = {"document": "order", "shipping_tax_code": 5, "first_order_id": first,
              "payment_methods": {"Cash on Delivery": 3, "Rechnung": 7},
              "shipping_methods": {"Flat Rate (Best Way)": 2},
              "countries": {"DE": "D", "CH": "CH"}}
    entry = shop_entry("web", phoenix_db, filter={}, orders=orders)

    code, lines = _output(tmp_path, config_data(namespace, cao_db, [entry]), capsys)
    problems = lines["PROBLEM"]

    assert code == cli.EXIT_PROBLEMS
    # One order's country the shop cannot name is that order's data: a note (check.py).
    assert [n for n in lines["note"]
            if "erp-indexes" not in n and "change signal" not in n] == [
        "shop web: country 'Atlantis' (1 order) is not in the shop's countries table: it has "
        "no ISO code to map, such orders are dead-lettered naming it"]
    assert sorted(problems) == sorted([
        "shop web: no filter.cao_shop_id: CAO tags each imported order with it "
        "(JOURNAL.SHOP_ID), so no order can be imported",
        "shop web: CAO table ADRESSEN_LIEF missing: the order import needs it",
        "shop web: CAO has no number range 8 for order documents (QUELLE 8) "
        "(REGISTRY MAINKEY 'MAIN\\NUMBERS' with VAL_INT 8)",
        "shop web: CAO has 2 number ranges 99 for customer numbers (ADRESSEN.KUNNUM1) "
        "(REGISTRY MAINKEY 'MAIN\\NUMBERS' with VAL_INT 99): the import needs exactly one",
        "shop web: CAO has no number range 31 for debtor numbers (ADRESSEN.DEB_NUM) "
        "(REGISTRY MAINKEY 'MAIN\\NUMBERS' with VAL_INT 31)",
        "shop web: payment method 'PayPal' (2 orders) has no entry in orders.payment_methods",
        "shop web: shipping method 'Express' (1 order) has no entry in orders.shipping_methods",
        "shop web: country FR (1 order) is neither in orders.countries nor a CAO LAND.ID",
        "shop web: orders.payment_methods maps 'Rechnung' to 7, which is not a CAO payment "
        "method (ZAHLUNGSARTEN.REC_ID)",
        "shop web: orders.countries maps CH to 'CH', which is not a CAO country (LAND.ID)",
        "shop web: orders.shipping_tax_code 5 has no rate in CAO REGISTRY MAIN\\MWST: the "
        "shipping and fees of orders without VAT rows would be refused (dead-lettered)",
    ])


def test_a_shop_with_an_orders_table_is_checked_for_what_cao_needs_before_its_first_order(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    fill_cao(cao_db, sample.articles(3), [])     # no number ranges yet
    cao_db.execute("DROP TABLE journal")
    cao_db.execute("ALTER TABLE journalpos DROP COLUMN VIEW_POS")
    entry = shop_entry("web", phoenix_db, orders={"document": "invoice_draft"})  # defaults

    code, problems, _ = _run(tmp_path, config_data(namespace, cao_db, [entry]), capsys)

    assert code == cli.EXIT_PROBLEMS
    assert "shop web: CAO table JOURNAL missing: the order import needs it" in problems
    assert ("shop web: CAO column JOURNALPOS.VIEW_POS missing: the order import writes or "
            "reads it") in problems
    assert any("CAO has no number range 10 for invoice_draft documents" in p for p in problems)


def test_only_the_most_recent_orders_are_read(cao_db, phoenix_db, namespace, tmp_path, capsys,
                                              monkeypatch):
    monkeypatch.setattr(check, "ORDER_SAMPLE", 2)
    erp(cao_db)
    add_order(phoenix_db, payment="Altes Verfahren")      # third most recent: not read
    add_order(phoenix_db)
    add_order(phoenix_db)

    code, problems, ok = _run(tmp_path, config_data(
        namespace, cao_db, [shop_entry("web", phoenix_db, orders=ORDERS)]), capsys)

    assert (code, problems) == (cli.EXIT_OK, [])
    assert "shop web: order import ready (2 recent order(s) checked)" in ok


def test_an_unreadable_orders_table_is_a_problem_not_a_crash(cao_db, phoenix_db, namespace,
                                                             tmp_path, capsys):
    erp(cao_db)
    phoenix_db.execute("ALTER TABLE orders DROP COLUMN payment_method")

    code, problems, _ = _run(tmp_path, config_data(
        namespace, cao_db, [shop_entry("web", phoenix_db, orders=ORDERS)]), capsys)

    assert code == cli.EXIT_PROBLEMS
    # The table facts name the column; the order sample's query fails on it without a crash.
    missing, failed = problems
    assert missing == "shop web: column orders.payment_method missing"
    assert failed.startswith("shop web: order import: ")
    assert "MySQL error 1054 in table orders" in failed
    assert "Unknown column 'payment_method'" in failed


def test_an_imported_status_the_shop_does_not_have_is_a_problem(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    from shopbridge import cli
    from tests.conftest import config_data, shop_entry
    from tests.helpers import to_toml

    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db,
                                                      orders={"imported_status": 42})])
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    assert cli.main(["-c", str(path), "check"]) == cli.EXIT_PROBLEMS
    assert "shop web: orders.imported_status 42 is not an order status of the shop (it has " \
           "1, 2, 3)" in capsys.readouterr().out


# -- issue 8: the shop's shipping modules against orders.shipping_tax_code -----------------

def _shipping_notes(lines: dict[str, list[str]]) -> list[str]:
    return [n for n in lines["note"] if "shipping module" in n]


def test_an_untaxed_flat_rate_against_a_19_percent_shipping_code_is_a_note(check_shop_web):
    """Phoenix installs flat.php with TAX_CLASS 0; CAO's code 2 is 19 %. The importer takes
    the order's own tax, so this breaks nothing: a note, not a problem."""
    code, lines = check_shop_web()

    assert (code, lines["PROBLEM"]) == (cli.EXIT_OK, [])
    assert _shipping_notes(lines) == [
        "shop web: shipping module flat charges no tax (tax class 0), but "
        "orders.shipping_tax_code 2 is 19 % in CAO: orders whose tax rows are missing would "
        "book its shipping at 19 %"]


@pytest.mark.parametrize(("tax_class", "shipping_tax_code", "rate"), [
    ("1", 2, "19"),     # tax_classes maps CAO code 2 to Phoenix class 1
    ("0", 3, "0"),      # untaxed and a 0 % code
], ids=["taxed-19", "untaxed-0"])
def test_a_shipping_module_that_agrees_gives_no_line(check_shop_web, phoenix_db, tax_class,
                                                     shipping_tax_code, rate):
    shipping_module(phoenix_db, "flat", tax_class=tax_class)

    code, lines = check_shop_web({**ORDERS, "shipping_tax_code": shipping_tax_code})

    assert (code, lines["PROBLEM"], _shipping_notes(lines)) == (cli.EXIT_OK, [], [])
    assert (f"shop web: shipping tax: module(s) flat agree with orders.shipping_tax_code "
            f"{shipping_tax_code} ({rate} %)") in lines["ok"]


def test_each_offered_shipping_module_is_compared_on_its_own(check_shop_web, phoenix_db):
    shipping_module(phoenix_db, "flat", tax_class="1")        # 19 %: agrees
    shipping_module(phoenix_db, "item", tax_class="2")        # Ermäßigt 7 %
    shipping_module(phoenix_db, "table", tax_class=None)      # no TAX_CLASS row: untaxed
    shipping_module(phoenix_db, "zones", status="False")      # not offered at checkout

    code, lines = check_shop_web()

    assert (code, lines["PROBLEM"]) == (cli.EXIT_OK, [])
    assert _shipping_notes(lines) == [
        "shop web: shipping module item charges tax class 2 (Ermäßigt 7 %), but "
        "orders.shipping_tax_code 2 is 19 % in CAO, which tax_classes maps to class 1: orders "
        "whose tax rows are missing would book its shipping at 19 %",
        "shop web: shipping module table charges no tax (MODULE_SHIPPING_TABLE_TAX_CLASS not "
        "set), but orders.shipping_tax_code 2 is 19 % in CAO: orders whose tax rows are "
        "missing would book its shipping at 19 %"]
    assert ("shop web: shipping tax: module(s) flat agree with orders.shipping_tax_code 2 "
            "(19 %); module(s) zones not offered (STATUS not 'True'), not compared"
            ) in lines["ok"]
