"""The CAO-Faktura SQL the producer runs: the only code that reads CAO's catalogue tables.

Change detection is a snapshot diff computed on the server (DESIGN 4, 6): an MD5 over each
selected article's columns (and its translations) is compared in SQL with the hash stored at
the last publish, so only changed articles come back to Python. Pages are keyed by REC_ID and
short, because CAO's tables are MyISAM: a long-running SELECT would hold a table read lock
and block the merchant's own writes for its whole duration.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import ErpConfig
from shopbridge.db import TableNames, columns_of, quote_ident
from shopbridge.errors import ConfigError
from shopbridge.keys import SHOP_CATEGORIES, category_key
from systems.cao import resolve
from systems.cao import vat_rates as cao_vat_rates

from .rows import dicts, grouped_by
from .snapshot import EVERYTHING, SNAPSHOT_TABLE, hash_parts
from .tables import REQUIRED_TABLES, required_columns
from .variants import VariantSource

ARTICLE_COLUMNS = (
    "ARTNUM", "ARTIKELTYP", "KURZNAME", "LANGNAME", "SHOP_KURZTEXT", "SHOP_LANGTEXT",
    "SHOP_META_TITEL", "SHOP_META_BESCHR", "SHOP_META_KEY",
    "VK1", "VK1B", "VK2", "VK2B", "VK3", "VK3B", "VK4", "VK4B", "VK5", "VK5B",
    "STEUER_CODE", "SHOP_ID", "SHOP_VISIBLE", "SHOP_DEL_FLAG", "GEWICHT", "BARCODE",
    "HERSTELLER_ID", "WARENGRUPPE", "VK_LIEFERZEIT_ID",
    "SHOP_IMAGE", "SHOP_IMAGE_MED", "SHOP_IMAGE_LARGE",
)
TRANSLATION_COLUMNS = ("KURZNAME", "LANGNAME", "SHOP_KURZTEXT", "SHOP_LANGTEXT",
                       "SHOP_META_TITEL", "SHOP_META_BESCHR", "SHOP_META_KEY")
# Special offers (DESIGN 4a): ARTIKEL_PREIS rows with PT2 'AP' that belong to no customer.
SPECIAL_PRICES = "p.PT2 = 'AP' AND p.ADRESS_ID <= 0"
# Quantity breaks (DESIGN 4a): PREIS_TYP 3 for ADRESS_ID -99; customer prices (ADRESS_ID > 0)
# are never shop prices.
TIER_PRICES = "p.PREIS_TYP = 3 AND p.ADRESS_ID = -99"
TIER_COLUMNS = tuple(f"{c}{k}" for k in (2, 3, 4, 5) for c in ("MENGE", "PREIS"))


class CaoSource:
    """Reads one tenant's CAO database. Call ``resolve`` once per connection's database."""

    def __init__(self, erp: ErpConfig, *, flag_fields: Iterable[str] = ()) -> None:
        """Args:
            flag_fields: the CAO free fields ('05' for USERFELD_05) that shop filters read;
                only these are hashed and published, each column costs the idle scan.
        """
        self.erp = erp
        self.t: dict[str, str] = {}
        self.flag_columns = tuple(sorted({f"USERFELD_{f}" for f in flag_fields}))
        # ARTIKEL columns the payload reads: the fixed ones plus what this CAO version has;
        # the date-available column is read under the alias DATE_AVAILABLE.
        self.article_columns: tuple[str, ...] = ARTICLE_COLUMNS
        self.date_column: str | None = None
        self.variants = VariantSource(erp)

    # -- schema ----------------------------------------------------------------------------

    def resolve(self, conn: Connection) -> dict[str, str]:
        """Find CAO's tables whatever their case; returns logical -> quoted real name.

        Raises:
            ConfigError: naming each missing table.
        """
        resolved, missing = resolve(TableNames.read(conn), REQUIRED_TABLES, self.erp)
        if missing:
            raise ConfigError(f"CAO database {self.erp.db.safe}: table(s) not found: "
                              f"{', '.join(' or '.join(names) for names in missing.values())}")
        self.t = {k: quote_ident(v) for k, v in resolved.items()}
        self._real = resolved
        have = columns_of(conn, resolved["ARTIKEL"])
        missing_flags = [c for c in self.flag_columns if c not in have]
        if missing_flags:
            # Without the field no article would pass the filter: the shop would hide all.
            raise ConfigError(f"CAO table {resolved['ARTIKEL']}: column(s) "
                              f"{', '.join(missing_flags)} missing, but a shop's filter "
                              "flag_field names them")
        self.article_columns = (*ARTICLE_COLUMNS, *self.flag_columns)
        # Read where the live ARTIKEL has it: CAO versions differ (NOTES 2).
        date_column = (self.erp.date_available_column or "").upper()
        self.date_column = quote_ident(date_column) if date_column in have else None
        return self.t

    def schema_problems(self, conn: Connection) -> list[str]:
        """One line per table or column the producer needs but the database lacks."""
        try:
            self.resolve(conn)
        except ConfigError as err:
            return [str(err)]
        problems = []
        for logical, needed in required_columns().items():
            have = columns_of(conn, self._real[logical])
            for column in needed:
                if column not in have:
                    problems.append(f"CAO table {self._real[logical]}: column {column} missing")
        return problems + self.variants.schema_problems(conn, self._real["ARTIKEL"])

    # -- reference data --------------------------------------------------------------------

    def language_codes(self, conn: Connection) -> dict[int, str]:
        rows = conn.exec_driver_sql(f"SELECT SPRACH_ID, CODE FROM {self.t['SPRACHEN']}")
        return {int(i): str(c).strip().lower() for i, c in rows if c and str(c).strip()}

    def vat_rates(self, conn: Connection) -> dict[int, str]:
        """STEUER_CODE -> rate in percent (decimal string), CAO's defaults included; only
        informational for shops, which compute tax from their own tax classes."""
        return {code: str(rate) for code, rate in cao_vat_rates(conn, self.t["REGISTRY"]).items()}

    # -- change detection ------------------------------------------------------------------

    def _selection(self) -> str:
        base = ("a.ARTNUM IS NOT NULL AND TRIM(a.ARTNUM) <> ''"
                + self.variants.not_a_child_sql())     # children show only under a master
        return f"a.SHOP_ID > 0 AND {base}" if self.erp.selection == "shop" else base

    def _category_shops(self, conn: Connection) -> list[int | None]:
        """The SHOP_IDs in ARTIKEL_TO_KAT ([None] if it is empty), read by a loose index scan.

        Its keys start with SHOP_ID, so an article's links are found by (SHOP_ID, ARTIKEL_ID)
        only: looked up by ARTIKEL_ID alone, every article reads the whole table (an idle
        diff of 10,000 articles took 52 s, quadratic in the catalogue).
        """
        rows = conn.exec_driver_sql(f"SELECT DISTINCT SHOP_ID FROM {self.t['ARTIKEL_TO_KAT']}")
        return [int(r[0]) for r in rows] or [None]

    def _hash_sql(self, category_shops: int = 1) -> str:
        # Everything is cast to BINARY: CAO's latin1 columns, the utf8mb4 parameter and MD5's
        # own result would otherwise be an "illegal mix of collations" for CONCAT_WS.
        # QUOTE() keeps NULL and '' apart; the stored hash is BINARY(16), free of charsets.
        columns = hash_parts("a", (*self.article_columns,
                                   *([self.date_column] if self.date_column else [])))
        lcolumns = hash_parts("l", TRANSLATION_COLUMNS)
        return (
            f"UNHEX(MD5(CONCAT_WS(_binary'|', CAST(%s AS BINARY), {columns}, "
            f"IFNULL((SELECT GROUP_CONCAT(MD5(CONCAT_WS(_binary'|', "
            f"CAST(l.SPRACHE_ID AS BINARY), {lcolumns})) ORDER BY l.SPRACHE_ID "
            f"SEPARATOR ',') FROM {self.t['ARTIKEL_LTEXT']} l WHERE l.ARTIKEL_ID = a.REC_ID), "
            f"_binary'-'), IFNULL((SELECT GROUP_CONCAT(CONCAT_WS(_binary'/', "
            f"CAST(p.PREIS AS BINARY), CAST(QUOTE(p.GUELTIG_VON) AS BINARY), "
            f"CAST(QUOTE(p.GUELTIG_BIS) AS BINARY)) ORDER BY p.GUELTIG_VON, p.PREIS_TYP "
            f"SEPARATOR ',') FROM {self.t['ARTIKEL_PREIS']} p WHERE p.ARTIKEL_ID = a.REC_ID "
            f"AND {SPECIAL_PRICES}), _binary'-'), IFNULL((SELECT CONCAT_WS(_binary'/', "
            f"{', '.join(f'p.{c}' for c in TIER_COLUMNS)}) FROM {self.t['ARTIKEL_PREIS']} p "
            f"WHERE p.ARTIKEL_ID = a.REC_ID AND {TIER_PRICES}), _binary'-'), "
            f"IFNULL((SELECT GROUP_CONCAT(CONCAT_WS("
            f"_binary':', k.SHOP_ID, k.KAT_ID) ORDER BY k.SHOP_ID, k.KAT_ID SEPARATOR ',') "
            f"FROM ({' UNION ALL '.join(['SELECT %s AS SHOP_ID'] * category_shops)}) sh "
            f"JOIN {self.t['ARTIKEL_TO_KAT']} k ON k.SHOP_ID = sh.SHOP_ID "
            f"AND k.ARTIKEL_ID = a.REC_ID WHERE k.DEL_FLAG = 'N'), _binary'-')"
            f"{self.variants.hash_sql(self.t['ARTIKEL'])})))")

    def changed_articles(self, conn: Connection, *, fingerprint: str, after: int, limit: int,
                         between: Callable[[], object] | None = None,
                         everything: bool = False, ids: Collection[int] | None = None
                         ) -> list[tuple[int, bytes, int | None]]:
        """Selected articles whose hash differs from the snapshot: (REC_ID, hash, version),
        from the first window of ``limit`` REC_IDs after ``after`` that holds any.

        One statement hashes one window, so no statement holds CAO's MyISAM read lock for a
        whole 100,000-article scan, and ``between`` (called before each window) can do other
        work in between: the producer's stock scan in follow mode.

        ``ids``: only these articles (the change signal named them), in one statement.
        """
        shops = self._category_shops(conn)
        having = (f"AND {EVERYTHING} " if everything
                  else "HAVING s.src_hash IS NULL OR s.src_hash <> h ")
        if ids is not None:
            named = sorted(i for i in ids if i > after)
            # Window after window of the named ids, as the full scan goes: an empty page
            # ends the caller's scan, so a window whose articles all kept their hash (a
            # stock booking) must not hide a changed one further on (review).
            for start in range(0, len(named), limit):
                chosen = named[start:start + limit]
                rows = conn.exec_driver_sql(
                    f"SELECT a.REC_ID, {self._hash_sql(len(shops))} AS h, s.version, "
                    f"s.src_hash FROM {self.t['ARTIKEL']} a LEFT JOIN {SNAPSHOT_TABLE} s "
                    f"ON s.entity_type = 'product' AND s.entity_key = a.REC_ID "
                    f"WHERE a.REC_ID IN ({', '.join(['%s'] * len(chosen))}) AND "
                    f"{self._selection()} {having}ORDER BY a.REC_ID",
                    (fingerprint, *shops, *chosen)).all()
                if rows:
                    return [(int(r[0]), bytes(r[1]), r[2]) for r in rows]
            return []
        while True:
            if between is not None:
                between()
                conn.commit()   # a new read view: the stock scan stored versions meanwhile
            end = conn.exec_driver_sql(
                f"SELECT MAX(w.REC_ID) FROM (SELECT REC_ID FROM {self.t['ARTIKEL']} "
                f"WHERE REC_ID > %s ORDER BY REC_ID LIMIT %s) w", (after, limit)).scalar()
            if end is None:
                return []
            rows = conn.exec_driver_sql(
                f"SELECT a.REC_ID, {self._hash_sql(len(shops))} AS h, s.version, s.src_hash "
                f"FROM {self.t['ARTIKEL']} a LEFT JOIN {SNAPSHOT_TABLE} s "
                f"ON s.entity_type = 'product' AND s.entity_key = a.REC_ID "
                f"WHERE a.REC_ID > %s AND a.REC_ID <= %s AND {self._selection()} {having}"
                f"ORDER BY a.REC_ID", (fingerprint, *shops, after, end)).all()
            if rows:
                return [(int(r[0]), bytes(r[1]), r[2]) for r in rows]
            after = int(end)

    def selected_ids(self, conn: Connection, *, after: int, limit: int) -> list[int]:
        """REC_IDs of up to ``limit`` selected articles after ``after`` (``shopbridge drift``:
        every article the producer publishes, without hashing them)."""
        rows = conn.exec_driver_sql(
            f"SELECT a.REC_ID FROM {self.t['ARTIKEL']} a WHERE a.REC_ID > %s AND "
            f"{self._selection()} ORDER BY a.REC_ID LIMIT %s", (after, limit))
        return [int(r[0]) for r in rows]

    def selected_among(self, conn: Connection, ids: Iterable[int]) -> set[int]:
        """Those of ``ids`` that are selected articles."""
        ids = list(ids)
        if not ids:
            return set()
        rows = conn.exec_driver_sql(
            f"SELECT a.REC_ID FROM {self.t['ARTIKEL']} a WHERE a.REC_ID IN "
            f"({', '.join(['%s'] * len(ids))}) AND {self._selection()}", tuple(ids))
        return {int(r[0]) for r in rows}

    def load_specials(self, conn: Connection, ids: Iterable[int]
                      ) -> dict[int, list[dict[str, Any]]]:
        """Special-offer windows of the given articles: ARTIKEL_ID -> [{PREIS, VON, BIS}]."""
        ids = list(ids)
        if not ids:
            return {}
        marks = ", ".join(["%s"] * len(ids))
        rows = conn.exec_driver_sql(
            f"SELECT p.ARTIKEL_ID, p.PREIS, p.GUELTIG_VON, p.GUELTIG_BIS "
            f"FROM {self.t['ARTIKEL_PREIS']} p WHERE p.ARTIKEL_ID BETWEEN %s AND %s "
            f"AND p.ARTIKEL_ID IN ({marks}) AND {SPECIAL_PRICES} "
            f"ORDER BY p.ARTIKEL_ID, p.GUELTIG_VON", (min(ids), max(ids), *ids))
        specials: dict[int, list[dict[str, Any]]] = {}
        for artikel_id, price, von, bis in rows:
            specials.setdefault(int(artikel_id), []).append(
                {"PREIS": price, "GUELTIG_VON": von, "GUELTIG_BIS": bis})
        return specials

    def load_tiers(self, conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Quantity-break row of the given articles: ARTIKEL_ID -> {MENGE2, PREIS2, ...}."""
        ids = list(ids)
        if not ids:
            return {}
        # The BETWEEN bound lets MariaDB use the key: a long IN list alone scans (load_specials).
        result = conn.exec_driver_sql(
            f"SELECT p.ARTIKEL_ID, {', '.join(f'p.{c}' for c in TIER_COLUMNS)} "
            f"FROM {self.t['ARTIKEL_PREIS']} p WHERE p.ARTIKEL_ID BETWEEN %s AND %s AND "
            f"p.ARTIKEL_ID IN ({', '.join(['%s'] * len(ids))}) AND {TIER_PRICES}",
            (min(ids), max(ids), *ids))
        keys = list(result.keys())
        return {int(row[0]): dict(zip(keys, row, strict=True)) for row in result}

    def load_category_keys(self, conn: Connection, ids: Iterable[int]) -> dict[int, list[str]]:
        """ARTIKEL_ID -> category entity keys ('kat:<SHOP_ID>:<KAT_ID>') of its shop links."""
        ids = list(ids)
        if not ids:
            return {}
        # By key range (SHOP_ID, then ARTIKEL_ID): MariaDB turns an IN list of 1,000 or more
        # into a join that reads the whole table, once per page.
        # The IN list as well: a page of a few scattered changes must not read the whole range.
        shops = self._category_shops(conn)
        rows = conn.exec_driver_sql(
            f"SELECT ARTIKEL_ID, SHOP_ID, KAT_ID FROM {self.t['ARTIKEL_TO_KAT']} WHERE "
            f"SHOP_ID IN ({', '.join(['%s'] * len(shops))}) AND ARTIKEL_ID BETWEEN %s AND %s "
            f"AND ARTIKEL_ID IN ({', '.join(['%s'] * len(ids))}) "
            f"AND DEL_FLAG = 'N' ORDER BY ARTIKEL_ID, SHOP_ID, KAT_ID",
            (*shops, min(ids), max(ids), *ids))
        keys: dict[int, list[str]] = {}
        for artikel_id, shop_id, kat_id in rows:
            keys.setdefault(int(artikel_id), []).append(
                category_key(SHOP_CATEGORIES, shop_id, kat_id))
        return keys

    def load_articles(self, conn: Connection, ids: Iterable[int]
                      ) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
        """Full rows of the given articles and their translations."""
        ids = list(ids)
        if not ids:
            return [], {}
        marks = ", ".join(["%s"] * len(ids))
        cols = ", ".join(f"a.{c}" for c in ("REC_ID", "MENGE_AKT", *self.article_columns))
        if self.date_column:    # CAST: some installations keep it as text
            cols += f", CAST(a.{self.date_column} AS DATE) AS DATE_AVAILABLE"
        articles = dicts(conn.exec_driver_sql(
            f"SELECT {cols} FROM {self.t['ARTIKEL']} a WHERE a.REC_ID IN ({marks}) "
            f"ORDER BY a.REC_ID", tuple(ids)))
        lcols = ", ".join(f"l.{c}" for c in ("ARTIKEL_ID", "SPRACHE_ID", *TRANSLATION_COLUMNS))
        result = conn.exec_driver_sql(
            f"SELECT {lcols} FROM {self.t['ARTIKEL_LTEXT']} l WHERE l.ARTIKEL_ID IN ({marks})",
            tuple(ids))
        return articles, grouped_by(result, "ARTIKEL_ID")

    def vanished(self, conn: Connection, *, after: int, limit: int,
                 ids: Collection[int] | None = None) -> list[tuple[int, int, str | None, bool]]:
        """Published articles no longer selected: (REC_ID, version, sku, still exists);
        ``ids``: only among these."""
        rows = conn.exec_driver_sql(
            f"SELECT s.entity_key, s.version, s.sku, "
            f"EXISTS (SELECT 1 FROM {self.t['ARTIKEL']} x WHERE x.REC_ID = s.entity_key) "
            f"FROM {SNAPSHOT_TABLE} s LEFT JOIN {self.t['ARTIKEL']} a "
            f"ON a.REC_ID = s.entity_key AND {self._selection()} "
            f"WHERE s.entity_type = 'product' AND s.deleted = 0 AND s.entity_key > %s "
            f"AND a.REC_ID IS NULL{_among(ids)} ORDER BY s.entity_key LIMIT %s",
            (after, *(ids or ()), limit))
        return [(int(r[0]), int(r[1]), r[2], bool(r[3])) for r in rows]

    def stock_changes(self, conn: Connection, *, after: int, limit: int,
                      ids: Collection[int] | None = None
                      ) -> list[tuple[int, Decimal, int, str | None]]:
        """Published articles whose stock differs from the last published stock (a master's
        stock is its children's sum, and a master one of whose children's stock changed is
        changed too, see variants); ``ids``: only among these."""
        join, stock, moved = self.variants.stock_sql(self.t["ARTIKEL"])
        rows = conn.exec_driver_sql(
            f"SELECT a.REC_ID, {stock}, s.version, s.sku FROM {SNAPSHOT_TABLE} s "
            f"JOIN {self.t['ARTIKEL']} a ON a.REC_ID = s.entity_key {join} "
            f"WHERE s.entity_type = 'product' AND s.deleted = 0 AND s.entity_key > %s "
            f"AND (NOT ({stock} <=> s.stock){moved}){_among(ids)} "
            f"ORDER BY s.entity_key LIMIT %s", (after, *(ids or ()), limit))
        return [(int(r[0]), Decimal(r[1]), int(r[2]), r[3]) for r in rows]

    def duplicate_skus(self, conn: Connection) -> list[tuple[str, list[int]]]:
        """ARTNUMs that more than one selected article carries (CAO does not forbid it)."""
        rows = conn.exec_driver_sql(
            f"SELECT a.ARTNUM, GROUP_CONCAT(a.REC_ID ORDER BY a.REC_ID) "
            f"FROM {self.t['ARTIKEL']} a WHERE {self._selection()} "
            f"GROUP BY a.ARTNUM HAVING COUNT(*) > 1 ORDER BY a.ARTNUM")
        return [(str(sku), [int(x) for x in str(ids).split(",")]) for sku, ids in rows]

    def articles_without_sku(self, conn: Connection) -> list[int]:
        cond = "a.SHOP_ID > 0 AND " if self.erp.selection == "shop" else ""
        rows = conn.exec_driver_sql(
            f"SELECT a.REC_ID FROM {self.t['ARTIKEL']} a "
            f"WHERE {cond}(a.ARTNUM IS NULL OR TRIM(a.ARTNUM) = '') ORDER BY a.REC_ID LIMIT 100")
        return [int(r[0]) for r in rows]


def _among(ids: Collection[int] | None) -> str:
    """SQL: `` AND s.entity_key IN (...)`` with a placeholder per id; empty for None."""
    if ids is None:
        return ""
    return f" AND s.entity_key IN ({', '.join(['%s'] * len(ids)) or 'NULL'})"


def fingerprint_of(language_codes: Mapping[int, str], vat_rates: Mapping[int, str],
                   default_language: str, format_version: int, variants: Any = None,
                   guard: Any = None) -> str:
    """What every article's payload depends on beyond its own rows: a change republishes all.
    ``variants`` (the variant settings) and ``guard`` (the oversell guard's shops and
    buffers) only count when set, so that tenants without them keep their fingerprint."""
    import hashlib

    text = repr((sorted(language_codes.items()), sorted(vat_rates.items()), default_language,
                 format_version) + ((variants,) if variants is not None else ())
                + ((guard,) if guard is not None else ()))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
