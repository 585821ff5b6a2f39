"""Facts about the CAO-Faktura tables the order import writes and reads, beyond the article
tables of ``producers/cao/tables.py`` (ARTIKEL, REGISTRY).

The types are those of the real DDL (reference/cao-faktura/schema.sql); tests compare every
column here against it. ``shopbridge demo`` creates these tables (with the article tables) so
that ``orders import`` and ``consume --erp`` work on the demo, and ``shopbridge check`` reports
a column listed here that a CAO database lacks, for every shop that imports orders. Only the
columns shopbridge reads or writes are defined; a real CAO database has many more, each with
a default.
"""

from __future__ import annotations

from decimal import Decimal
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.mysql import ENUM, INTEGER, TINYINT

metadata = MetaData()
# Dialect keywords, which Table takes as **kw: Any; typed so that mypy accepts **_opts.
_opts: dict[str, Any] = {"mysql_engine": "MyISAM", "mysql_charset": "latin1"}
_NO_DATE = "0000-00-00 00:00:00"   # CAO's default of its NOT NULL datetime columns


def _flag(name: str, default: str = "N") -> Column[str]:
    return Column(name, ENUM("N", "Y"), nullable=False, server_default=default)


def _money(name: str, precision: int = 10, scale: int = 2) -> Column[Decimal]:
    return Column(name, Numeric(precision, scale), nullable=False,
                  server_default="0." + "0" * scale)


def _ref(name: str, default: str = "-1") -> Column[int]:
    return Column(name, Integer, nullable=False, server_default=default)


# The sales document's header (O1). Written once per order by the importer; SHOP_STATUS and
# the carrier/tracking columns (erp.carrier_column, erp.tracking_column: USR1, USR2 by
# default) are read back by the status scan (O4).
JOURNAL = Table(
    "JOURNAL", metadata,
    Column("QUELLE", TINYINT(4), nullable=False, server_default="0"),
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("QUELLE_SUB", TINYINT(4)),
    _ref("ADDR_ID"), _ref("ASP_ID"), _ref("LIEF_ADDR_ID"),
    Column("ATRNUM", String(20)),
    Column("VRENUM", String(20), nullable=False, server_default=""),
    Column("VLSNUM", String(20)),
    Column("ADATUM", Date),
    Column("RDATUM", DateTime, nullable=False, server_default=_NO_DATE),
    Column("PR_EBENE", TINYINT(4)),
    Column("LIEFART", TINYINT(2), nullable=False, server_default="-1"),
    Column("ZAHLART", TINYINT(2), nullable=False, server_default="-1"),
    _money("WARE"), _money("TKOST"),
    *(_money(f"MWST_{code}", 5) for code in range(4)),
    *(_money(f"NSUMME_{code}") for code in range(4)), _money("NSUMME"),
    *(_money(f"MSUMME_{code}") for code in range(4)), _money("MSUMME"),
    *(_money(f"BSUMME_{code}") for code in range(4)), _money("BSUMME"),
    Column("WAEHRUNG", String(5), nullable=False, server_default=""),
    Column("KURS", Numeric(16, 4), nullable=False, server_default="1.0000"),
    _ref("GEGENKONTO"),
    Column("STADIUM", TINYINT(4), nullable=False, server_default="0"),
    Column("ERSTELLT", Date),
    Column("ERST_NAME", String(20)),
    Column("KUN_NUM", String(20)),
    Column("KUN_ANREDE", String(40)),
    Column("KUN_NAME1", String(40)),
    Column("KUN_NAME2", String(40)),
    Column("KUN_STRASSE", String(40)),
    Column("KUN_LAND", String(5)),
    Column("KUN_PLZ", String(10)),
    Column("KUN_ORT", String(40)),
    Column("USR1", String(80)),
    Column("USR2", String(80)),
    Column("PROJEKT", String(80)),
    Column("ORGNUM", String(20)),
    Column("BEST_NAME", String(40)),
    Column("BEST_DATUM", Date),
    Column("INFO", Text),
    _flag("BRUTTO_FLAG"), _flag("MWST_FREI_FLAG"),
    Column("SHOP_ID", TINYINT(3), nullable=False, server_default="-1"),
    _ref("SHOP_ORDERID"),
    Column("SHOP_STATUS", TINYINT(3, unsigned=True), nullable=False, server_default="0"),
    _flag("SHOP_CHANGE_FLAG"),
    Index("RJ_RENUM", "QUELLE", "VRENUM"),
    Index("ADDR_ID", "ADDR_ID", "RDATUM"),
    Index("IDX_QUELLE_RDATUM", "QUELLE", "QUELLE_SUB", "RDATUM"),
    **_opts,
)

