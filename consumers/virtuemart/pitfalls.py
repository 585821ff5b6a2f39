"""What ``shopbridge check`` notes about a VirtueMart shop's own settings and data (NOTES
§10): the sync runs, and these decide whether the storefront shows what it writes.

Each note is one line without the shop's prefix. Rows shopbridge writes itself are right by
construction (a language row per active language, exact ``has_*`` flags, NULL dates); the
notes count the shop's other rows, e.g. those carried over from VirtueMart 3 or written by
hand, and the settings that hide or delay what is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge import schemas
from shopbridge.db import TableNames

from .options import VirtueMartOptions
from .shop import Language, Tables
from .tables import metadata

# Settings VirtueMart treats as on when its config does not name them.
DEFAULT_ON = ("optimisedProductSql", "UseCachegetChildCategoryList")

# Product flags that cache whether xref rows exist (NOTES §10), with the xref table.
PRODUCT_FLAGS = (("has_categories", "product_categories", "categories"),
                 ("has_manufacturers", "product_manufacturers", "manufacturer"),
                 ("has_prices", "product_prices", "prices"),
                 ("has_medias", "product_medias", "images"),
                 ("has_shoppergroups", "product_shoppergroups", "shopper group limits"))

# Tables whose rows may carry VirtueMart 3's zero dates (NOTES 1).
DATED_TABLES = ("products", "product_prices", "categories", "manufacturers")


def notes(conn: Connection, t: Tables, config: Mapping[str, Any], options: VirtueMartOptions,
          languages: Sequence[Language]) -> list[str]:
    names = TableNames.read(conn)
    return [*_missing_language_rows(conn, t, config, languages),
            *_stale_flags(conn, t, names, config),
            *_caches(config, options),
            *_stock_display(conn, t, config, options),
            *_zero_dates(conn, t),
            *_short_columns(t, languages)]


def cache_problem(options: VirtueMartOptions) -> str | None:
    """A ``cache_path`` that is no folder here: the caches it names cannot be cleared."""
    if options.cache_path is None or Path(options.cache_path).is_dir():
        return None
    return (f"[virtuemart] cache_path {options.cache_path!r} is not a folder on this machine "
            "(Joomla's cache folder, e.g. /var/www/shop/cache)")


def is_on(config: Mapping[str, Any], key: str) -> bool:
    """A VirtueMart config switch: 1, "1", true are on; absent is the switch's default."""
    value = config.get(key, 1 if key in DEFAULT_ON else 0)
    return str(value).strip().lower() not in ("0", "", "false", "none", "null")


def _missing_language_rows(conn: Connection, t: Tables, config: Mapping[str, Any],
                           languages: Sequence[Language]) -> Iterator[str]:
    """NOTES 2: a single product is loaded with an INNER JOIN on its language table."""
    only_with_language = is_on(config, "prodOnlyWLang")
    for language in languages:
        table = t.lang("products", language)
        count = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM {t.products} p LEFT JOIN {table} l "
            f"USING (virtuemart_product_id) WHERE l.virtuemart_product_id IS NULL").scalar()
        if count:
            hidden = (f"; prodOnlyWLang=1 also leaves them out of every list in {language.tag}"
                      if only_with_language else "")
            yield (f"{count} product(s) have no row in {table}: VirtueMart shows them in "
                   f"{language.tag} only through its fallback language, or not at all "
                   f"('Empty slug'){hidden}; shopbridge writes the rows of the products it "
                   "syncs")


def _stale_flags(conn: Connection, t: Tables, names: TableNames,
                 config: Mapping[str, Any]) -> Iterator[str]:
    """NOTES §10: with optimisedProductSql, a has_* flag at 0 makes VirtueMart skip the
    lookup, so existing rows silently disappear; NULL makes it look and write the flag."""
    if is_on(config, "optimisedProductSql"):
        for flag, xref, what in PRODUCT_FLAGS:
            table = getattr(t, xref)
            if names.find(table) is None:
                continue
            count = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {t.products} p WHERE p.{flag} = 0 AND EXISTS "
                f"(SELECT 1 FROM {table} x WHERE x.virtuemart_product_id = "
                f"p.virtuemart_product_id)").scalar()
            if count:
                yield (f"{count} product(s) have {flag} = 0 but rows in {table}: with "
                       f"optimisedProductSql VirtueMart skips them, the products show no "
                       f"{what}; set {flag} to NULL and VirtueMart recomputes it (shopbridge "
                       "writes exact flags for the products it syncs)")
    count = conn.exec_driver_sql(
        f"SELECT COUNT(*) FROM {t.categories} c WHERE c.has_children = 0 AND (EXISTS "
        f"(SELECT 1 FROM {t.categories} k WHERE k.category_parent_id = "
        f"c.virtuemart_category_id) OR EXISTS (SELECT 1 FROM {t.category_categories} k "
        f"WHERE k.category_parent_id = c.virtuemart_category_id))").scalar()
    if count:
        yield (f"{count} categor{'y has' if count == 1 else 'ies have'} has_children = 0 but "
               f"child categories: VirtueMart does not load those children; set has_children "
               "to NULL and VirtueMart recomputes it")


