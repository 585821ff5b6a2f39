"""CAO variant articles (C8): the one place that decides which article is a child of which.

CAO keeps variants as ordinary ARTIKEL rows (the children) with DIM_A / DIM_B / DIM_C values,
e.g. colour and size (cao-faktura NOTES 2). The known DDL lets ARTIKEL_VAR hold only one row
per master (its primary key is MASTER_ARTIKEL_ID alone), so it cannot list every child; the
default rule therefore is the article number (DESIGN 4a):

- ``artnum``: an article with at least one DIM value whose ARTNUM is another article's ARTNUM
  plus the separator plus a suffix is a child of that article ("4711-BL-XL" of "4711"). The
  longest such article number wins, compared without regard to case as CAO's latin1 columns
  compare; a child of a child belongs to the top master (no nested variants in a shop).
- ``artikel_var``: every ARTIKEL_VAR row makes SLAVE_ARTIKEL_ID a child of MASTER_ARTIKEL_ID,
  with the row's DIM values (or the child's own where the row has none). Where the live key
  allows several rows per master, all are used.
- ``both`` (default): ARTIKEL_VAR first, the article number rule for the rest.

An article without any DIM value is never a child: there would be nothing to choose.

The result is kept in the producer's own InnoDB table ``shopbridge_variant`` beside CAO's
tables, refreshed once per full cycle, so that the article scan's SQL can (a) leave children
out of the selection (they are never products of their own; one published earlier is
withdrawn as 'deselected'), (b) fold the children into their master's snapshot hash, and
(c) let the fast stock scan compare a master's stock with the sum of its children's, and each
child's stock with the one last published for it (``published_stock``): a shop whose children
are products of their own needs every child's stock, also when two of them change in
opposite directions and the sum stays (stock.changed v2 carries them all).

A master's stock is the sum of its children's stock, each counted as at least 0 (an oversold
variant cannot lend stock to another); its own MENGE_AKT is not used while it has children.
Children with SHOP_DEL_FLAG 'Y' stay children (never products) but are left out of the
master's variants and its stock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.config import VARIANT_DIMENSIONS, ErpConfig, VariantConfig
from shopbridge.db import TableNames, columns_of, quote_ident, update_by_key
from shopbridge.owntables import OwnTable, ensure

from .rows import grouped_by
from .snapshot import hash_parts

VARIANT_TABLE = "shopbridge_variant"
DIM_COLUMNS = ("DIM_A", "DIM_B", "DIM_C")
VAR_COLUMNS = ("MASTER_ARTIKEL_ID", "SLAVE_ARTIKEL_ID", *DIM_COLUMNS)
LOOKUP_CHUNK = 1000         # ARTNUMs per IN list when looking masters up
PRICE_COLUMNS = tuple(f"VK{n}{g}" for n in range(1, 6) for g in ("", "B"))

DDL = f"""
CREATE TABLE IF NOT EXISTS {VARIANT_TABLE} (
  child_id BIGINT NOT NULL,
  master_id BIGINT NOT NULL,
  dim_a VARCHAR(64) NULL,
  dim_b VARCHAR(64) NULL,
  dim_c VARCHAR(64) NULL,
  published_stock DECIMAL(12,4) NULL,
  PRIMARY KEY (child_id),
  KEY idx_shopbridge_variant_master (master_id, child_id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1
"""
# published_stock: the child's MENGE_AKT as last published (in its master's product.upserted
# or stock.changed); NULL: not yet.
TABLE = OwnTable(VARIANT_TABLE, DDL, added={"published_stock": "DECIMAL(12,4) NULL"})

Dims = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article that may be a child: it has at least one DIM value."""

    rec_id: int
    artnum: str
    dims: Dims


def clean_dims(values: Sequence[Any]) -> Dims:
    """DIM_A..C as stripped text, None for NULL and blank."""
    out = [str(v).strip() or None if v is not None else None for v in values]
    return out[0], out[1], out[2]


def master_artnums(artnum: str, separator: str) -> list[str]:
    """Possible master article numbers of ``artnum``, longest first.

    >>> master_artnums("AB-1-XL", "-")
    ['AB-1', 'AB']
    """
    found, start = [], 1
    while (pos := artnum.find(separator, start)) != -1:
        if pos + len(separator) < len(artnum):
            found.append(artnum[:pos])
        start = pos + 1
    return found[::-1]


def match(candidates: Iterable[Candidate], masters: Mapping[str, int],
          slaves: Mapping[int, tuple[int, Dims]], *, separator: str, source: str
          ) -> dict[int, tuple[int, Dims]]:
    """Children by the configured rule: child REC_ID -> (master REC_ID, dims).

    Args:
        candidates: articles with at least one DIM value.
        masters: upper-cased ARTNUM -> REC_ID of the articles the candidates' prefixes name.
        slaves: ARTIKEL_VAR, SLAVE_ARTIKEL_ID -> (MASTER_ARTIKEL_ID, dims) (already merged
            with the slave's own DIM values).
        source: 'both', 'artnum' or 'artikel_var'.
    """
    parent: dict[int, tuple[int, Dims]] = {}
    if source in ("both", "artikel_var"):
        for child, (master, dims) in slaves.items():
            if child != master and any(dims):
                parent[child] = (master, dims)
    if source in ("both", "artnum"):
        for c in candidates:
            if c.rec_id in parent or not any(c.dims):
                continue
            for prefix in master_artnums(c.artnum, separator):
                found = masters.get(prefix.upper())
                if found is not None and found != c.rec_id:
                    parent[c.rec_id] = (found, c.dims)
                    break
    children: dict[int, tuple[int, Dims]] = {}
    for child, (master, dims) in parent.items():
        seen = {child}
        while master in parent and master not in seen:   # a child of a child: the top one
            seen.add(master)
            master = parent[master][0]
        if master not in seen:
            children[child] = (master, dims)
    return children


def attach(body: dict[str, Any], children: Sequence[Mapping[str, Any]],
           config: VariantConfig) -> None:
    """Add the children to a master's product.upserted payload (in place).

    Sets ``variants`` (one entry per child, in the given order), ``variant_options`` (the
    configured names of the dimensions in use) and the master's ``stock`` (the children's
    sum). A master without children is left as it is.
    """
    if not children:
        return
    items: list[dict[str, Any]] = []
    used: set[str] = set()
    for child in children:
        dims = {d: v for d, v in zip(VARIANT_DIMENSIONS, clean_dims(
            [child["dim_a"], child["dim_b"], child["dim_c"]]), strict=True) if v}
        used.update(dims)
        items.append({
            "erp_id": int(child["REC_ID"]), "sku": str(child["ARTNUM"]).strip(), "dims": dims,
            "prices": {str(n): {"net": str(Decimal(child[f"VK{n}"] or 0)),
                                "gross": str(Decimal(child[f"VK{n}B"] or 0))}
                       for n in range(1, 6)},
            "stock": str(Decimal(child["MENGE_AKT"] or 0))})   # as child_stocks reads it
    body["variants"] = items
    body["variant_options"] = {d: dict(config.names[d]) for d in sorted(used)
                               if d in config.names}
    body["stock"] = str(master_stock(Decimal(i["stock"]) for i in items))


def master_stock(child_stocks: Iterable[Decimal]) -> Decimal:
    """A master's stock: its children's sum, each counted as at least 0 (see above)."""
    return sum((max(stock, Decimal(0)) for stock in child_stocks), Decimal("0.0000"))


def child_stocks(children: Iterable[Mapping[str, Any]]) -> list[tuple[int, Decimal]]:
    """(REC_ID, stock) of loaded child rows (``VariantSource.load``), as published."""
    return [(int(c["REC_ID"]), Decimal(c["MENGE_AKT"] or 0)) for c in children]


def config_key(config: VariantConfig) -> tuple[Any, ...] | None:
    """What of the configuration every article's payload depends on (None: disabled)."""
    if not config.enabled:
        return None
    return (config.separator, config.source,
            sorted((d, sorted(n.items())) for d, n in config.names.items()))


class VariantSource:
    """Finds the children in one tenant's CAO database and keeps ``shopbridge_variant``.

    Args:
        erp: the tenant's ERP settings (``erp.variants``).
    """

    def __init__(self, erp: ErpConfig) -> None:
        self.config = erp.variants
        self.artikel_var: str | None = None

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def ensure_table(self, conn: Connection) -> None:
        if self.enabled:
            ensure(conn, TABLE)

    def resolve(self, conn: Connection) -> None:
        """Find ARTIKEL_VAR (optional: without it only the ARTNUM rule applies)."""
        found = TableNames.read(conn).find("ARTIKEL_VAR")
        self.artikel_var = quote_ident(found) if found else None

    def schema_problems(self, conn: Connection, artikel: str) -> list[str]:
        """Lines for what the configured rule needs but the database lacks (``artikel``: the
        real, unquoted name)."""
        if not self.enabled:
            return []
        problems = [f"CAO table {artikel}: column {c} missing (variants)"
                    for c in DIM_COLUMNS if c not in columns_of(conn, artikel)]
        found = TableNames.read(conn).find("ARTIKEL_VAR")
        if found is None and self.config.source == "artikel_var":
            problems.append("CAO table ARTIKEL_VAR missing (variants.source = 'artikel_var')")
        elif found is not None and self.config.source != "artnum":
            have = columns_of(conn, found)
            problems += [f"CAO table {found}: column {c} missing (variants)"
                         for c in VAR_COLUMNS if c not in have]
        return problems

    # -- the rule against the database ---------------------------------------------------

    def find(self, conn: Connection, artikel: str) -> dict[int, tuple[int, Dims]]:
        """Every child by the configured rule: child REC_ID -> (master REC_ID, dims)."""
        if self.artikel_var is None:
            self.resolve(conn)
        dims_set = " OR ".join(f"IFNULL(TRIM({c}), '') <> ''" for c in DIM_COLUMNS)
        candidates = []
        if self.config.source != "artikel_var":
            rows = conn.exec_driver_sql(
                f"SELECT REC_ID, ARTNUM, DIM_A, DIM_B, DIM_C FROM {artikel} "
                f"WHERE LOCATE(%s, ARTNUM) > 1 AND ({dims_set}) ORDER BY REC_ID",
                (self.config.separator,))
            candidates = [Candidate(int(r[0]), str(r[1]).strip(), clean_dims(r[2:]))
                          for r in rows]
        prefixes = sorted({p.upper() for c in candidates
                           for p in master_artnums(c.artnum, self.config.separator)})
        masters: dict[str, int] = {}
        for start in range(0, len(prefixes), LOOKUP_CHUNK):
            chunk = prefixes[start:start + LOOKUP_CHUNK]
            for rec_id, artnum in conn.exec_driver_sql(
                    f"SELECT REC_ID, ARTNUM FROM {artikel} WHERE ARTNUM IN "
                    f"({', '.join(['%s'] * len(chunk))}) ORDER BY REC_ID", tuple(chunk)):
                masters.setdefault(str(artnum).strip().upper(), int(rec_id))  # lowest REC_ID
        return match(candidates, masters, self._slaves(conn, artikel),
                     separator=self.config.separator, source=self.config.source)

    def _slaves(self, conn: Connection, artikel: str) -> dict[int, tuple[int, Dims]]:
        if self.config.source == "artnum" or self.artikel_var is None:
            return {}
        rows = conn.exec_driver_sql(
            f"SELECT v.SLAVE_ARTIKEL_ID, v.MASTER_ARTIKEL_ID, v.DIM_A, v.DIM_B, v.DIM_C, "
            f"c.DIM_A, c.DIM_B, c.DIM_C FROM {self.artikel_var} v "
            f"JOIN {artikel} c ON c.REC_ID = v.SLAVE_ARTIKEL_ID "
            f"JOIN {artikel} m ON m.REC_ID = v.MASTER_ARTIKEL_ID")
        slaves = {}
        for r in rows:
            own, theirs = clean_dims(r[2:5]), clean_dims(r[5:8])
            slaves[int(r[0])] = (int(r[1]), own if any(own) else theirs)
        return slaves

    def refresh(self, conn: Connection, artikel: str) -> int:
        """Make ``shopbridge_variant`` what the rule says now; returns the rows changed."""
        if not self.enabled:
            return 0
        wanted = self.find(conn, artikel)
        have = {int(r[0]): (int(r[1]), (r[2], r[3], r[4])) for r in conn.exec_driver_sql(
            f"SELECT child_id, master_id, dim_a, dim_b, dim_c FROM {VARIANT_TABLE}")}
        gone = sorted(set(have) - set(wanted))
        changed = [(child, master, *dims) for child, (master, dims) in sorted(wanted.items())
                   if have.get(child) != (master, dims)]
        for start in range(0, len(gone), LOOKUP_CHUNK):
            chunk = gone[start:start + LOOKUP_CHUNK]
            conn.exec_driver_sql(f"DELETE FROM {VARIANT_TABLE} WHERE child_id IN "
                                 f"({', '.join(['%s'] * len(chunk))})", tuple(chunk))
        if changed:
            conn.exec_driver_sql(
                f"INSERT INTO {VARIANT_TABLE} (child_id, master_id, dim_a, dim_b, dim_c) "
                f"VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                f"master_id = VALUES(master_id), dim_a = VALUES(dim_a), "
                f"dim_b = VALUES(dim_b), dim_c = VALUES(dim_c)", changed)
        return len(gone) + len(changed)

    def masters_of(self, conn: Connection, ids: Iterable[int]) -> set[int]:
        """The masters of those of ``ids`` that are children (the change signal's articles:
        a child's change is its master's)."""
        ids = list(ids)
        if not self.enabled or not ids:
            return set()
        out: set[int] = set()
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start:start + LOOKUP_CHUNK]
            out |= {int(r[0]) for r in conn.exec_driver_sql(
                f"SELECT DISTINCT master_id FROM {VARIANT_TABLE} WHERE child_id IN "
                f"({', '.join(['%s'] * len(chunk))})", tuple(chunk))}
        conn.commit()
        return out

    def load(self, conn: Connection, artikel: str, master_ids: Iterable[int]
             ) -> dict[int, list[dict[str, Any]]]:
        """The live (not delete-flagged) children of these masters, in CAO order (REC_ID)."""
        ids = list(master_ids)
        if not self.enabled or not ids:
            return {}
        cols = ", ".join(f"c.{c}" for c in ("REC_ID", "ARTNUM", "MENGE_AKT", *PRICE_COLUMNS))
        result = conn.exec_driver_sql(
            f"SELECT v.master_id, v.dim_a, v.dim_b, v.dim_c, {cols} FROM {VARIANT_TABLE} v "
            f"JOIN {artikel} c ON c.REC_ID = v.child_id WHERE v.master_id IN "
            f"({', '.join(['%s'] * len(ids))}) AND c.SHOP_DEL_FLAG <> 'Y' "
            f"ORDER BY v.master_id, c.REC_ID", tuple(ids))
        return grouped_by(result, "master_id")

    def stocks(self, conn: Connection, artikel: str, master_ids: Iterable[int]
               ) -> dict[int, list[tuple[int, Decimal]]]:
        """Master REC_ID -> (child REC_ID, MENGE_AKT) of its live children, in CAO order."""
        ids = list(master_ids)
        if not self.enabled or not ids:
            return {}
        stocks: dict[int, list[tuple[int, Decimal]]] = {}
        for master, child, stock in conn.exec_driver_sql(
                f"SELECT v.master_id, v.child_id, c.MENGE_AKT FROM {VARIANT_TABLE} v "
                f"JOIN {artikel} c ON c.REC_ID = v.child_id WHERE v.master_id IN "
                f"({', '.join(['%s'] * len(ids))}) AND c.SHOP_DEL_FLAG <> 'Y' "
                f"ORDER BY v.master_id, c.REC_ID", tuple(ids)):
            stocks.setdefault(int(master), []).append((int(child), Decimal(stock or 0)))
        return stocks

    def store_published_stock(self, conn: Connection,
                              stocks: Sequence[tuple[int, Decimal]]) -> None:
        """Record (child REC_ID, stock) as published, after the broker confirmed them."""
        if self.enabled and stocks:
            update_by_key(conn, VARIANT_TABLE, "child_id", "published_stock", stocks,
                          chunk=LOOKUP_CHUNK)

    def check(self, conn: Connection, artikel: str, languages: Iterable[str]
              ) -> tuple[list[str], list[str]]:
        """(problems, notes) for ``shopbridge check``: dimensions in use without an option
        name (their masters would be dead-lettered), languages that fall back."""
        if not self.enabled:
            return [], []
        children = self.find(conn, artikel)
        used: dict[str, int] = {}
        for _, dims in children.values():
            for dim, value in zip(VARIANT_DIMENSIONS, dims, strict=True):
                if value:
                    used[dim] = used.get(dim, 0) + 1
        problems = [f"variants: {n} child article(s) use DIM_{dim}, which has no option name "
                    f"(set [tenants.erp.variants.names] {dim} = {{ de = \"...\" }})"
                    for dim, n in sorted(used.items()) if dim not in self.config.names]
        notes = [f"variants: {len({m for m, _ in children.values()})} master(s) with "
                 f"{len(children)} child article(s)"]
        for code in sorted(set(languages)):
            notes += [f"variants: option {dim} has no name in {code!r}: the shop shows "
                      f"{next(iter(self.config.names[dim].values()))!r} (or the product's "
                      f"first text language's name)" for dim in sorted(used)
                      if dim in self.config.names and code not in self.config.names[dim]]
        return problems, notes

    # -- SQL fragments for the article scan (CaoSource) ----------------------------------

    def not_a_child_sql(self) -> str:
        """Selection condition on ARTIKEL ``a``: children are never products of their own."""
        if not self.enabled:
            return ""
        return (f" AND NOT EXISTS (SELECT 1 FROM {VARIANT_TABLE} v "
                f"WHERE v.child_id = a.REC_ID)")

    def hash_sql(self, artikel: str) -> str:
        """An extra CONCAT_WS argument for the snapshot hash of ``a``: its children's state.

        Stock is left out, as for every article: the stock scan publishes it.
        """
        if not self.enabled:
            return ""
        columns = hash_parts("c", ("ARTNUM", "SHOP_DEL_FLAG", *PRICE_COLUMNS))
        return (f", IFNULL((SELECT GROUP_CONCAT(MD5(CONCAT_WS(_binary'|', "
                f"CAST(v.child_id AS BINARY), CAST(QUOTE(v.dim_a) AS BINARY), "
                f"CAST(QUOTE(v.dim_b) AS BINARY), CAST(QUOTE(v.dim_c) AS BINARY), {columns})) "
                f"ORDER BY v.child_id SEPARATOR ',') FROM {VARIANT_TABLE} v "
                f"JOIN {artikel} c ON c.REC_ID = v.child_id WHERE v.master_id = a.REC_ID), "
                f"_binary'-')")

    def stock_sql(self, artikel: str) -> tuple[str, str, str]:
        """(JOIN clause, stock expression, extra change condition) for the stock scan over
        ARTIKEL ``a``; the condition (empty or `` OR ...``) adds masters one of whose
        children's stock differs from the one last published, whatever the sum.

        The children's sums are one small derived table (only children are read), joined
        to the published articles, instead of a subquery per published article.
        """
        if not self.enabled:
            return "", "a.MENGE_AKT", ""
        return (f"LEFT JOIN (SELECT v.master_id, SUM(GREATEST(c.MENGE_AKT, 0)) AS qty, "
                f"MAX(NOT (c.MENGE_AKT <=> v.published_stock)) AS moved "
                f"FROM {VARIANT_TABLE} v JOIN {artikel} c ON c.REC_ID = v.child_id "
                f"WHERE c.SHOP_DEL_FLAG <> 'Y' GROUP BY v.master_id) vq "
                f"ON vq.master_id = a.REC_ID", "IFNULL(vq.qty, a.MENGE_AKT)",
                " OR vq.moved = 1")
