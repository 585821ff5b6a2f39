"""``shopbridge check`` for the order import (O5): what CAO needs and the shop's orders use."""

from __future__ import annotations

from typing import Any

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


def _run(tmp_path, data, capsys) -> tuple[int, list[str], list[str]]:
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))
    code = cli.main(["-c", str(path), "check"])
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith(("ok ", "PROBLEM ")) for line in out[:-1])   # one line each
    assert out[-1].endswith("problem(s)")
    return (code, [line.removeprefix("PROBLEM  ") for line in out if line.startswith("PROBLEM")],
            [line.removeprefix("ok       ") for line in out if line.startswith("ok")])


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

    code, problems, _ = _run(tmp_path, config_data(namespace, cao_db, [entry]), capsys)

    assert code == cli.EXIT_PROBLEMS
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
        "shop web: country 'Atlantis' (1 order) is not in the shop's countries table: it has "
        "no ISO code to map",
        "shop web: orders.payment_methods maps 'Rechnung' to 7, which is not a CAO payment "
        "method (ZAHLUNGSARTEN.REC_ID)",
        "shop web: orders.countries maps CH to 'CH', which is not a CAO country (LAND.ID)",
        "shop web: warning: orders.shipping_tax_code 5 has no rate in CAO REGISTRY "
        "MAIN\\MWST: shipping and fees would be booked at 0 % VAT",
    ])


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
    assert failed.startswith("shop web: order import: OperationalError: (1054, ")
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
