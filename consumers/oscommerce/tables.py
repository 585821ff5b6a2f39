"""Facts about the CE Phoenix Cart 1.1.0.6 tables this adapter reads and writes.

Names and types only, as the upstream install SQL declares them; tests load the upstream
phoenix.sql and check every column here against it. ``shopbridge demo`` creates a shop
database from these definitions, because a user's clone has no upstream SQL.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import INTEGER, TINYINT

metadata = MetaData()
_opts = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci",
         "mysql_engine": "InnoDB"}

products = Table(
    "products", metadata,
    Column("products_id", Integer, primary_key=True, autoincrement=True),
    Column("products_quantity", INTEGER(4), nullable=False),
    Column("products_model", String(255), index=True),
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
    **_opts,
)

products_description = Table(
    "products_description", metadata,
    Column("products_id", Integer, primary_key=True, autoincrement=False),
    Column("language_id", Integer, primary_key=True, autoincrement=False, server_default="1"),
    Column("products_name", String(255), nullable=False, server_default="", index=True),
    Column("products_description", Text),
    Column("products_url", String(255)),
    Column("products_seo_description", Text),
    Column("products_seo_keywords", String(255)),
    Column("products_seo_title", String(255)),
    **_opts,
)

languages = Table(
    "languages", metadata,
    Column("languages_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("code", CHAR(2), nullable=False),
    Column("image", String(64)),
    Column("directory", String(32)),
    Column("sort_order", INTEGER(3)),
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

# Column limits the mapper checks before the database would refuse the value.
PRICE_MAX = 10**11 - 1          # decimal(15,4)
NAME_MAX = 255                  # products_description.products_name varchar(255)
WEIGHT_MAX = 999.99             # decimal(5,2)
TEXT_MAX_BYTES = 65535          # TEXT
