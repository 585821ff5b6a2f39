"""Facts about the VirtueMart 4.4 tables shopbridge reads and writes.

Every column of each table, with its type, nullability, default, primary key and indexes, as
the upstream install SQL declares them (reference/virtuemart/install.sql; the tests load it
and compare, tests/integration/test_virtuemart_tables.py). Table names carry the shop's
Joomla prefix (``#__`` upstream), so the tables are declared once without it and
``metadata(prefix)`` copies them under the shop's names.

The language tables (``<prefix>virtuemart_products_de_de``...) are made by VirtueMart at
runtime, one set per active language, with configurable column sizes (NOTES 2): their names
come from ``language_suffix`` and their sizes are read from ``information_schema`` by the
applier; ``LANGUAGE_TABLES`` here is the default layout, for the demo and for checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CHAR,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import BLOB, DECIMAL, INTEGER, SMALLINT, TINYINT

DEMO_PREFIX = "jos_"        # the schema ``shopbridge demo`` builds (the kind's own choice)

_template = MetaData()
_opts: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci",
                         "mysql_engine": "InnoDB"}


def _id(name: str, **kw: Any) -> Column[Any]:
    """VirtueMart's ids: ``int(1) UNSIGNED``."""
    return Column(name, INTEGER(display_width=1, unsigned=True), **kw)


def _int(name: str, **kw: Any) -> Column[Any]:
    return Column(name, INTEGER(display_width=1), **kw)


def _flag(name: str, **kw: Any) -> Column[Any]:
    return Column(name, TINYINT(display_width=1), **kw)


def _audit() -> list[Column[Any]]:
    """created/modified/locked: nullable UTC datetimes and a Joomla user id (NOTES 1)."""
    return [Column("created_on", DateTime), _int("created_by", nullable=False, server_default="0"),
            Column("modified_on", DateTime),
            _int("modified_by", nullable=False, server_default="0"),
            Column("locked_on", DateTime), _int("locked_by", nullable=False, server_default="0")]


