"""``shopbridge drift``'s pure parts: numbers as text on both sides, the table, and which
Phoenix special should be on at a moment (the scheduler's rule)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from consumers.drift import number
from consumers.oscommerce.drift import PhoenixDriftFields
from consumers.oscommerce.mapper import Description, ProductRow
from shopbridge.drift import Difference, DriftReport, table


def test_a_column_and_a_payload_decimal_read_alike():
    assert number(Decimal("12.5000")) == number("12.50") == "12.5"
    assert number(Decimal("0.0000")) == number("-0") == "0"
    assert number(Decimal("100")) == "100"          # not 1E+2
    assert number(None) == "-"


def test_the_table_aligns_its_columns_and_cuts_long_values():
    rows = list(table([Difference("product", "12", "SKU A-1", "price", "9.99", "10.99"),
                       Difference("product", "3", "SKU B-22", "name[de]", "x" * 100, "y")]))
    assert rows[0].split() == ["ENTITY", "FIELD", "ERP", "SAYS", "SHOP", "HAS"]
    assert rows[1].index("price") == rows[2].index("name[de]")
    assert "x" * 57 + "..." in rows[2] and "x" * 58 not in rows[2]


def test_the_report_counts_every_difference_and_keeps_a_bounded_list():
    report = DriftReport()
    report.add([Difference("product", str(k), "", "stock", "1", "2") for k in range(500)])
    assert (report.total, len(report.keys), report.by_field["stock"]) == (500, 500, 500)
    assert len(report.differences) == 200


def _row(specials: Any) -> ProductRow:
    return ProductRow(model="A-1", price=Decimal("10"), tax_class_id=1, weight=Decimal("1"),
                      status=1, gtin=None, descriptions=(Description(2, "n", None, None, None,
                                                                     None),),
                      specials=specials)


def test_the_special_on_now_is_the_latest_started_window_as_the_scheduler_keeps_it():
    fields = PhoenixDriftFields.__new__(PhoenixDriftFields)
    fields.now = datetime(2026, 12, 7, 12, 0)
    windows = ((Decimal("8"), "2026-12-01", "2026-12-31"), (Decimal("7.5"), "2026-12-05", None),
               (Decimal("6"), "2026-12-08", "2026-12-09"))
    assert fields._special_now(_row(windows)) == "7.5"
    assert fields._special_now(_row(windows[:1])) == "8 until 2027-01-01 00:00"
    assert fields._special_now(_row(windows[2:])) == "-"
