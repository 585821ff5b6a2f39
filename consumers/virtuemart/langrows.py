"""The language rows of products, categories and manufacturers (``<table>_<lang>``).

VirtueMart loads a single item with an INNER JOIN on its language table and errors out
("Empty slug") without a row, so every writer writes one row per active language (NOTES 2,
10). A slug is made once, when the row is first written, and kept afterwards: links and
search engines keep working after a rename, and a slug the merchant edited stays his.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Connection

from shopbridge.db import marks

from .slugs import slugify, unique_slugs


def write_language_rows(conn: Connection, table: str, id_column: str,
                        rows: Sequence[tuple[int, Mapping[str, object], str]], *,
                        fresh: bool = False) -> None:
    """Insert or update one language row per item: (item id, column -> value, slug source).

    Only the given columns change on an existing row; its slug stays. A new row's slug comes
    from its slug source (the name), unique within ``table``.

    Args:
        fresh: every item was inserted in this transaction, so none has a row yet: a plain
            INSERT without the locking read (a row there after all fails loudly).
    """
    if not rows:
        return
    ids = [item_id for item_id, _, _ in rows]
    existing: dict[int, str] = {} if fresh else {
        int(r[0]): str(r[1]) for r in conn.exec_driver_sql(
            f"SELECT {id_column}, slug FROM {table} WHERE {id_column} IN "
            f"({marks(ids)}) FOR UPDATE", tuple(ids))}
    new = [(i, values, source) for i, values, source in rows if i not in existing]
    slugs = unique_slugs(conn, table, [slugify(source, fallback=f"item-{i}")
                                       for i, _, source in new])
    slug_of = dict(existing)
    slug_of.update((i, slug) for (i, _, _), slug in zip(new, slugs, strict=True))
    columns = list(rows[0][1])
    insert = [id_column, *columns, "slug"]
    # An existing row is sent with its own slug, so both unique keys (id and slug) name
    # the same row and ON DUPLICATE KEY cannot update another one.
    upsert = "" if fresh else " ON DUPLICATE KEY UPDATE " + ", ".join(
        f"{c} = VALUES({c})" for c in columns)
    params = [(i, *(values[c] for c in columns), slug_of[i]) for i, values, _ in rows]
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(insert)}) VALUES "
        f"({marks(insert)}){upsert}", params)
