"""What the consumer reads from a VirtueMart shop before applying: its table names under the
Joomla prefix, its active languages with their language tables' sizes, its vendor currency.

Active languages come from config ``active_languages`` in ``<prefix>virtuemart_configs`` row 1;
if it is empty, Joomla's site default language (com_languages param ``site``), or Joomla's own
default en-GB where that cannot be read (NOTES 2). Column sizes of the language tables are
configurable in VirtueMart, so they are read from ``information_schema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from shopbridge.errors import ConfigError
from systems.virtuemart.config import active_language_tags
from systems.virtuemart.config import read_config as read_config  # images, probes, tests

from .tables import JOOMLA_TABLES, LANGUAGE_TABLES, language_suffix, table_bases

_BASES = table_bases()


@dataclass(frozen=True)
class Language:
    """One active shop language and its tables' column sizes."""

    tag: str                                   # Joomla tag, 'de-DE'
    # Table base ('products') -> column -> its varchar size (information_schema).
    sizes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def code(self) -> str:
        """The ERP's language code the tag stands for: 'de-DE' -> 'de'."""
        return self.tag.split("-")[0].lower()

    def size(self, base: str, column: str, default: int = 255) -> int:
        return self.sizes.get(base, {}).get(column, default)


@dataclass(frozen=True)
class Tables:
    """The shop's table names under its Joomla prefix: ``tables.products`` for each table
    tables.py declares; any other name is an AttributeError, not a table name."""

    prefix: str

    def __getattr__(self, base: str) -> str:
        if base not in _BASES:
            raise AttributeError(f"{base!r} is not a VirtueMart table of consumers/virtuemart/"
                                 "tables.py")
        return f"{self.prefix}virtuemart_{base}"

    def core(self, name: str) -> str:
        """A Joomla core table tables.py declares ('users' -> 'jos_users')."""
        if name not in JOOMLA_TABLES:
            raise AttributeError(f"{name!r} is not a Joomla table of consumers/virtuemart/"
                                 "tables.py")
        return f"{self.prefix}{name}"

    def lang(self, base: str, language: Language | str) -> str:
        """The language table of ``base`` ('products') for a language."""
        tag = language.tag if isinstance(language, Language) else language
        return f"{self.prefix}virtuemart_{base}_{language_suffix(tag)}"


def active_languages(conn: Connection, tables: Tables) -> list[str]:
    """The shop's active language tags, in its configured order
    (``systems.virtuemart.config.active_language_tags``)."""
    return active_language_tags(conn, tables.prefix)


def language_sizes(conn: Connection, tables: Tables, tag: str) -> dict[str, dict[str, int]]:
    """Varchar sizes of the language tables of ``tag``.

    Raises:
        ConfigError: a language table is missing (VirtueMart makes them when the language
            is activated in its configuration and the config is saved).
    """
    sizes: dict[str, dict[str, int]] = {}
    for base in LANGUAGE_TABLES:
        name = tables.lang(base, tag)
        rows = conn.exec_driver_sql(
            "SELECT COLUMN_NAME, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (name,)).all()
        if not rows:
            raise ConfigError(f"language table {name} of active language {tag} is missing: "
                              "save VirtueMart's configuration once so that it creates it")
        sizes[base] = {str(c): int(n) for c, n in rows if n is not None}
    return sizes


def vendor_currency(conn: Connection, tables: Tables, vendor_id: int) -> str | None:
    """ISO code of the vendor's currency (product prices are in it), or None."""
    return conn.exec_driver_sql(
        f"SELECT c.currency_code_3 FROM {tables.vendors} v JOIN {tables.currencies} c "
        f"ON c.virtuemart_currency_id = v.vendor_currency WHERE v.virtuemart_vendor_id = %s",
        (vendor_id,)).scalar()


def vendor_currency_id(conn: Connection, tables: Tables, vendor_id: int) -> int | None:
    value = conn.exec_driver_sql(
        f"SELECT vendor_currency FROM {tables.vendors} WHERE virtuemart_vendor_id = %s",
        (vendor_id,)).scalar()
    return None if value is None else int(value)
