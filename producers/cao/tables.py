"""Facts about the CAO-Faktura tables the producer reads: names, the columns it needs, types.

The types are those of the real DDL (reference/cao-faktura/schema.sql; tests compare every
column here against it). ``shopbridge demo`` creates a CAO database from these definitions,
with CAO's upper-case table names, MyISAM and latin1, because a user's clone has no upstream
SQL. Only the columns shopbridge reads are defined; a real CAO database has many more.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import BIGINT, DOUBLE, ENUM, INTEGER, LONGTEXT, TINYINT

metadata = MetaData()
# Dialect keywords, which Table takes as **kw: Any; typed so that mypy accepts **_opts.
_opts: dict[str, Any] = {"mysql_engine": "MyISAM", "mysql_charset": "latin1"}


def _vk(n: int) -> list[Column[Decimal]]:
    return [Column(f"VK{n}", Numeric(12, 4), nullable=False, server_default="0.0000"),
            Column(f"VK{n}B", Numeric(12, 4), nullable=False, server_default="0.0000")]


ARTIKEL = Table(
    "ARTIKEL", metadata,
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("ARTNUM", String(20), index=True),
    Column("MATCHCODE", String(255)),
    Column("WARENGRUPPE", Integer, nullable=False, server_default="0"),
    Column("BARCODE", String(20)),
    Column("ARTIKELTYP", CHAR(1), nullable=False, server_default="N"),
    Column("KURZNAME", String(80)),
    Column("LANGNAME", Text),
    Column("GEWICHT", Numeric(10, 3), nullable=False, server_default="0.000"),
    *_vk(1), *_vk(2), *_vk(3), *_vk(4), *_vk(5),
    Column("STEUER_CODE", TINYINT(4), nullable=False, server_default="2"),
    Column("VK_LIEFERZEIT_ID", INTEGER(11, unsigned=True), nullable=False, server_default="1"),
    Column("MENGE_AKT", Numeric(12, 4), nullable=False, server_default="0.0000"),
    Column("HERSTELLER_ID", Integer, nullable=False, server_default="-1"),
    Column("GEAEND", Date),
    Column("SHOP_ID", TINYINT(4), nullable=False, server_default="-1"),
    Column("SHOP_ARTIKEL_ID", Integer, nullable=False, server_default="-1"),
    Column("SHOP_KURZTEXT", Text),
    Column("SHOP_LANGTEXT", Text),
    Column("SHOP_IMAGE", String(100)),
    Column("SHOP_IMAGE_MED", String(100)),
    Column("SHOP_IMAGE_LARGE", String(100)),
    Column("SHOP_VISIBLE", INTEGER(1)),
    Column("SHOP_DEL_FLAG", ENUM("N", "Y"), nullable=False, server_default="N"),
    Column("SHOP_META_TITEL", String(255)),
    Column("SHOP_META_BESCHR", Text),
    Column("SHOP_META_KEY", String(255)),
    **_opts,
)

ARTIKEL_LTEXT = Table(
    "ARTIKEL_LTEXT", metadata,
    Column("ARTIKEL_ID", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("SPRACHE_ID", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("KURZNAME", String(80)),
    Column("LANGNAME", Text),
    Column("SHOP_KURZTEXT", Text),
    Column("SHOP_LANGTEXT", Text),
    Column("SHOP_META_TITEL", String(255)),
    Column("SHOP_META_KEY", String(255)),
    Column("SHOP_META_BESCHR", Text),
    **_opts,
)

ARTIKEL_PREIS = Table(
    "ARTIKEL_PREIS", metadata,
    Column("ARTIKEL_ID", Integer, primary_key=True, autoincrement=False, server_default="-1"),
    Column("ADRESS_ID", Integer, primary_key=True, autoincrement=False, server_default="-1"),
    Column("PREIS_TYP", TINYINT(2, unsigned=True), primary_key=True, autoincrement=False,
           server_default="0"),
    Column("PT2", ENUM("EK", "VK", "VK1", "VK2", "VK3", "VK4", "VK5", "AP"), nullable=False,
           server_default="EK"),
    Column("PREIS", Numeric(12, 4), nullable=False, server_default="0.0000"),
    *(column for k in (2, 3, 4, 5) for column in (
        Column(f"MENGE{k}", INTEGER(6, unsigned=True), nullable=False, server_default="0"),
        Column(f"PREIS{k}", Numeric(12, 4), nullable=False, server_default="0.0000"))),
    Column("GUELTIG_VON", Date),
    Column("GUELTIG_BIS", Date),
    **_opts,
)

ARTIKEL_TO_KAT = Table(
    "ARTIKEL_TO_KAT", metadata,
    Column("SHOP_ID", TINYINT(3), primary_key=True, autoincrement=False, server_default="-1"),
    Column("ARTIKEL_ID", INTEGER(13), primary_key=True, autoincrement=False,
           server_default="-1"),
    Column("KAT_ID", INTEGER(13), primary_key=True, autoincrement=False, server_default="-1"),
    Column("DEL_FLAG", ENUM("N", "Y"), nullable=False, server_default="N"),
    **_opts,
)

# Shop categories (C1). ID is auto-incremented per SHOP_ID (MyISAM, second key column).
ARTIKEL_KAT = Table(
    "ARTIKEL_KAT", metadata,
    Column("SHOP_ID", TINYINT(3), nullable=False, server_default="-1"),
    Column("ID", Integer, nullable=False, autoincrement=True),
    Column("TOP_ID", Integer, nullable=False, server_default="-1"),
    Column("SORT_NUM", INTEGER(3, unsigned=True), nullable=False, server_default="0"),
    Column("NAME", String(250), nullable=False, server_default=""),
    Column("BESCHREIBUNG", Text),
    Column("IMAGE", String(250)),
    Column("VISIBLE_FLAG", ENUM("N", "Y"), nullable=False, server_default="Y"),
    Column("DEL_FLAG", ENUM("N", "Y"), nullable=False, server_default="N"),
    # Explicit, because SQLAlchemy would put the auto-increment column first.
    PrimaryKeyConstraint("SHOP_ID", "ID"),
    Index("IDX_ID", "ID"),
    **_opts,
)

# The ERP's product groups: the other category tree a shop can show (C1).
WARENGRUPPEN = Table(
    "WARENGRUPPEN", metadata,
    Column("ID", Integer, primary_key=True, autoincrement=True),
    Column("TOP_ID", Integer, nullable=False, server_default="-1"),
    Column("NAME", String(250), nullable=False, server_default=""),
    **_opts,
)

# Manufacturers (C2); HERSTELLER_ID is auto-incremented over IDX_HERSTELLER_ID, so it is
# unique across shops.
HERSTELLER = Table(
    "HERSTELLER", metadata,
    Column("SHOP_ID", TINYINT(3), nullable=False, server_default="-1"),
    Column("HERSTELLER_ID", Integer, nullable=False, autoincrement=True),
    Column("HERSTELLER_NAME", String(32), nullable=False, server_default=""),
    Column("HERSTELLER_IMAGE", String(64)),
    Column("DEL_FLAG", ENUM("N", "Y"), nullable=False, server_default="N"),
    PrimaryKeyConstraint("SHOP_ID", "HERSTELLER_ID"),
    Index("IDX_HERSTELLER_ID", "HERSTELLER_ID"),
    **_opts,
)

HERSTELLER_INFO = Table(
    "HERSTELLER_INFO", metadata,
    Column("SHOP_ID", TINYINT(3), primary_key=True, autoincrement=False, server_default="-1"),
    Column("HERSTELLER_ID", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("SPRACHE_ID", Integer, primary_key=True, autoincrement=False, server_default="0"),
    Column("HERSTELLER_URL", String(255), nullable=False, server_default=""),
    **_opts,
)

SPRACHEN = Table(
    "SPRACHEN", metadata,
    Column("SPRACH_ID", Integer, primary_key=True, autoincrement=True),
    Column("NAME", String(32), nullable=False, server_default=""),
    Column("CODE", CHAR(2), nullable=False, server_default=""),
    Column("SORT", INTEGER(3)),
    Column("DEFAULT_FLAG", ENUM("N", "Y"), nullable=False, server_default="N"),
    **_opts,
)

REGISTRY = Table(
    "REGISTRY", metadata,
    Column("MAINKEY", String(255), primary_key=True, server_default=""),
    Column("NAME", String(100), primary_key=True, server_default=""),
    Column("VAL_CHAR", String(255)),
    Column("VAL_INT", Integer),
    Column("VAL_INT2", BIGINT(20)),
    Column("VAL_INT3", BIGINT(20)),
    Column("VAL_DOUBLE", DOUBLE),
    Column("VAL_BLOB", LONGTEXT),
    **_opts,
)

# The tables the producer cannot work without, by their logical names (which real table each
# one is, case and REGISTRY's other spelling included, is systems/cao/resolve.py's business).
# The category and manufacturer tables above are optional: their sources skip a CAO database
# that lacks them.
REQUIRED_TABLES = ("ARTIKEL", "ARTIKEL_LTEXT", "ARTIKEL_PREIS", "ARTIKEL_TO_KAT", "SPRACHEN",
                   "REGISTRY")


def required_columns() -> dict[str, list[str]]:
    """Logical table -> the columns the producer reads, for the tables it cannot do without."""
    return {name: [c.name for c in metadata.tables[name].columns] for name in REQUIRED_TABLES}


# Read by the producer besides the tables above (customers, order statuses, variants), where
# the CAO database has them; ``shopbridge check`` checks the user's SELECT grant on each.
ALSO_READ = ("ADRESSEN", "ADRESSEN_ASP", "ADRESSEN_LIEF", "ARTIKEL_VAR", "JOURNAL",
             "JOURNAL_SSH", "LAND")
