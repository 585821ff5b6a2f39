"""Facts about the CE Phoenix Cart 1.1.0.6 tables shopbridge reads and writes.

Every column of each table, with its type, nullability, default, primary key and indexes, as
the upstream install SQL declares them; tests load the upstream phoenix.sql and check every
table here against it. ``shopbridge demo`` creates its shop databases from these definitions,
because a user's clone has no upstream SQL, and ``shopbridge check`` reports a table or column
listed here that a shop lacks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CHAR,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import FLOAT, INTEGER, TINYINT

metadata = MetaData()
# Dialect keywords, which Table takes as **kw: Any; typed so that mypy accepts **_opts.
_opts: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci",
         "mysql_engine": "InnoDB"}

# -- Catalogue: written by the product, category, manufacturer and special consumers (C1-C6).
products = Table(
    "products", metadata,
    Column("products_id", Integer, primary_key=True, autoincrement=True),
    Column("products_quantity", INTEGER(4), nullable=False),
    Column("products_model", String(255)),
    Column("products_image", String(255)),
    Column("products_price", Numeric(15, 4), nullable=False),
    Column("products_date_added", DateTime, nullable=False),
    Column("products_last_modified", DateTime),
    Column("products_date_available", DateTime),
    Column("products_weight", Numeric(5, 2), nullable=False),
    Column("products_status", TINYINT(1), nullable=False),
    Column("products_tax_class_id", Integer, nullable=False),
    Column("manufacturers_id", Integer),
    Column("products_ordered", Integer, nullable=False, server_default="0"),
    Column("products_gtin", CHAR(14)),
    Column("importers_id", Integer),
    Index("idx_products_date_added", "products_date_added"),
    Index("idx_products_model", "products_model"),
    **_opts,
)

products_description = Table(
    "products_description", metadata,
    Column("products_id", Integer, primary_key=True, autoincrement=True),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("products_name", String(255), nullable=False, server_default=""),
    Column("products_description", Text),
    Column("products_url", String(255)),
    Column("products_seo_description", Text),
    Column("products_seo_keywords", String(255)),
    Column("products_seo_title", String(255)),
    Index("products_name", "products_name"),
    **_opts,
)

products_to_categories = Table(
    "products_to_categories", metadata,
    Column("products_id", Integer, primary_key=True, autoincrement=False),
    Column("categories_id", Integer, primary_key=True, autoincrement=False),
    **_opts,
)

categories = Table(
    "categories", metadata,
    Column("categories_id", Integer, primary_key=True, autoincrement=True),
    Column("categories_image", String(255)),
    Column("parent_id", Integer, nullable=False, server_default="0"),
    Column("sort_order", INTEGER(3)),
    Column("date_added", DateTime),
    Column("last_modified", DateTime),
    Index("idx_categories_parent_id", "parent_id"),
    **_opts,
)

categories_description = Table(
    "categories_description", metadata,
    Column("categories_id", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("categories_name", String(255), nullable=False),
    Column("categories_description", Text),
    Column("categories_seo_description", Text),
    Column("categories_seo_title", String(255)),
    Index("idx_categories_name", "categories_name"),
    **_opts,
)

manufacturers = Table(
    "manufacturers", metadata,
    Column("manufacturers_id", Integer, primary_key=True, autoincrement=True),
    Column("manufacturers_name", String(255), nullable=False),
    Column("manufacturers_image", String(255)),
    Column("manufacturers_address", Text),
    Column("manufacturers_email", String(255)),
    Column("date_added", DateTime),
    Column("last_modified", DateTime),
    Index("IDX_MANUFACTURERS_NAME", "manufacturers_name"),
    **_opts,
)

manufacturers_info = Table(
    "manufacturers_info", metadata,
    Column("manufacturers_id", Integer, primary_key=True, autoincrement=False),
    Column("languages_id", Integer, primary_key=True, autoincrement=False),
    Column("manufacturers_url", String(255), nullable=False),
    Column("url_clicked", INTEGER(5), nullable=False, server_default="0"),
    Column("date_last_click", DateTime),
    Column("manufacturers_description", Text),
    Column("manufacturers_seo_description", Text),
    Column("manufacturers_seo_title", String(255)),
    **_opts,
)

specials = Table(
    "specials", metadata,
    Column("specials_id", Integer, primary_key=True, autoincrement=True),
    Column("products_id", Integer, nullable=False),
    Column("specials_new_products_price", Numeric(15, 4), nullable=False),
    Column("specials_date_added", DateTime),
    Column("specials_last_modified", DateTime),
    Column("expires_date", DateTime),
    Column("date_status_change", DateTime),
    Column("status", INTEGER(1), nullable=False, server_default="1"),
    Index("idx_specials_products_id", "products_id"),
    **_opts,
)

# -- Images and options/attributes (C8, C9).
products_images = Table(
    "products_images", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("products_id", Integer, nullable=False),
    Column("image", String(255)),
    Column("htmlcontent", Text),
    Column("sort_order", Integer, nullable=False),
    Index("products_images_prodid", "products_id"),
    **_opts,
)

products_options = Table(
    "products_options", metadata,
    Column("products_options_id", Integer,
           primary_key=True, autoincrement=False, server_default="0"),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("products_options_name", String(255), nullable=False, server_default=""),
    Column("sort_order", INTEGER(3)),
    **_opts,
)

products_options_values = Table(
    "products_options_values", metadata,
    Column("products_options_values_id", Integer,
           primary_key=True, autoincrement=False, server_default="0"),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("products_options_values_name", String(255), nullable=False, server_default=""),
    Column("sort_order", INTEGER(3)),
    **_opts,
)

products_options_values_to_products_options = Table(
    "products_options_values_to_products_options", metadata,
    Column("products_options_values_to_products_options_id", Integer,
           primary_key=True, autoincrement=True),
    Column("products_options_id", Integer, nullable=False),
    Column("products_options_values_id", Integer, nullable=False),
    **_opts,
)

products_attributes = Table(
    "products_attributes", metadata,
    Column("products_attributes_id", Integer, primary_key=True, autoincrement=True),
    Column("products_id", Integer, nullable=False),
    Column("options_id", Integer, nullable=False),
    Column("options_values_id", Integer, nullable=False),
    Column("options_values_price", Numeric(15, 4), nullable=False),
    Column("price_prefix", CHAR(1), nullable=False),
    Index("idx_products_attributes_products_id", "products_id"),
    **_opts,
)

# -- Customers: written by the ERP-customer consumer (K1), read by the shop-customer producer
# (K3).
customers = Table(
    "customers", metadata,
    Column("customers_id", Integer, primary_key=True, autoincrement=True),
    Column("customers_gender", CHAR(1)),
    Column("customers_firstname", String(255), nullable=False),
    Column("customers_lastname", String(255), nullable=False),
    Column("customers_dob", Date),
    Column("customers_email_address", String(255), nullable=False),
    Column("customers_default_address_id", Integer),
    Column("customers_telephone", String(255), nullable=False),
    Column("customers_fax", String(255)),
    Column("customers_password", String(255), nullable=False),
    Column("customers_newsletter", CHAR(1)),
    Column("status", Integer, nullable=False, server_default="1"),
    Index("uq_customers_email_address", "customers_email_address", unique=True),
    **_opts,
)

customers_info = Table(
    "customers_info", metadata,
    Column("customers_info_id", Integer, primary_key=True, autoincrement=False),
    Column("customers_info_date_of_last_logon", DateTime),
    Column("customers_info_number_of_logons", INTEGER(5)),
    Column("customers_info_date_account_created", DateTime),
    Column("customers_info_date_account_last_modified", DateTime),
    Column("global_product_notifications", INTEGER(1), server_default="0"),
    Column("password_reset_key", CHAR(40)),
    Column("password_reset_date", DateTime),
    **_opts,
)

address_book = Table(
    "address_book", metadata,
    Column("address_book_id", Integer, primary_key=True, autoincrement=True),
    Column("customers_id", Integer, nullable=False),
    Column("entry_gender", CHAR(1)),
    Column("entry_company", String(255)),
    Column("entry_firstname", String(255), nullable=False),
    Column("entry_lastname", String(255), nullable=False),
    Column("entry_street_address", String(255), nullable=False),
    Column("entry_suburb", String(255)),
    Column("entry_postcode", String(255), nullable=False),
    Column("entry_city", String(255), nullable=False),
    Column("entry_state", String(255)),
    Column("entry_country_id", Integer, nullable=False, server_default="0"),
    Column("entry_zone_id", Integer, nullable=False, server_default="0"),
    Index("idx_address_book_customers_id", "customers_id"),
    **_opts,
)

# -- Orders: read by the order producer (O1); status and history written on import and by
# the status consumer (O2, O4).
orders = Table(
    "orders", metadata,
    Column("orders_id", Integer, primary_key=True, autoincrement=True),
    Column("customers_id", Integer, nullable=False),
    Column("customers_name", String(255), nullable=False),
    Column("customers_company", String(255)),
    Column("customers_street_address", String(255), nullable=False),
    Column("customers_suburb", String(255)),
    Column("customers_city", String(255), nullable=False),
    Column("customers_postcode", String(255), nullable=False),
    Column("customers_state", String(255)),
    Column("customers_country", String(255), nullable=False),
    Column("customers_country_id", Integer, nullable=False),
    Column("customers_telephone", String(255), nullable=False),
    Column("customers_email_address", String(255), nullable=False),
    Column("customers_address_format_id", INTEGER(5), nullable=False),
    Column("delivery_name", String(255), nullable=False),
    Column("delivery_company", String(255)),
    Column("delivery_street_address", String(255), nullable=False),
    Column("delivery_suburb", String(255)),
    Column("delivery_city", String(255), nullable=False),
    Column("delivery_postcode", String(255), nullable=False),
    Column("delivery_state", String(255)),
    Column("delivery_country", String(255), nullable=False),
    Column("delivery_country_id", Integer, nullable=False),
    Column("delivery_address_format_id", INTEGER(5), nullable=False),
    Column("billing_name", String(255), nullable=False),
    Column("billing_company", String(255)),
    Column("billing_street_address", String(255), nullable=False),
    Column("billing_suburb", String(255)),
    Column("billing_city", String(255), nullable=False),
    Column("billing_postcode", String(255), nullable=False),
    Column("billing_state", String(255)),
    Column("billing_country", String(255), nullable=False),
    Column("billing_country_id", Integer, nullable=False),
    Column("billing_address_format_id", INTEGER(5), nullable=False),
    Column("payment_method", String(255), nullable=False),
    Column("cc_type", String(20)),
    Column("cc_owner", String(255)),
    Column("cc_number", String(32)),
    Column("cc_expires", String(4)),
    Column("last_modified", DateTime),
    Column("date_purchased", DateTime),
    Column("orders_status", INTEGER(5), nullable=False),
    Column("orders_date_finished", DateTime),
    Column("currency", CHAR(3)),
    Column("currency_value", Numeric(14, 6)),
    Index("idx_orders_customers_id", "customers_id"),
    Index("idx_orders_orders_status", "orders_status"),
    **_opts,
)

orders_products = Table(
    "orders_products", metadata,
    Column("orders_products_id", Integer, primary_key=True, autoincrement=True),
    Column("orders_id", Integer, nullable=False),
    Column("products_id", Integer, nullable=False),
    Column("products_model", String(255)),
    Column("products_name", String(255), nullable=False),
    Column("products_price", Numeric(15, 4), nullable=False),
    Column("final_price", Numeric(15, 4), nullable=False),
    Column("products_tax", Numeric(7, 4), nullable=False),
    Column("products_quantity", INTEGER(2), nullable=False),
    Index("idx_orders_products_orders_id", "orders_id"),
    Index("idx_orders_products_products_id", "products_id"),
    **_opts,
)

orders_products_attributes = Table(
    "orders_products_attributes", metadata,
    Column("orders_products_attributes_id", Integer, primary_key=True, autoincrement=True),
    Column("orders_id", Integer, nullable=False),
    Column("orders_products_id", Integer, nullable=False),
    Column("products_options", String(255), nullable=False),
    Column("products_options_values", String(255), nullable=False),
    Column("options_values_price", Numeric(15, 4), nullable=False),
    Column("price_prefix", CHAR(1), nullable=False),
    Index("idx_orders_products_att_orders_id", "orders_id"),
    **_opts,
)

orders_total = Table(
    "orders_total", metadata,
    Column("orders_total_id", INTEGER(10, unsigned=True), primary_key=True, autoincrement=True),
    Column("orders_id", Integer, nullable=False),
    Column("title", String(255), nullable=False),
    Column("text", String(255), nullable=False),
    Column("value", Numeric(15, 4), nullable=False),
    Column("class", String(32), nullable=False),
    Column("sort_order", Integer, nullable=False),
    Index("idx_orders_total_orders_id", "orders_id"),
    Index("idx_orders_total_orders_id_class", "orders_id", "class"),
    **_opts,
)

orders_status = Table(
    "orders_status", metadata,
    Column("orders_status_id", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("orders_status_name", String(32), nullable=False),
    Column("public_flag", Integer, server_default="1"),
    Column("downloads_flag", Integer, server_default="0"),
    Index("idx_orders_status_name", "orders_status_name"),
    **_opts,
)

orders_status_history = Table(
    "orders_status_history", metadata,
    Column("orders_status_history_id", Integer, primary_key=True, autoincrement=True),
    Column("orders_id", Integer, nullable=False),
    Column("orders_status_id", INTEGER(5), nullable=False),
    Column("date_added", DateTime, nullable=False),
    Column("customer_notified", INTEGER(1), server_default="0"),
    Column("comments", Text),
    Index("idx_orders_status_history_orders_id", "orders_id"),
    **_opts,
)

# -- Reference data the shop owner keeps: read for mappings and checks.
languages = Table(
    "languages", metadata,
    Column("languages_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("code", CHAR(2), nullable=False),
    Column("image", String(64)),
    Column("directory", String(32)),
    Column("sort_order", INTEGER(3)),
    Index("IDX_LANGUAGES_NAME", "name"),
    **_opts,
)

# Read by `check` only: prices are in the shop's default currency (NOTES 1).
configuration = Table(
    "configuration", metadata,
    Column("configuration_id", Integer, primary_key=True, autoincrement=True),
    Column("configuration_title", String(255), nullable=False),
    Column("configuration_key", String(255), nullable=False),
    Column("configuration_value", Text, nullable=False),
    Column("configuration_description", Text, nullable=False),
    Column("configuration_group_id", Integer, nullable=False),
    Column("sort_order", INTEGER(5)),
    Column("last_modified", DateTime),
    Column("date_added", DateTime, nullable=False),
    Column("use_function", String(255)),
    Column("set_function", String(255)),
    Index("uq_configuration_key", "configuration_key", unique=True),
    **_opts,
)

currencies = Table(
    "currencies", metadata,
    Column("currencies_id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(32), nullable=False),
    Column("code", CHAR(3), nullable=False),
    Column("symbol_left", String(12)),
    Column("symbol_right", String(12)),
    Column("decimal_point", CHAR(1)),
    Column("thousands_point", CHAR(1)),
    Column("decimal_places", CHAR(1)),
    Column("value", FLOAT(13, 8)),
    Column("last_updated", DateTime),
    Index("idx_currencies_code", "code"),
    **_opts,
)

tax_class = Table(
    "tax_class", metadata,
    Column("tax_class_id", Integer, primary_key=True, autoincrement=True),
    Column("tax_class_title", String(32), nullable=False),
    Column("tax_class_description", String(255), nullable=False),
    Column("last_modified", DateTime),
    Column("date_added", DateTime, nullable=False),
    **_opts,
)

countries = Table(
    "countries", metadata,
    Column("countries_id", Integer, primary_key=True, autoincrement=True),
    Column("countries_name", String(255), nullable=False),
    Column("countries_iso_code_2", CHAR(2), nullable=False),
    Column("countries_iso_code_3", CHAR(3), nullable=False),
    Column("address_format_id", Integer, nullable=False),
    Column("status", INTEGER(1), nullable=False, server_default="1"),
    Index("IDX_COUNTRIES_NAME", "countries_name"),
    **_opts,
)

zones = Table(
    "zones", metadata,
    Column("zone_id", Integer, primary_key=True, autoincrement=True),
    Column("zone_country_id", Integer, nullable=False),
    Column("zone_code", String(32), nullable=False),
    Column("zone_name", String(255), nullable=False),
    Index("idx_zones_country_id", "zone_country_id"),
    **_opts,
)

# Column limits the mapper checks before the database would refuse the value.
PRICE_MAX = 10**11 - 1          # decimal(15,4)
# products_name, categories_name, products_options(_values)_name, products_image, image:
# every Phoenix name and image column shopbridge writes is varchar(255).
NAME_MAX = 255
WEIGHT_MAX = 999.99             # decimal(5,2)
TEXT_MAX_BYTES = 65535          # TEXT


# What the shop's consumer writes (besides reading the tables above): table -> privileges.
# ``shopbridge check`` compares it with the database user's grants; INSERT ... ON DUPLICATE
# KEY UPDATE needs both INSERT and UPDATE. tests/unit/test_grants.py keeps it true.
WRITES: dict[str, tuple[str, ...]] = {
    "products": ("INSERT", "UPDATE"),
    "products_description": ("INSERT", "UPDATE"),
    "products_to_categories": ("INSERT", "DELETE"),
    "products_images": ("INSERT", "UPDATE", "DELETE"),
    "specials": ("INSERT", "UPDATE", "DELETE"),
    "categories": ("INSERT", "UPDATE"),
    "categories_description": ("INSERT", "UPDATE", "DELETE"),
    "manufacturers": ("INSERT", "UPDATE"),
    "manufacturers_info": ("INSERT", "UPDATE"),
    "products_options": ("INSERT", "UPDATE"),
    "products_options_values": ("INSERT", "UPDATE"),
    "products_options_values_to_products_options": ("INSERT",),
    "products_attributes": ("INSERT", "UPDATE", "DELETE"),
    "customers": ("INSERT", "UPDATE"),
    "customers_info": ("INSERT", "UPDATE"),
    "address_book": ("INSERT", "UPDATE"),
    "orders": ("UPDATE",),
    "orders_status_history": ("INSERT", "UPDATE"),
}
