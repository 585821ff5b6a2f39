"""The VirtueMart order tables the status writer (statuses.py) reads and writes (O4).

Declared apart from tables.py's catalogue tables, under the same template, so that
``tables.metadata``, ``shop.Tables`` and the comparison with the upstream DDL
(tests/integration/test_virtuemart_tables.py) know them too. Columns as install.sql and
install_essential_data.sql (``order_userinfos``) declare them. Generated from the DDL, so
one column per line as upstream has it.
"""

# ruff: noqa: E501

from __future__ import annotations

from sqlalchemy import CHAR, Column, DateTime, Index, String, Table
from sqlalchemy.dialects.mysql import DECIMAL, MEDIUMTEXT, SMALLINT, TINYINT

from .tables import _flag, _id, _int, _opts, _template

Table(
    "virtuemart_orders", _template,
    _id("virtuemart_order_id", primary_key=True, autoincrement=True),
    _id("virtuemart_user_id", nullable=False, server_default="0"),
    _id("virtuemart_vendor_id", nullable=False, server_default="0"),
    Column("order_note", String(7000)),
    Column("order_number", String(64)),
    Column("customer_number", String(32)),
    Column("order_pass", String(34)),
    Column("order_create_invoice_pass", String(32)),
    _flag("invoice_locked", nullable=False, server_default="0"),
    Column("order_total", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("order_salesPrice", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("order_billTaxAmount", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("order_billTax", String(1000)),
    Column("order_billDiscountAmount", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("order_discountAmount", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("order_subtotal", DECIMAL(15, 5)),
    Column("order_tax", DECIMAL(12, 5)),
    Column("order_shipment", DECIMAL(12, 5)),
    Column("order_shipment_tax", DECIMAL(10, 5)),
    Column("order_payment", DECIMAL(12, 2)),
    Column("order_payment_tax", DECIMAL(10, 5)),
    Column("coupon_discount", DECIMAL(12, 2), nullable=False, server_default="0.00"),
    Column("coupon_code", String(248)),
    Column("order_discount", DECIMAL(12, 2), nullable=False, server_default="0.00"),
    Column("order_currency", SMALLINT(display_width=1)),
    Column("order_status", CHAR(3)),
    Column("user_currency_id", SMALLINT(display_width=1)),
    Column("user_currency_rate", DECIMAL(12, 6), nullable=False, server_default="1.000000"),
    Column("user_shoppergroups", String(30)),
    Column("payment_currency_id", SMALLINT(display_width=1)),
    Column("payment_currency_rate", DECIMAL(12, 6), nullable=False, server_default="1.000000"),
    _id("virtuemart_paymentmethod_id"),
    _id("virtuemart_shipmentmethod_id"),
    Column("delivery_date", String(200)),
    Column("order_language", String(7)),
    Column("ip_address", CHAR(45), nullable=False, server_default=""),
    _flag("STsameAsBT", nullable=False, server_default="0"),
    Column("paid", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("paid_on", DateTime),
    Column("o_hash", String(33)),
    Column("created_on", DateTime),
    _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    _int("modified_by", nullable=False, server_default="0"),
    Column("locked_on", DateTime),
    _int("locked_by", nullable=False, server_default="0"),
    Index("virtuemart_user_id", "virtuemart_user_id"),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("order_number", "order_number"),
    Index("virtuemart_paymentmethod_id", "virtuemart_paymentmethod_id"),
    Index("virtuemart_shipmentmethod_id", "virtuemart_shipmentmethod_id"),
    Index("order_status", "order_status"),
    Index("created_on", "created_on"),
    **_opts,
)


Table(
    "virtuemart_order_items", _template,
    _id("virtuemart_order_item_id", primary_key=True, autoincrement=True),
    _id("virtuemart_order_id"),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    _int("virtuemart_product_id"),
    Column("order_item_sku", String(255), nullable=False, server_default=""),
    Column("order_item_name", String(4096), nullable=False, server_default=""),
    _int("product_quantity"),
    Column("product_item_price", DECIMAL(15, 5)),
    Column("product_priceWithoutTax", DECIMAL(15, 5)),
    Column("product_tax", DECIMAL(15, 5)),
    Column("product_basePriceWithTax", DECIMAL(15, 5)),
    Column("product_discountedPriceWithoutTax", DECIMAL(15, 5)),
    Column("product_final_price", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("product_subtotal_discount", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("product_subtotal_with_tax", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    _int("order_item_currency"),
    Column("order_status", CHAR(3)),
    Column("product_attribute", MEDIUMTEXT),
    Column("delivery_date", String(200)),
    Column("paid", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("oi_hash", String(33)),
    Column("created_on", DateTime),
    _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    _int("modified_by", nullable=False, server_default="0"),
    Index("virtuemart_product_id", "virtuemart_product_id"),
    Index("virtuemart_order_id", "virtuemart_order_id"),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("order_status", "order_status"),
    **_opts,
)


Table(
    "virtuemart_order_histories", _template,
    _id("virtuemart_order_history_id", primary_key=True, autoincrement=True),
    _id("virtuemart_order_id", nullable=False, server_default="0"),
    Column("order_status_code", CHAR(3), nullable=False, server_default="0"),
    _flag("customer_notified", nullable=False, server_default="0"),
    Column("comments", String(15359)),
    Column("paid", DECIMAL(15, 5), nullable=False, server_default="0.00000"),
    Column("o_hash", String(33)),
    Column("created_on", DateTime),
    _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    _int("modified_by", nullable=False, server_default="0"),
    Index("virtuemart_order_id", "virtuemart_order_id"),
    **_opts,
)


Table(
    "virtuemart_orderstates", _template,
    Column("virtuemart_orderstate_id", TINYINT(display_width=1, unsigned=True), primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    Column("order_status_code", CHAR(3), nullable=False, server_default=""),
    Column("order_status_name", String(64)),
    Column("order_status_color", String(64)),
    Column("order_status_description", String(12359)),
    Column("order_stock_handle", CHAR(1), nullable=False, server_default="A"),
    Column("order_status_email_layout", String(128), nullable=False, server_default=""),
    _int("ordering", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    Column("created_on", DateTime),
    _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    _int("modified_by", nullable=False, server_default="0"),
    Column("locked_on", DateTime),
    _int("locked_by", nullable=False, server_default="0"),
    Index("order_status_code", "order_status_code", unique=True),
    Index("ordering", "ordering"),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("published", "published"),
    **_opts,
)


Table(
    "virtuemart_order_userinfos", _template,
    _id("virtuemart_order_userinfo_id", primary_key=True, autoincrement=True),
    _id("virtuemart_order_id", nullable=False, server_default="0"),
    _id("virtuemart_user_id", nullable=False, server_default="0"),
    Column("address_type", CHAR(2)),
    Column("address_type_name", String(32)),
    Column("company", String(64)),
    Column("title", String(32)),
    Column("last_name", String(96)),
    Column("first_name", String(96)),
    Column("middle_name", String(96)),
    Column("phone_1", String(32)),
    Column("phone_2", String(32)),
    Column("fax", String(32)),
    Column("address_1", String(96), nullable=False, server_default=""),
    Column("address_2", String(64)),
    Column("city", String(96), nullable=False, server_default=""),
    Column("virtuemart_state_id", SMALLINT(display_width=1, unsigned=True), nullable=False, server_default="0"),
    Column("virtuemart_country_id", SMALLINT(display_width=1, unsigned=True), nullable=False, server_default="0"),
    Column("zip", String(32), nullable=False, server_default=""),
    Column("email", String(128)),
    _flag("agreed", nullable=False, server_default="0"),
    _flag("tos", nullable=False, server_default="0"),
    Column("customer_note", String(5000), nullable=False, server_default=""),
    Column("created_on", DateTime),
    _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    _int("modified_by", nullable=False, server_default="0"),
    Index("virtuemart_order_id", "virtuemart_order_id"),
    Index("virtuemart_user_id", "virtuemart_user_id", "address_type"),
    Index("address_type", "address_type"),
    **_opts,
)

# What the status writer writes (``tables.WRITES`` takes them in): the status of the order
# and its items, a history row (``customer_notified`` once the mail went out); the stock
# columns of ``virtuemart_products`` are among the catalogue's UPDATE already.
WRITES: dict[str, tuple[str, ...]] = {
    "virtuemart_orders": ("UPDATE",),
    "virtuemart_order_items": ("UPDATE",),
    "virtuemart_order_histories": ("INSERT", "UPDATE"),
}
