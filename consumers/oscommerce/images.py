"""Product images in Phoenix (C9): the main image and the gallery, as the ERP has them.

Phoenix keeps the main image in ``products.products_image`` and further ones in
``products_images`` (image, sort_order NOT NULL, htmlcontent optional), file names relative
to the catalog's ``images/`` folder, varchar(255) (NOTES 2). The ERP owns the set: the first
ERP image is the main one, the others are the gallery in ERP order, duplicates collapsed;
an image removed in the ERP leaves the gallery. Gallery rows that stay keep their id and
htmlcontent. Which products' images are written and which files are copied is the image plan
(consumers/imageplan.py); the names are checked by ``consumers.catalogue.image_names``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import delete_in, marks

from .. import catalogue
from .tables import NAME_MAX

CHUNK = 1000
COLUMN = "products_image"       # the shortest column a name is written to


def image_names(payload: Mapping[str, Any], what: str) -> tuple[str, ...]:
    """The product's image file names (``consumers.catalogue.image_names``) as Phoenix takes
    them.

    Raises:
        MappingError: naming ``payload.images[i]`` when a name is not a safe relative path.
    """
    return catalogue.image_names(payload, what, max_length=NAME_MAX, column=COLUMN)


class PhoenixImageColumns:
    """``products.products_image`` and ``products_images`` (an ``imageplan.ImageColumns``)."""

    def linked(self, conn: Connection) -> Iterator[tuple[str, str]]:
        rows = conn.exec_driver_sql(
            "SELECT p.products_image, p.products_model FROM products p JOIN shopbridge_link l "
            "ON l.entity_type = 'product' AND l.target_id = p.products_id "
            "WHERE p.products_image IS NOT NULL UNION ALL "
            "SELECT i.image, p.products_model FROM products_images i JOIN products p "
            "ON p.products_id = i.products_id JOIN shopbridge_link l "
            "ON l.entity_type = 'product' AND l.target_id = p.products_id "
            "WHERE i.image IS NOT NULL")
        for name, sku in rows:
            if name and catalogue.image_name_problem(name, max_length=NAME_MAX,
                                                     column=COLUMN) is None:
                yield name, sku

    def write(self, conn: Connection, images: Mapping[int, Sequence[str]],
              now: datetime) -> None:
        ids = sorted(images)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            self._main(conn, {pid: images[pid] for pid in chunk})
            self._gallery(conn, {pid: images[pid][1:] for pid in chunk})

    @staticmethod
    def _main(conn: Connection, images: Mapping[int, Sequence[str]]) -> None:
        # One UPDATE per chunk: PyMySQL would send an executemany UPDATE row by row.
        ids = list(images)
        params: list[object] = []
        for pid in ids:
            params += [pid, images[pid][0] if images[pid] else None]
        conn.exec_driver_sql(
            f"UPDATE products SET products_image = CASE products_id "
            f"{' '.join(['WHEN %s THEN %s'] * len(ids))} END "
            f"WHERE products_id IN ({marks(ids)})", (*params, *ids))

    @staticmethod
    def _gallery(conn: Connection, images: Mapping[int, Sequence[str]]) -> None:
        ids = list(images)
        wanted = {(pid, name): sort for pid in ids
                  for sort, name in enumerate(images[pid], start=1)}
        drop: list[int] = []
        resort: list[tuple[int, int]] = []
        for row_id, pid, image, sort in conn.exec_driver_sql(
                f"SELECT id, products_id, image, sort_order FROM products_images "
                f"WHERE products_id IN ({marks(ids)}) ORDER BY id",
                tuple(ids)):
            want = wanted.pop((pid, image), None)
            if want is None:
                drop.append(row_id)         # not in the ERP (any more), or a duplicate
            elif want != sort:
                resort.append((want, row_id))
        delete_in(conn, "products_images", "id", drop)
        for sort, row_id in resort:
            conn.exec_driver_sql("UPDATE products_images SET sort_order = %s WHERE id = %s",
                                 (sort, row_id))
        if wanted:
            conn.exec_driver_sql(
                "INSERT INTO products_images (products_id, image, sort_order) VALUES (%s, %s, %s)",
                [(pid, name, sort) for (pid, name), sort in wanted.items()])
