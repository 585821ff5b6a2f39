"""``shopbridge demo``'s VirtueMart shop: the rows a VirtueMart 4.4 shop holds before anything
is synced, as the few the consumer and the storefront need, and the summary's counts.

A real shop gets them from VirtueMart's install data and from saving its configuration once
(tests/virtuemart_db.py loads that upstream SQL); the demo runs on a clone without it, so
these are the minimal rows, ids as upstream: the configuration row naming the active
languages, vendor 1 selling in EUR (currency 47), the guest and default shopper groups,
two VAT rules for the demo's ``tax_classes``, VirtueMart's default order states (the status
writer and ``check`` look codes up there), and Joomla's Public and Registered user groups
(synced customers join Registered).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import sqlalchemy as sa

from shopbridge.config import ShopConfig

from .params import format_params
from .shop import Tables
from .tables import DEMO_PREFIX

LANGUAGES = ("de-DE", "en-GB")          # the language tables of the demo schema (kind.py)
OPTIONS: Mapping[str, object] = {"prefix": DEMO_PREFIX}
CONFIG: Mapping[str, object] = {
    "active_languages": list(LANGUAGES), "vmDefLang": "", "optimisedProductSql": 1,
    "stockhandle": "none",
    # No Joomla cache folder in the demo: VirtueMart's own caches off, so changes show at once.
    "UseCachegetChildCategoryList": 0,
}
EUR = 47                                 # virtuemart_currency_id of EUR upstream
# (id, name, description, default): 1 = guests (default 2), 2 = registered (default 1).
SHOPPER_GROUPS = ((1, "COM_VIRTUEMART_SHOPPERGROUP_GUEST",
                   "COM_VIRTUEMART_SHOPPERGROUP_GUEST_TIP", 2),
                  (2, "COM_VIRTUEMART_SHOPPERGROUP_DEFAULT",
                   "COM_VIRTUEMART_SHOPPERGROUP_DEFAULT_TIP", 1))
# Joomla's base.sql user groups a customer account needs: (id, parent, lft, rgt, title).
USER_GROUPS = ((1, 0, 1, 4, "Public"), (2, 1, 2, 3, "Registered"))
# The demo maps CAO tax code 1 (7 %) to rule 2 and code 2 (19 %) to rule 1 (tax_classes).
VAT_RULES = ((1, "MwSt 19 %", 19), (2, "MwSt 7 %", 7))
# VirtueMart's default order states (install_essential_data.sql): code, name, stock handle.
ORDER_STATES = (("P", "PENDING", "R"), ("U", "CONFIRMED_BY_SHOPPER", "R"),
                ("C", "CONFIRMED", "R"), ("X", "CANCELLED", "A"), ("R", "REFUNDED", "A"),
                ("S", "SHIPPED", "O"), ("F", "COMPLETED", "R"), ("D", "DENIED", "A"))

# What the summary counts, per table base (Tables) and condition (trusted, fixed SQL).
COUNTS = (("products", "products", ""), ("visible", "products", "WHERE published = 1"),
          ("categories", "categories", ""), ("links", "product_categories", ""),
          ("manufacturers", "manufacturers", ""), ("prices", "product_prices", ""))


def seed(conn: sa.Connection, shop: ShopConfig, prefix: str) -> None:
    """``ShopSink.demo_seed`` (``shop.languages`` are those of ``LANGUAGES``)."""
    t = Tables(prefix)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    conn.exec_driver_sql(f"INSERT INTO {t.configs} (virtuemart_config_id, config, created_on) "
                         "VALUES (1, %s, %s)", (format_params(CONFIG), now))
    conn.exec_driver_sql(
        f"INSERT INTO {t.currencies} (virtuemart_currency_id, currency_name, currency_code_3, "
        "currency_numeric_code, currency_exchange_rate, currency_symbol, "
        "currency_decimal_place, currency_decimal_symbol, currency_thousands, "
        "currency_positive_style, currency_negative_style, created_on) VALUES "
        "(%s, 'Euro', 'EUR', 978, 0, '€', '2', ',', '', '{number} {symbol}', "
        "'{sign}{number} {symbol}', %s)", (EUR, now))
    conn.exec_driver_sql(
        f"INSERT INTO {t.vendors} (virtuemart_vendor_id, vendor_name, vendor_currency, "
        "vendor_accepted_currencies, created_on) VALUES (1, %s, %s, %s, %s)",
        (f"Demo ({shop.name})", EUR, str(EUR), now))
    conn.exec_driver_sql(
        f"INSERT INTO {t.shoppergroups} (virtuemart_shoppergroup_id, virtuemart_vendor_id, "
        "shopper_group_name, shopper_group_desc, `default`, shared, published, created_on) "
        "VALUES (%s, 1, %s, %s, %s, 1, 1, %s)",
        [(*group, now) for group in SHOPPER_GROUPS])
    conn.exec_driver_sql(
        f"INSERT INTO {t.calcs} (virtuemart_calc_id, calc_name, calc_kind, calc_value_mathop, "
        "calc_value, calc_currency, calc_shopper_published, calc_vendor_published, "
        "published, created_on) VALUES (%s, %s, 'VatTax', '+%%', %s, %s, 1, 1, 1, %s)",
        [(rule, name, rate, EUR, now) for rule, name, rate in VAT_RULES])
    conn.exec_driver_sql(
        f"INSERT INTO {t.orderstates} (virtuemart_orderstate_id, order_status_code, "
        "order_status_name, order_status_description, order_stock_handle, ordering, "
        "virtuemart_vendor_id) VALUES (%s, %s, %s, '', %s, %s, 1)",
        [(n, code, f"COM_VIRTUEMART_ORDER_STATUS_{name}", handle, n)
         for n, (code, name, handle) in enumerate(ORDER_STATES, start=1)])
    conn.exec_driver_sql(f"INSERT INTO {t.core('usergroups')} (id, parent_id, lft, rgt, title) "
                         "VALUES (%s, %s, %s, %s, %s)", list(USER_GROUPS))


def counts(conn: sa.Connection, prefix: str) -> dict[str, int]:
    """``ShopSink.demo_counts``."""
    t = Tables(prefix)
    return {what: int(conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM {getattr(t, base)} {where}").scalar() or 0)
        for what, base, where in COUNTS}
