"""The dry run's row diff (shopbridge/rowdiff.py) without a database: keys, actions, money."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shopbridge.rowdiff import DryRunReport, TableShape, diff_table, plain

SHAPE = TableShape("products", ("id", "price", "name"), ("id",))


def test_inserts_updates_and_deletes_by_primary_key_with_the_changed_columns_only():
    before = {(1,): {"id": 1, "price": Decimal("1.00"), "name": "a"},
              (2,): {"id": 2, "price": Decimal("2"), "name": None}}
    after = {(1,): {"id": 1, "price": Decimal("1.50"), "name": "a"},
             (3,): {"id": 3, "price": Decimal("3.0"), "name": "c"}}
    changes = diff_table(SHAPE, before, after)
    assert [(c.action, dict(c.key), c.columns) for c in changes] == [
        ("update", {"id": 1}, ("price",)), ("delete", {"id": 2}, ()), ("insert", {"id": 3}, ())]
    report = DryRunReport(changes=changes, events=2, applied=2)
    assert report.as_dict("acme/web")["changes"][0]["changes"] == {"price": ["1.00", "1.50"]}
    lines = report.text("acme/web")
    assert lines[:2] == ["UPDATE products [id=1]", "         price: '1.00' -> '1.50'"]
    assert lines[-1] == ("dry run of acme/web: 2 event(s) would change 1 row(s) inserted, "
                         "1 updated, 1 deleted in 1 table(s); 2 applied, 0 skipped, "
                         "0 failing; nothing written")


def test_equal_values_of_another_scale_are_no_change_and_values_stay_exact_in_json():
    row = {"id": 1, "price": Decimal("1.0"), "name": "a"}
    assert diff_table(SHAPE, {(1,): row}, {(1,): {**row, "price": Decimal("1.00")}}) == []
    assert plain(Decimal("0.10")) == "0.10"
    assert plain(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    assert plain(b"\xff\x00") == "0xff00" and plain("ä".encode()) == "ä"
