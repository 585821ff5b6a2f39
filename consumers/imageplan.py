"""The image plan of a product batch (C9), shop-neutral: which products' images the ERP sets
and which files follow them into the shop's folder.

The ERP owns a product's images only where it names some: an ERP without images must not wipe
what the shop's admin keeps (docs/architecture.md, "Images"). A shop kind writes the names
into its own columns (``ImageColumns``); the files are registered in the same transaction and
copied after the commit (consumers/imagefiles.py), where a file transfer is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import ShopConfig
from shopbridge.db import has_table

if TYPE_CHECKING:  # fsspec is imported only where a file transfer is configured
    from .imagefiles import ImageFiles


class ImageColumns(Protocol):
    """Where a shop kind keeps a product's image names."""

    def write(self, conn: Connection, images: Mapping[int, Sequence[str]],
              now: datetime) -> None:
        """Make each product's images exactly these names (main image first), by shop id;
        ``now``: the batch's time, for rows the kind stamps."""
        ...

    def linked(self, conn: Connection) -> Iterable[tuple[str, str]]:
        """(name, SKU) of every image of the products shopbridge links, names that pass the
        shop's name check only (an admin may have typed anything into these columns)."""
        ...


def image_files(shop: ShopConfig, engine: sa.Engine) -> ImageFiles | None:
    """The shop's file transfer, or None where no image folders are configured."""
    if shop.images is None:
        return None
    from .folders import Folder
    from .imagefiles import ImageFiles

    return ImageFiles(source=Folder(shop.images.source), target=Folder(shop.images.target),
                      engine=engine, scan_s=shop.images.scan_s)


class ProductImages:
    """Writes a batch's image names and registers their files.

    Args:
        columns: the shop kind's image columns.
        files: the file transfer, or None (names only: the shop's files are managed elsewhere).
    """

    def __init__(self, columns: ImageColumns, files: ImageFiles | None = None) -> None:
        self.columns = columns
        self.files = files

    def ensure_table(self, conn: Connection) -> None:
        """Create the bookkeeping table; when it is new, register the images of the products
        shopbridge already wrote (the file transfer may be configured after a names-only run)."""
        if self.files is None:
            return
        from .imagefiles import TABLE

        existed = has_table(conn, TABLE)
        self.files.ensure_table(conn)
        if not existed:
            self.files.register(conn, dict(self.columns.linked(conn)))

    def write(self, conn: Connection, products: Mapping[int, tuple[str, Sequence[str]]],
              now: datetime) -> list[str]:
        """Set the images of the products whose ERP data names some: shop id -> (SKU, names).

        Returns:
            the file names to copy after the commit (none without a file transfer).
        """
        owned = {pid: names for pid, (_, names) in products.items() if names}
        if not owned:
            return []
        self.columns.write(conn, owned, now)
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