Table(
    "virtuemart_products", _template,
    _id("virtuemart_product_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    _id("product_parent_id", nullable=False, server_default="0"),
    Column("product_sku", String(192)),
    Column("product_gtin", String(64)),
    Column("product_mpn", String(64)),
    Column("product_weight", DECIMAL(10, 4)),
    Column("product_weight_uom", String(7)),
    Column("product_length", DECIMAL(10, 4)),
    Column("product_width", DECIMAL(10, 4)),
    Column("product_height", DECIMAL(10, 4)),
    Column("product_lwh_uom", String(7)),
    Column("product_url", String(255)),
    _int("product_in_stock", nullable=False, server_default="0"),
    _int("product_ordered", nullable=False, server_default="0"),
    Column("product_stockhandle", String(24), nullable=False, server_default="0"),
    _id("low_stock_notification", nullable=False, server_default="0"),
    Column("product_available_date", DateTime),
    Column("product_availability", String(32)),
    _flag("product_special", nullable=False, server_default="0"),
    _flag("product_discontinued", nullable=False, server_default="0"),
    _int("product_sales", nullable=False, server_default="0"),
    Column("product_unit", String(8)),
    Column("product_packaging", DECIMAL(8, 4, unsigned=True)),
    Column("product_params", String(255), nullable=False, server_default=""),
    _int("product_canon_category_id"),
    _id("hits"),
    Column("intnotes", Text),
    Column("metarobot", String(400)),
    Column("metaauthor", String(400)),
    Column("layout", String(48)),
    _flag("published", nullable=False, server_default="0"),
    _id("pordering", nullable=False, server_default="0"),
    _flag("has_categories"), _flag("has_manufacturers"), _flag("has_medias"),
    _flag("has_prices"), _flag("has_shoppergroups"),
    *_audit(),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("product_parent_id", "product_parent_id"),
    Index("product_special", "product_special"),
    Index("product_discontinued", "product_discontinued"),
    Index("product_in_stock", "product_in_stock"),
    Index("product_ordered", "product_ordered"),
    Index("product_sku", "product_sku"),
    Index("published", "published"),
    Index("pordering", "pordering"),
    Index("created_on", "created_on"),
    Index("modified_on", "modified_on"),
    **_opts,
)

Table(
    "virtuemart_product_categories", _template,
    _id("id", primary_key=True, autoincrement=True),
    _id("virtuemart_product_id", nullable=False, server_default="0"),
    _id("virtuemart_category_id", nullable=False, server_default="0"),
    _int("ordering", nullable=False, server_default="0"),
    Index("virtuemart_product_id", "virtuemart_product_id", "virtuemart_category_id",
          unique=True),
    Index("virtuemart_category_id", "virtuemart_category_id", "virtuemart_product_id",
          unique=True),
    Index("virtuemart_product_id_uid", "virtuemart_product_id"),
    Index("virtuemart_category_id_uid", "virtuemart_category_id"),
    Index("ordering", "ordering"),
    **_opts,
)

Table(
    "virtuemart_product_manufacturers", _template,
    _id("id", primary_key=True, autoincrement=True),
    _int("virtuemart_product_id"),
    _id("virtuemart_manufacturer_id"),
    Index("virtuemart_product_id", "virtuemart_product_id", "virtuemart_manufacturer_id",
          unique=True),
    Index("virtuemart_manufacturer_id", "virtuemart_manufacturer_id", "virtuemart_product_id",
          unique=True),
    **_opts,
)

Table(
    "virtuemart_product_shoppergroups", _template,
    _id("id", primary_key=True, autoincrement=True),
    _id("virtuemart_product_id", nullable=False, server_default="0"),
    _id("virtuemart_shoppergroup_id", nullable=False, server_default="0"),
    Index("virtuemart_product_id", "virtuemart_product_id", "virtuemart_shoppergroup_id",
          unique=True),
    **_opts,
)

Table(
    "virtuemart_product_medias", _template,
    _id("id", primary_key=True, autoincrement=True),
    _id("virtuemart_product_id", nullable=False, server_default="0"),
    _id("virtuemart_media_id", nullable=False, server_default="0"),
    _int("ordering", nullable=False, server_default="0"),
    Index("virtuemart_media_id_uid", "virtuemart_media_id"),
    Index("virtuemart_product_id", "virtuemart_product_id", "virtuemart_media_id",
          unique=True),
    Index("virtuemart_media_id", "virtuemart_media_id", "virtuemart_product_id",
          unique=True),
    Index("ordering", "virtuemart_product_id", "ordering"),
    **_opts,
)

Table(
    "virtuemart_medias", _template,
    _id("virtuemart_media_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    Column("file_title", String(126), nullable=False, server_default=""),
    Column("file_description", String(254), nullable=False, server_default=""),
    Column("file_meta", String(254), nullable=False, server_default=""),
    Column("file_class", String(64), nullable=False, server_default=""),
    Column("file_mimetype", String(64), nullable=False, server_default=""),
    Column("file_type", String(32), nullable=False, server_default=""),
    Column("file_url", String(900), nullable=False, server_default=""),
    Column("file_url_thumb", String(900), nullable=False, server_default=""),
    _flag("file_is_product_image", nullable=False, server_default="0"),
    _flag("file_is_downloadable", nullable=False, server_default="0"),
    _flag("file_is_forSale", nullable=False, server_default="0"),
    Column("file_params", String(12287), nullable=False, server_default=""),
    Column("file_lang", String(500), nullable=False, server_default=""),
    _flag("shared", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    *_audit(),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("published", "published"),
    Index("file_type", "file_type"),
    Index("shared", "shared"),
    **_opts,
)

Table(
    "virtuemart_product_prices", _template,
    _id("virtuemart_product_price_id", primary_key=True, autoincrement=True),
    _id("virtuemart_product_id", nullable=False, server_default="0"),
    _id("virtuemart_shoppergroup_id", nullable=False, server_default="0"),
    Column("product_price", DECIMAL(15, 6)),
    _flag("override"),
    Column("product_override_price", DECIMAL(15, 5)),
    _int("product_tax_id"),
    _int("product_discount_id"),
    Column("product_currency", SMALLINT(display_width=1)),
    Column("product_price_publish_up", DateTime),
    Column("product_price_publish_down", DateTime),
    _id("price_quantity_start", nullable=False, server_default="0"),
    _id("price_quantity_end", nullable=False, server_default="0"),
    Column("created_on", DateTime), _int("created_by", nullable=False, server_default="0"),
    Column("modified_on", DateTime), _int("modified_by", nullable=False, server_default="0"),
    Index("virtuemart_product_id", "virtuemart_product_id"),
    Index("product_price", "product_price"),
    Index("virtuemart_shoppergroup_id", "virtuemart_shoppergroup_id"),
    Index("product_price_publish_up", "product_price_publish_up"),
    Index("product_price_publish_down", "product_price_publish_down"),
    Index("price_quantity_start", "price_quantity_start"),
    Index("price_quantity_end", "price_quantity_end"),
    **_opts,
)

Table(
    "virtuemart_categories", _template,
    _id("virtuemart_category_id", primary_key=True, autoincrement=True),
    _id("category_parent_id"),
    _id("virtuemart_vendor_id", nullable=False, server_default="1", comment="Belongs to vendor"),
    Column("category_template", String(128)),
    Column("category_layout", String(64)),
    Column("category_product_layout", String(64)),
    Column("products_per_row", String(1), nullable=False, server_default=""),
    Column("limit_list_step", String(32)),
    Column("limit_list_initial", SMALLINT(display_width=1, unsigned=True)),
    _id("hits", nullable=False, server_default="0"),
    Column("cat_params", String(15359), nullable=False, server_default=""),
    Column("metarobot", String(40), nullable=False, server_default=""),
    Column("metaauthor", String(64), nullable=False, server_default=""),
    _int("ordering", nullable=False, server_default="0"),
    _flag("shared", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    _flag("has_children"), _flag("has_medias"),
    *_audit(),
    Index("category_parent_id", "category_parent_id", "virtuemart_category_id", unique=True),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("published", "published"),
    Index("shared", "shared"),
    Index("ordering", "ordering"),
    **_opts,
)

Table(
    "virtuemart_category_categories", _template,
    _id("id", primary_key=True, autoincrement=True),
    _id("category_parent_id", nullable=False, server_default="0"),
    _id("category_child_id", nullable=False, server_default="0"),
    _int("ordering", nullable=False, server_default="0"),
    Index("category_child_id", "category_child_id", unique=True),
    Index("ordering", "ordering"),
    Index("category_parent_id", "category_parent_id", "category_child_id", unique=True),
    **_opts,
)

Table(
    "virtuemart_manufacturers", _template,
    _id("virtuemart_manufacturer_id", primary_key=True, autoincrement=True),
    _int("virtuemart_manufacturercategories_id"),
    Column("metarobot", String(400)),
    Column("metaauthor", String(400)),
    _id("hits", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    *_audit(),
    Index("virtuemart_manufacturercategories_id", "virtuemart_manufacturer_id",
          "virtuemart_manufacturercategories_id", unique=True),
    Index("published", "published"),
    **_opts,
)

Table(
    "virtuemart_vendors", _template,
    _id("virtuemart_vendor_id", primary_key=True, autoincrement=True),
    Column("vendor_name", String(64)),
    _int("vendor_currency"),
    Column("vendor_accepted_currencies", String(1536), nullable=False, server_default=""),
    Column("vendor_params", String(14335), nullable=False, server_default=""),
    Column("metarobot", String(20)),
    Column("metaauthor", String(64)),
    *_audit(),
    Index("vendor_name", "vendor_name"),
    Index("vendor_currency", "vendor_currency"),
    **_opts,
)

Table(
    "virtuemart_currencies", _template,
    _id("virtuemart_currency_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    Column("currency_name", String(64)),
    Column("currency_code_2", CHAR(2)),
    Column("currency_code_3", CHAR(3)),
    Column("currency_numeric_code", INTEGER(display_width=4)),
    Column("currency_exchange_rate", DECIMAL(12, 5)),
    Column("currency_symbol", String(8)),
    Column("currency_decimal_place", String(8)),
    Column("currency_decimal_symbol", String(8)),
    Column("currency_thousands", String(8)),
    Column("currency_positive_style", String(64)),
    Column("currency_negative_style", String(64)),
    _int("ordering", nullable=False, server_default="0"),
    _flag("shared", nullable=False, server_default="1"),
    _flag("published", nullable=False, server_default="1"),
    *_audit(),
    Index("ordering", "ordering"),
    Index("currency_name", "currency_name"),
    Index("published", "published"),
    Index("shared", "shared"),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("currency_code_3", "currency_code_3", unique=True),
    Index("currency_numeric_code", "currency_numeric_code"),
    **_opts,
)

Table(
    "virtuemart_shoppergroups", _template,
    _id("virtuemart_shoppergroup_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    Column("shopper_group_name", String(128)),
    Column("shopper_group_desc", String(255)),
    _flag("custom_price_display", nullable=False, server_default="0"),
    Column("price_display", BLOB),
    _flag("default", nullable=False, server_default="0"),
    _flag("sgrp_additional", nullable=False, server_default="0"),
    _int("ordering", nullable=False, server_default="0"),
    _flag("shared", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    *_audit(),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id", "virtuemart_shoppergroup_id",
          unique=True),
    Index("shopper_group_name", "shopper_group_name"),
    Index("ordering", "ordering"),
    Index("shared", "shared"),
    Index("published", "published"),
    **_opts,
)

Table(
    "virtuemart_configs", _template,
    Column("virtuemart_config_id", TINYINT(display_width=1, unsigned=True), primary_key=True,
           autoincrement=True),
    Column("config", Text),
    Column("created_on", DateTime),
    Column("created_by", INTEGER(display_width=11), nullable=False, server_default="0"),
    Column("modified_on", DateTime),
    Column("modified_by", INTEGER(display_width=11), nullable=False, server_default="0"),
    Column("locked_on", DateTime),
    Column("locked_by", INTEGER(display_width=11), nullable=False, server_default="0"),
    **_opts,
)

# Joomla's own tables the customers touch (``shop.Tables.core``).
JOOMLA_TABLES = frozenset({"users", "usergroups", "user_usergroup_map"})

# -- customers (K1/K2, customers.py): Joomla's users and VirtueMart's shoppers ---------------
# Joomla's own tables have no ``virtuemart_`` in their names (``Tables.core``); their DDL is
# reference/virtuemart/joomla_core_users.sql. Their column widths are the limits the writer
# checks (customers.py).

Table(
    "users", _template,
    Column("id", INTEGER, primary_key=True, autoincrement=True),
    Column("name", String(400), nullable=False, server_default=""),
    Column("username", String(150), nullable=False, server_default=""),
    Column("email", String(100), nullable=False, server_default=""),
    Column("password", String(100), nullable=False, server_default=""),
    Column("block", TINYINT, nullable=False, server_default="0"),
    Column("sendEmail", TINYINT, server_default="0"),
    Column("registerDate", DateTime, nullable=False),
    Column("lastvisitDate", DateTime),
    Column("activation", String(100), nullable=False, server_default=""),
    Column("params", Text, nullable=False),
    Column("lastResetTime", DateTime),
    Column("resetCount", INTEGER, nullable=False, server_default="0"),
    Column("otpKey", String(1000), nullable=False, server_default=""),
    Column("otep", String(1000), nullable=False, server_default=""),
    Column("requireReset", TINYINT, nullable=False, server_default="0"),
    Column("authProvider", String(100), nullable=False, server_default=""),
    Index("idx_name", "name", mysql_length={"name": 100}),
    Index("idx_block", "block"),
    Index("idx_username", "username", unique=True),
    Index("email", "email"),
    **_opts,
)

Table(
    "usergroups", _template,
    Column("id", INTEGER(unsigned=True), primary_key=True, autoincrement=True),
    Column("parent_id", INTEGER(unsigned=True), nullable=False, server_default="0"),
    Column("lft", INTEGER, nullable=False, server_default="0"),
    Column("rgt", INTEGER, nullable=False, server_default="0"),
    Column("title", String(100), nullable=False, server_default=""),
    Index("idx_usergroup_parent_title_lookup", "parent_id", "title", unique=True),
    Index("idx_usergroup_title_lookup", "title"),
    Index("idx_usergroup_adjacency_lookup", "parent_id"),
    Index("idx_usergroup_nested_set_lookup", "lft", "rgt"),
    **_opts,
)

Table(
    "user_usergroup_map", _template,
    Column("user_id", INTEGER(unsigned=True), primary_key=True, autoincrement=False,
           server_default="0"),
    Column("group_id", INTEGER(unsigned=True), primary_key=True, autoincrement=False,
           server_default="0"),
    **_opts,
)

Table(
    "virtuemart_vmusers", _template,
    _id("virtuemart_user_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="0"),
    _flag("user_is_vendor", nullable=False, server_default="0"),
    Column("customer_number", String(32)),
    _id("virtuemart_paymentmethod_id"),
    _id("virtuemart_shipmentmethod_id"),
    _flag("agreed", nullable=False, server_default="0"),
    *_audit(),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("u_virtuemart_user_id", "virtuemart_user_id", "virtuemart_vendor_id", unique=True),
    Index("user_is_vendor", "user_is_vendor"),
    **_opts,
)

Table(
    "virtuemart_vmuser_shoppergroups", _template,
    _id("id", primary_key=True, autoincrement=True),
    _id("virtuemart_user_id", nullable=False, server_default="0"),
    _id("virtuemart_shoppergroup_id", nullable=False, server_default="0"),
    Index("virtuemart_user_id", "virtuemart_user_id", "virtuemart_shoppergroup_id",
          unique=True),
    **_opts,
)

Table(
    "virtuemart_userinfos", _template,
    _id("virtuemart_userinfo_id", primary_key=True, autoincrement=True),
    _id("virtuemart_user_id", nullable=False, server_default="0"),
    Column("address_type", CHAR(2), nullable=False, server_default=""),
    Column("address_type_name", String(32), nullable=False, server_default=""),
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
    Column("virtuemart_state_id", SMALLINT(display_width=1, unsigned=True), nullable=False,
           server_default="0"),
    Column("virtuemart_country_id", SMALLINT(display_width=1, unsigned=True), nullable=False,
           server_default="0"),
    Column("zip", String(32), nullable=False, server_default=""),
    _flag("agreed", nullable=False, server_default="0"),
    _flag("tos", nullable=False, server_default="0"),
    Column("customer_note", String(5000), nullable=False, server_default=""),
    *_audit(),
    Index("i_virtuemart_user_id", "virtuemart_userinfo_id", "virtuemart_user_id"),
    Index("virtuemart_user_id", "virtuemart_user_id", "address_type"),
    Index("address_type", "address_type"),
    Index("address_type_name", "address_type_name"),
    **_opts,
)

Table(
    "virtuemart_countries", _template,
    _id("virtuemart_country_id", primary_key=True, autoincrement=True),
    _flag("virtuemart_worldzone_id", nullable=False, server_default="1"),
    Column("country_name", String(64)),
    Column("country_3_code", CHAR(3)),
    Column("country_2_code", CHAR(2)),
    Column("country_num_code", CHAR(3)),
    _int("ordering", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="0"),
    *_audit(),
    Index("country_3_code", "country_3_code", unique=True),
    Index("country_2_code", "country_2_code", unique=True),
    Index("country_num_code", "country_num_code", unique=True),
    Index("country_name", "country_name"),
    Index("ordering", "ordering"),
    Index("published", "published"),
    **_opts,
)

# -- the rest of a whole shop, for the demo: ``metadata(..., whole_shop=True)`` --------------

# Not among the tables ``needs`` and ``check`` ask for (``metadata`` leaves them out unless
# asked): calc rules, which only ``check`` reads, where tax_classes names rules. (The custom
# fields the variant writer keeps its matrices in (variant_writer.py) are the consumer's:
# declared with the tables above, under ``_template``.)
_shop_template = MetaData()
Table(
    "virtuemart_calcs", _shop_template,
    _id("virtuemart_calc_id", primary_key=True, autoincrement=True),
    _id("virtuemart_vendor_id", nullable=False, server_default="1", comment="Belongs to vendor"),
    _int("calc_jplugin_id", nullable=False, server_default="0"),
    Column("calc_name", String(64), nullable=False, server_default="",
           comment="Name of the rule"),
    Column("calc_descr", String(128), nullable=False, server_default="", comment="Description"),
    Column("calc_kind", String(16), nullable=False, server_default="",
           comment="Discount/Tax/Margin/Commission"),
    Column("calc_value_mathop", String(8), nullable=False, server_default="",
           comment="the mathematical operation like (+,-,+%,-%)"),
    Column("calc_value", DECIMAL(10, 4), nullable=False, server_default="0.0000",
           comment="The Amount"),
    Column("calc_currency", SMALLINT(display_width=1, unsigned=True), nullable=False,
           server_default="0", comment="Currency of the Rule"),
    _flag("calc_shopper_published", nullable=False, server_default="0",
          comment="Visible for Shoppers"),
    _flag("calc_vendor_published", nullable=False, server_default="0",
          comment="Visible for Vendors"),
    Column("publish_up", DateTime, comment="Startdate if nothing is set = permanent"),
    Column("publish_down", DateTime, comment="Enddate if nothing is set = permanent"),
    _flag("for_override", nullable=False, server_default="0"),
    _flag("has_categories"), _flag("has_shoppergroups"), _flag("has_manufacturers"),
    _flag("has_countries"), _flag("has_states"),
    Column("calc_params", String(15359), nullable=False, server_default=""),
    _int("ordering", nullable=False, server_default="0"),
    _flag("shared", nullable=False, server_default="0"),
    _flag("published", nullable=False, server_default="1"),
    *_audit(),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("published", "published"),
    Index("calc_kind", "calc_kind"),
    Index("shared", "shared"),
    Index("publish_up", "publish_up"),
    Index("publish_down", "publish_down"),
    **_opts,
)

Table(
    "virtuemart_customs", _template,
    _id("virtuemart_custom_id", primary_key=True, autoincrement=True),
    _id("custom_parent_id", nullable=False, server_default="0"),
    _id("virtuemart_vendor_id", nullable=False, server_default="1"),
    _int("custom_jplugin_id", nullable=False, server_default="0"),
    Column("custom_element", String(50), nullable=False, server_default=""),
    _flag("admin_only", nullable=False, server_default="0", comment="1:Display in admin only"),
    Column("custom_title", String(255), nullable=False, server_default="",
           comment="field title"),
    _flag("show_title", nullable=False, server_default="1"),
    Column("custom_tip", String(255), nullable=False, server_default="", comment="tip"),
    Column("custom_value", String(4095), comment="default value"),
    Column("custom_desc", String(4095), comment="description or unit"),
    Column("field_type", String(2), nullable=False, server_default="0",
           comment="S:string,I:int,P:parent, B:bool,D:date,T:time,H:hidden"),
    _flag("is_list", nullable=False, server_default="0", comment="list of values"),
    _flag("is_hidden", nullable=False, server_default="0", comment="1:hidden"),
    _flag("is_cart_attribute", nullable=False, server_default="0",
          comment="Add attributes to cart"),
    _flag("is_input", nullable=False, server_default="0", comment="Add input to cart"),
    _flag("searchable", nullable=False, server_default="0",
          comment="Available as search filter"),
    Column("layout_pos", String(24), comment="Layout Position"),
    Column("custom_params", Text),
    Column("virtuemart_shoppergroup_id", String(255), nullable=False, server_default=""),
    _flag("shared", nullable=False, server_default="0", comment="valid for all vendors?"),
    _flag("published", nullable=False, server_default="1"),
    Column("created_on", DateTime), _int("created_by", nullable=False, server_default="0"),
    _int("ordering", nullable=False, server_default="0"),
    Column("modified_on", DateTime), _int("modified_by", nullable=False, server_default="0"),
    Column("locked_on", DateTime), _int("locked_by", nullable=False, server_default="0"),
    Index("field_type_searchable_published", "field_type", "searchable", "published"),
    Index("custom_parent_id", "custom_parent_id"),
    Index("virtuemart_vendor_id", "virtuemart_vendor_id"),
    Index("custom_element", "custom_element"),
    Index("field_type", "field_type"),
    Index("is_cart_attribute", "is_cart_attribute"),
    Index("is_input", "is_input"),
    Index("searchable", "searchable"),
    Index("shared", "shared"),
    Index("published", "published"),
    Index("ordering", "ordering"),
    comment="custom fields definition",
    **_opts,
)

Table(
    "virtuemart_product_customfields", _template,
    _id("virtuemart_customfield_id", primary_key=True, autoincrement=True, comment="field id"),
    _int("virtuemart_product_id", nullable=False, server_default="0"),
    _int("virtuemart_custom_id", nullable=False, server_default="1", comment="custom group id"),
    Column("customfield_value", String(2500), comment="field value"),
    Column("customfield_price", DECIMAL(15, 6), comment="price"),
    _id("disabler", nullable=False, server_default="0"),
    _id("override", nullable=False, server_default="0"),
    _id("noninheritable", nullable=False, server_default="0"),
    Column("customfield_params", Text, comment="Param for Plugins"),
    Column("product_sku", String(64)),
    Column("product_gtin", String(64)),
    Column("product_mpn", String(64)),
    _flag("published", nullable=False, server_default="1"),
    _int("ordering", nullable=False, server_default="0"),
    Index("unique_custf_prd_value", "virtuemart_customfield_id", "virtuemart_product_id",
          "virtuemart_custom_id", "customfield_value", unique=True,
          mysql_length={"customfield_value": 50}),
    Index("unique_cust_prd_value", "virtuemart_custom_id", "virtuemart_product_id",
          "customfield_value", mysql_length={"customfield_value": 50}),
    Index("customfield_value", "customfield_value", mysql_length={"customfield_value": 50}),
    Index("virtuemart_product_id", "virtuemart_product_id", "ordering"),
    Index("virtuemart_custom_id", "virtuemart_custom_id"),
    Index("published", "published"),
    Index("ordering", "ordering"),
    comment="custom fields",
    **_opts,
)

# -- the language tables' default layout (derived_language_tables_de_de.sql) -----------------

# Base table -> (its id column, its translatable columns); ``slug`` is UNIQUE in each.
LANGUAGE_TABLES: dict[str, tuple[str, tuple[Column[Any], ...]]] = {
    "products": ("virtuemart_product_id", (
        Column("product_s_desc", String(2000), nullable=False, server_default=""),
        Column("product_desc", Text),
        Column("product_name", String(400), nullable=False, server_default=""))),
    "categories": ("virtuemart_category_id", (
        Column("category_name", String(400), nullable=False, server_default=""),
        Column("category_description", Text))),
    "manufacturers": ("virtuemart_manufacturer_id", (
        Column("mf_name", String(400), nullable=False, server_default=""),
        Column("mf_email", String(255), nullable=False, server_default=""),
        Column("mf_desc", Text),
        Column("mf_url", String(255), nullable=False, server_default=""))),
}


def language_suffix(tag: str) -> str:
    """Joomla language tag -> table suffix: 'de-DE' -> 'de_de' (NOTES 2)."""
    return tag.lower().replace("-", "_")


def _language_table(metadata: MetaData, prefix: str, base: str, tag: str) -> Table:
    id_column, columns = LANGUAGE_TABLES[base]
    return Table(
        f"{prefix}virtuemart_{base}_{language_suffix(tag)}", metadata,
        Column(id_column, INTEGER(display_width=1, unsigned=True), primary_key=True,
               autoincrement=False),
        *(c._copy() for c in columns),
        Column("metadesc", String(400), nullable=False, server_default=""),
        Column("metakey", String(400), nullable=False, server_default=""),
        Column("customtitle", String(255), nullable=False, server_default=""),
        Column("slug", String(255), nullable=False, server_default=""),
        Index("slug", "slug", unique=True),
        **_opts,
    )


def table_bases() -> frozenset[str]:
    """The declared tables' names without the prefix and ``virtuemart_`` ('products')."""
    return frozenset(t.name.removeprefix("virtuemart_")
                     for template in (_template, _shop_template) for t in template.sorted_tables
                     if t.name.startswith("virtuemart_"))


def metadata(prefix: str, languages: tuple[str, ...] = (), *,
             whole_shop: bool = False) -> MetaData:
    """The tables under the shop's Joomla ``prefix``, with the default-layout language tables
    of ``languages`` (Joomla tags, e.g. ('de-DE', 'en-GB')); ``whole_shop``: with the calc
    rules and custom fields too, as the demo builds a shop."""
    made = MetaData()
    templates = [_template, _shop_template] if whole_shop else [_template]
    for table in (t for template in templates for t in template.sorted_tables):
        table.to_metadata(made, name=prefix + table.name)
    for tag in languages:
        for base in LANGUAGE_TABLES:
            _language_table(made, prefix, base, tag)
    return made


# What the consumer writes, without the prefix -> privileges (``shopbridge check``). The
# language tables of every active language take INSERT and UPDATE too (``kind.needs``).
WRITES: dict[str, tuple[str, ...]] = {
    "virtuemart_products": ("INSERT", "UPDATE"),
    "virtuemart_product_categories": ("INSERT", "UPDATE", "DELETE"),
    "virtuemart_product_manufacturers": ("INSERT", "DELETE"),
    "virtuemart_product_prices": ("INSERT", "DELETE"),
    "virtuemart_medias": ("INSERT",),
    "virtuemart_product_medias": ("INSERT", "UPDATE", "DELETE"),
    "virtuemart_categories": ("INSERT", "UPDATE"),
    "virtuemart_category_categories": ("INSERT", "UPDATE", "DELETE"),
    "virtuemart_manufacturers": ("INSERT", "UPDATE"),
    "virtuemart_customs": ("INSERT",),
    "virtuemart_product_customfields": ("INSERT", "UPDATE", "DELETE"),
    # customers (customers.py): the password is written once, on INSERT only
    "users": ("INSERT", "UPDATE"),
    "user_usergroup_map": ("INSERT",),
    "virtuemart_vmusers": ("INSERT", "UPDATE"),
    "virtuemart_vmuser_shoppergroups": ("INSERT", "DELETE"),
    "virtuemart_userinfos": ("INSERT", "UPDATE", "DELETE"),     # DELETE: the ERP's ST row
    # The status writer (O4): the order's and its items' status, a history row
    # (``customer_notified`` once the mail went out); stock is in virtuemart_products.
    "virtuemart_orders": ("UPDATE",),
    "virtuemart_order_items": ("UPDATE",),
    "virtuemart_order_histories": ("INSERT", "UPDATE"),
}

# The order tables of the status writer (O4) are declared in order_tables.py, on the same
# template; importing it here makes every reader of this module see them.
from . import order_tables  # noqa: E402, F401
