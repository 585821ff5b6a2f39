"""``shopbridge demo``'s CE Phoenix shops: what a fresh shop holds before the first sync
(languages, tax classes, currency, order statuses, countries), and the summary's counts.

The rows come from ``shopbridge.sample``, which the tests and benchmarks use for their
Phoenix databases too; the upstream install SQL would fill them itself.
"""

from __future__ import annotations

import sqlalchemy as sa

from shopbridge import sample
from shopbridge.config import ShopConfig

# Phoenix language ids in CAO's order (1 = English, 2 = German), for the shop's own only.
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

# What the summary counts (trusted, fixed SQL).
COUNTS = {
    "products": "SELECT COUNT(*) FROM products",
    "visible": "SELECT COUNT(*) FROM products WHERE products_status = 1",
    "categories": "SELECT COUNT(*) FROM categories",
    "links": "SELECT COUNT(*) FROM products_to_categories",
    "manufacturers": "SELECT COUNT(*) FROM manufacturers",
    "specials": "SELECT COUNT(*) FROM specials WHERE status = 1",
}


def languages(codes: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """(languages_id, name, code) of ``codes``: ids numbered in LANGUAGE_NAMES' order, the
    codes it does not know after them."""
    order = [code for code in LANGUAGE_NAMES if code in codes]
    order += [code for code in codes if code not in LANGUAGE_NAMES]
    return [(i, LANGUAGE_NAMES.get(code, code.upper()), code)
            for i, code in enumerate(order, start=1)]


def seed(conn: sa.Connection, shop: ShopConfig) -> None:
    """``ShopSink.demo_seed``: tax class 1 = 19 %, 2 = 7 %; EUR; statuses and countries."""
    rows = languages(tuple(shop.languages))
    sample.phoenix_reference_data(conn, languages=rows)
    sample.phoenix_order_reference_data(conn, rows)


def counts(conn: sa.Connection) -> dict[str, int]:
    """``ShopSink.demo_counts``."""
    return {what: int(conn.exec_driver_sql(sql).scalar() or 0) for what, sql in COUNTS.items()}
