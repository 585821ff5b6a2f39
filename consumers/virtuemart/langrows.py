"""The language rows of products, categories and manufacturers (``<table>_<lang>``).

VirtueMart loads a single item with an INNER JOIN on its language table and errors out
("Empty slug") without a row, so every writer writes one row per active language (NOTES 2,
10). A slug is made once, when the row is first written, and kept afterwards: links and
search engines keep working after a rename, and a slug the merchant edited stays his.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.db import marks
from shopbridge.errors import TransientDatabaseError

from .slugs import slugify, unique_slugs

DUPLICATE_KEY = 1062


def write_language_rows(conn: Connection, table: str, id_column: str,
                        rows: Sequence[tuple[int, Mapping[str, object], str]], *,
                        fresh: bool = False) -> None:
    """Insert or update one language row per item: (item id, column -> value, slug source).

    Only the given columns change on an existing row; its slug stays. A new row's slug comes
    from its slug source (the name), unique within ``table``.

    Args:
        fresh: every item was inserted in this transaction, so none has a row yet: no
            locking read first.

    Raises:
        TransientDatabaseError: a new row's id or slug was written by another consumer
            since (the batch is applied again and finds it).
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
    names = [id_column, *columns, "slug"]
    insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks(names)})"
    params = {i: (i, *(values[c] for c in columns), slug_of[i]) for i, values, _ in rows}
    if existing:
        # An existing row is sent with its own slug, so both unique keys (id and slug) name
        # the same row and ON DUPLICATE KEY cannot update another one.
        conn.exec_driver_sql(
            f"{insert} ON DUPLICATE KEY UPDATE "
            + ", ".join(f"{c} = VALUES({c})" for c in columns),
            [params[i] for i in ids if i in existing])
    if new:
        # A plain INSERT: a new row's slug is free as ``unique_slugs`` read the table, but
        # another consumer may take it before this commits, and ON DUPLICATE KEY would then
        # rewrite that consumer's row. The duplicate fails the batch, which finds the slug
        # taken when it is applied again.
        try:
            conn.exec_driver_sql(insert, [params[i] for i, _, _ in new])
        except sa.exc.IntegrityError as err:
            if getattr(err.orig, "args", (None,))[0] != DUPLICATE_KEY:
                raise
            raise TransientDatabaseError(
                f"{table}: a row or slug of {', '.join(repr(s) for s in slugs[:3])} was "
                f"written by another consumer meanwhile") from err