# The document's positions: one per order line, shipping charge, fee and rounding cent.
JOURNALPOS = Table(
    "JOURNALPOS", metadata,
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("QUELLE", TINYINT(4), nullable=False, server_default="0"),
    Column("QUELLE_SUB", TINYINT(4), nullable=False, server_default="0"),
    _ref("JOURNAL_ID", "0"),
    Column("ARTIKELTYP", CHAR(1), nullable=False, server_default=""),
    _ref("ARTIKEL_ID"), _ref("ADDR_ID"),
    Column("VRENUM", String(20), nullable=False, server_default=""),
    _ref("POSITION", "0"),
    Column("VIEW_POS", CHAR(3)),
    Column("ARTNUM", String(20)),
    _money("MENGE", 10, 3),
    _money("EPREIS", 10, 4), _money("GPREIS"),
    Column("STEUER_CODE", TINYINT(4), nullable=False, server_default="0"),
    _flag("GEBUCHT"),
    Column("BEZEICHNUNG", Text),
    _flag("BRUTTO_FLAG"),
    Index("ARTIKEL_ID", "ARTIKEL_ID"),
    Index("ADDR_ID", "ADDR_ID"),
    Index("JOURNAL_ID", "JOURNAL_ID", "POSITION"),
    Index("IDX_QUELLE", "QUELLE"),
    **_opts,
)

# Customers (K1, K3, K4): found or created by the importer, read by the customer scan.
ADRESSEN = Table(
    "ADRESSEN", metadata,
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("MATCHCODE", String(255), nullable=False, server_default=""),
    Column("GESCHLECHT", CHAR(1), nullable=False, server_default="-"),
    Column("KUNNUM1", String(20)),
    Column("NAME1", String(40)),
    Column("PLZ", String(10)),
    Column("ORT", String(40)),
    Column("LAND", String(5)),
    Column("NAME2", String(40)),
    Column("NAME3", String(40)),
    Column("ANREDE", String(40)),
    Column("STRASSE", String(40)),
    Column("TELE1", String(100)),
    Column("EMAIL", String(100)),
    Column("DEB_NUM", Integer),
    Column("PR_EBENE", TINYINT(1), server_default="5"),
    Column("KUN_SEIT", Date),
    Column("KUN_GEBDATUM", Date),
    Column("ERSTELLT", Date),
    Column("ERST_NAME", String(20)),
    Column("GEAEND", Date),
    _flag("SHOP_KUNDE"),
    Column("SHOP_ID", TINYINT(3), nullable=False, server_default="-1"),
    _flag("SHOP_NEWSLETTER"),
    _ref("SHOP_KUNDE_ID"),
    _flag("SHOP_DEL_FLAG"),
    Index("IDX_KUNNUM1", "KUNNUM1"),
    Index("IDX_MATCH", "MATCHCODE"),
    **_opts,
)

# Contact persons of an address (K3: a registered customer's person).
ADRESSEN_ASP = Table(
    "ADRESSEN_ASP", metadata,
    _ref("ADDR_ID", "0"),
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("NAME", String(40), nullable=False, server_default=""),
    Column("VORNAME", String(40), nullable=False, server_default=""),
    Column("ANREDE", String(40)),
    Column("TELEFON", String(100)),
    Column("EMAIL", String(100)),
    Index("NAME", "ADDR_ID", "NAME", "VORNAME"),
    **_opts,
)

# Delivery addresses that differ from the billing address.
ADRESSEN_LIEF = Table(
    "ADRESSEN_LIEF", metadata,
    Column("REC_ID", Integer, nullable=False, autoincrement=True),
    _ref("ADDR_ID", "0"),
    Column("ANREDE", String(40)),
    Column("NAME1", String(40), nullable=False, server_default=""),
    Column("NAME2", String(40)),
    Column("STRASSE", String(40), nullable=False, server_default=""),
    Column("LAND", String(5)),
    Column("PLZ", String(10), nullable=False, server_default=""),
    Column("ORT", String(40), nullable=False, server_default=""),
    PrimaryKeyConstraint("REC_ID", "ADDR_ID"),
    **_opts,
)

# CAO's countries: an order's ISO-2 code is a LAND.ID, or mapped to one (orders.countries).
LAND = Table(
    "LAND", metadata,
    Column("ID", CHAR(2), primary_key=True, server_default=""),
    Column("NAME", String(100), nullable=False, server_default=""),
    Column("ISO_CODE_3", CHAR(3), nullable=False, server_default=""),
    Index("IDX_NAME", "NAME", unique=True),
    **_opts,
)

# Optional: the status history the status scan sends with a status change (O4), and the
# payment methods ``check`` compares orders.payment_methods with (O5).
JOURNAL_SSH = Table(
    "JOURNAL_SSH", metadata,
    Column("ID", INTEGER(11, unsigned=True), primary_key=True, autoincrement=True),
    Column("JOURNAL_ID", INTEGER(11, unsigned=True), nullable=False, server_default="0"),
    Column("DATUM", DateTime, nullable=False, server_default=_NO_DATE),
    Column("KOMMENTAR", Text),
    **_opts,
)

ZAHLUNGSARTEN = Table(
    "ZAHLUNGSARTEN", metadata,
    Column("REC_ID", Integer, primary_key=True, autoincrement=True),
    Column("NAME", String(100), nullable=False, server_default=""),
    **_opts,
)

OPTIONAL_TABLES = ("JOURNAL_SSH", "ZAHLUNGSARTEN")
# Read only where they exist (the status scan sends NULL otherwise), and configurable.
OPTIONAL_COLUMNS = {"JOURNAL": ("USR1", "USR2")}


def required_columns() -> dict[str, list[str]]:
    """Table -> the columns the order import writes or reads, for the tables it needs."""
    return {table.name: [c.name for c in table.columns
                         if c.name not in OPTIONAL_COLUMNS.get(table.name, ())]
            for table in metadata.sorted_tables if table.name not in OPTIONAL_TABLES}
