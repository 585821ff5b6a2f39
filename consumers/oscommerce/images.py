"""Product images in Phoenix (C9): the main image and the gallery, as the ERP has them.

Phoenix keeps the main image in ``products.products_image`` and further ones in
``products_images`` (image, sort_order NOT NULL, htmlcontent optional), file names relative
to the catalog's ``images/`` folder, varchar(255) (NOTES 2). The ERP owns the set: the first
ERP image is the main one, the others are the gallery in ERP order, duplicates collapsed;
an image removed in the ERP leaves the gallery. Gallery rows that stay keep their id and
htmlcontent.

Names are checked before anything is written: they become paths below the shop's images
folder, so '..', absolute paths and backslashes are refused (MappingError naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.errors import MappingError

from .tables import NAME_MAX

if TYPE_CHECKING:  # the mapper imports this module and stays free of fsspec
    from ..imagefiles import ImageFiles

CHUNK = 1000


def image_names(payload: Mapping[str, Any], what: str) -> tuple[str, ...]:
    """The product's image file names in ERP order, duplicates collapsed.

    Raises:
        MappingError: naming ``payload.images[i]`` when a name is not a safe relative path.
    """
    names: list[str] = []
    for index, name in enumerate(payload.get("images") or []):
        problem = _problem(name)
        if problem:
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise MappingError(f"{what}: field payload.images[{index}]: {shown!r} {problem}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _problem(name: str) -> str | None:
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; products_image holds {NAME_MAX}"
    if "\\" in name:
        return "contains a backslash: write folders with '/'"
    if name.startswith("/"):
        return "is an absolute path: names are relative to the shop's images folder"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "contains a control character"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' path part (it must stay inside the images folder)"
    return None


def image_files(shop: ShopConfig, engine: sa.Engine) -> ImageFiles | None:
    """The shop's file transfer, or None where no image folders are configured."""
    if shop.images is None:
        return None
    from ..folders import Folder
    from ..imagefiles import ImageFiles

    return ImageFiles(source=Folder(shop.images.source), target=Folder(shop.images.target),
                      engine=engine, scan_s=shop.images.scan_s)


class ProductImages:
    """Writes the image rows; registers the files with ``files`` where copying is configured.

    Args:
        files: the file transfer, or None (names only: the shop's files are managed elsewhere).
    """

    def __init__(self, files: ImageFiles | None = None) -> None:
        self.files = files

    def ensure_table(self, conn: Connection) -> None:
        """Create the bookkeeping table; when it is new, register the images of the products
        shopbridge already wrote (the file transfer may be configured after a names-only run)."""
        if self.files is None:
            return
        from ..imagefiles import TABLE

        existed = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s", (TABLE,)).scalar()
        self.files.ensure_table(conn)
        if existed:
            return
        rows = conn.exec_driver_sql(
            "SELECT p.products_image, p.products_model FROM products p JOIN shopbridge_link l "
            "ON l.entity_type = 'product' AND l.target_id = p.products_id "
            "WHERE p.products_image IS NOT NULL UNION ALL "
            "SELECT i.image, p.products_model FROM products_images i JOIN products p "
            "ON p.products_id = i.products_id JOIN shopbridge_link l "
            "ON l.entity_type = 'product' AND l.target_id = p.products_id "
            "WHERE i.image IS NOT NULL")
        # Checked like an event's names: an admin may have typed anything into these columns.
        self.files.register(conn, {name: sku for name, sku in rows
                                   if name and _problem(name) is None})

    def write(self, conn: Connection, products: Mapping[int, tuple[str, Sequence[str]]]
              ) -> list[str]:
        """Make each product's images exactly these: products_id -> (SKU, names).

        Returns:
            the file names to copy after the commit (none without a file transfer).
        """
        if not products:
            return []
        ids = sorted(products)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            self._main(conn, {pid: products[pid][1] for pid in chunk})
            self._gallery(conn, {pid: products[pid][1][1:] for pid in chunk})
        if self.files is None:
            return []
        return self.files.register(conn, {name: sku for sku, names in products.values()
                                          for name in names})

    def copy(self, names: Sequence[str]) -> None:
        """After the commit: copy the files that are not in the shop yet."""
        if self.files is not None and names:
            self.files.copy(names)

    def tick(self) -> None:
        if self.files is not None:
            self.files.tick()

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
            f"WHERE products_id IN ({', '.join(['%s'] * len(ids))})", (*params, *ids))

    @staticmethod
    def _gallery(conn: Connection, images: Mapping[int, Sequence[str]]) -> None:
        ids = list(images)
        wanted = {(pid, name): sort for pid in ids
                  for sort, name in enumerate(images[pid], start=1)}
        drop: list[int] = []
        resort: list[tuple[int, int]] = []
        for row_id, pid, image, sort in conn.exec_driver_sql(
                f"SELECT id, products_id, image, sort_order FROM products_images "
                f"WHERE products_id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id",
                tuple(ids)):
            want = wanted.pop((pid, image), None)
            if want is None:
                drop.append(row_id)         # not in the ERP (any more), or a duplicate
            elif want != sort:
                resort.append((want, row_id))
        if drop:
            conn.exec_driver_sql(f"DELETE FROM products_images WHERE id IN "
                                 f"({', '.join(['%s'] * len(drop))})", tuple(drop))
        for sort, row_id in resort:
            conn.exec_driver_sql("UPDATE products_images SET sort_order = %s WHERE id = %s",
                                 (sort, row_id))
        if wanted:
            conn.exec_driver_sql(
                "INSERT INTO products_images (products_id, image, sort_order) VALUES (%s, %s, %s)",
                [(pid, name, sort) for (pid, name), sort in wanted.items()])