def _caches(config: Mapping[str, Any], options: VirtueMartOptions) -> Iterator[str]:
    """NOTES §10: VmConfig::getCache turns caching on whatever Joomla's setting is."""
    if options.cache_path is None and is_on(config, "UseCachegetChildCategoryList"):
        yield ("VirtueMart keeps category trees and product modules in file caches whatever "
               "Joomla's cache setting is, and no [virtuemart] cache_path is set: catalogue "
               "changes may show only once Joomla's cache lifetime has passed; set cache_path "
               "to Joomla's cache folder, or UseCachegetChildCategoryList=0 in VirtueMart's "
               "configuration")


def _stock_display(conn: Connection, t: Tables, config: Mapping[str, Any],
                   options: VirtueMartOptions) -> Iterator[str]:
    """NOTES 5: stockhandle decides what sold-out products look like, and the delivery time
    (product_availability) shows only on sold-out products in the default templates."""
    handle = str(config.get("stockhandle") or "none")
    if handle in ("disableit", "disableit_children"):
        which = "variant children" if handle == "disableit_children" else "products"
        yield (f"stockhandle={handle}: VirtueMart hides {which} whose product_in_stock - "
               "product_ordered is below 1")
    elif handle == "disableadd":
        yield ("stockhandle=disableadd: sold-out products (product_in_stock - product_ordered "
               "below 1) cannot be put in the cart")
    if options.availability:
        if handle == "risetime":
            yield ("stockhandle=risetime: sold-out products show rised_availability, not the "
                   "delivery times shopbridge writes to product_availability (availability)")
        else:
            yield ("VirtueMart's default templates show product_availability (the "
                   "availability mapping) only on products whose product_in_stock - "
                   "product_ordered is below 1; in-stock products need a template override")
    if is_on(config, "stockhandle_products"):
        count = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM {t.products} WHERE product_stockhandle NOT IN ('', '0')"
        ).scalar()
        if count:
            yield (f"{count} product(s) have their own product_stockhandle, which overrides "
                   f"stockhandle={handle} (stockhandle_products=1)")


def _zero_dates(conn: Connection, t: Tables) -> Iterator[str]:
    """NOTES 1: VirtueMart 3 wrote '0000-00-00 00:00:00'; VirtueMart 4 reads it as empty."""
    for base in DATED_TABLES:
        table = getattr(t, base)
        columns = [str(r[0]) for r in conn.exec_driver_sql(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
            "DATABASE() AND TABLE_NAME = %s AND DATA_TYPE IN ('datetime', 'date') "
            "ORDER BY ORDINAL_POSITION", (table,))]
        if not columns:
            continue
        zero = [f"CAST(`{c}` AS CHAR) LIKE '0000-00-00%%'" for c in columns]
        counts = conn.exec_driver_sql(
            f"SELECT {', '.join(f'COALESCE(SUM({z}), 0)' for z in zero)}, "
            f"COALESCE(SUM({' OR '.join(zero)}), 0) FROM {table}").one()
        if counts[-1]:
            which = ", ".join(c for c, n in zip(columns, counts, strict=False) if n)
            yield (f"{counts[-1]} row(s) of {table} carry zero dates from VirtueMart 3 "
                   f"({which}): VirtueMart reads them as empty; shopbridge writes NULL in "
                   "the columns it writes and leaves the others")


def _short_columns(t: Tables, languages: Sequence[Language]) -> Iterator[str]:
    """NOTES 2: language columns have configurable sizes; one smaller than both the ERP's
    texts (the event contract) and VirtueMart's default dead-letters the longer texts."""
    limits = _contract_limits()
    for language in languages:
        defaults = metadata(t.prefix, (language.tag,))
        for (base, column), (field, limit) in limits.items():
            size = language.sizes.get(base, {}).get(column)
            table = t.lang(base, language)
            default = getattr(defaults.tables[table].c[column].type, "length", None) or limit
            if size is not None and size < min(limit, default):
                yield (f"{table}.{column} holds {size} characters (VirtueMart's default "
                       f"{default}), ERP texts up to {limit} ({field}): longer ones are "
                       "dead-lettered naming the field")


def _contract_limits() -> dict[tuple[str, str], tuple[str, int]]:
    """(language table, column) -> (event field, its maxLength in the event contract)."""
    docs = schemas.documents()

    def payload(name: str) -> dict[str, Any]:
        properties: dict[str, Any] = docs[name]["properties"]["payload"]["properties"]
        return properties

    texts = payload("product.upserted.v2.json")["texts"]["additionalProperties"]["properties"]
    fields = {("products", "product_name"): "name",
              ("products", "product_s_desc"): "short_description",
              ("products", "metadesc"): "meta_description",
              ("products", "metakey"): "meta_keywords",
              ("products", "customtitle"): "meta_title"}
    limits = {key: (f"payload.texts.*.{name}", int(texts[name]["maxLength"]))
              for key, name in fields.items()}
    limits["categories", "category_name"] = (
        "category payload.name", int(payload("category.upserted.v1.json")["name"]["maxLength"]))
    limits["manufacturers", "mf_name"] = (
        "manufacturer payload.name",
        int(payload("manufacturer.upserted.v1.json")["name"]["maxLength"]))
    return limits
