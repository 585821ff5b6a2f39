"""Product images in VirtueMart (C9): one ``medias`` row per file, linked to products in order.

VirtueMart keeps a product's images as rows of ``<prefix>virtuemart_medias`` (one per file
URL, relative to the Joomla root) and links them in ``product_medias`` (product, media,
ordering); the product loads them ``ORDER BY ordering``, so ordering 1 is the main image
(NOTES 3, 10). How VM stores a media is read from VM 4.4's PHP (github:tahiriqbalnajam/
joomla_zakeke, administrator/components/com_virtuemart/):
- ``tables/medias.php`` ``TableMedias::check``: a new media whose ``file_url`` is already in
  the table takes that row's id (one media per file); ``file_url`` over 254 characters and
  ``..`` are refused; ``file_title`` (<= 126) is unique per ``file_type``, a taken one gets
  ``_<count>`` appended; ``file_mimetype`` follows the file extension;
- ``helpers/mediahandler.php`` ``getMediaUrlByView('product')``: the folder is config
  ``media_product_path`` (default ``images/virtuemart/product/``); ``processAttributes``
  writes ``file_is_product_image = 0``; ``file_url_thumb`` stays '' (thumbnails are made
  on demand);
- ``models/product.php`` ``store``: ``has_medias`` is 1 with media, else 0.

The ERP's file names are relative to the shop's product image folder (where the image plan
copies them), so ``file_url`` is that folder + the name. shopbridge records the medias it
created in ``shopbridge_vm_media``; the shop's own medias are never changed or deleted. For a
product whose images the ERP names, its links to shopbridge's medias are exactly the ERP's,
main image first; the shop's own links stay, after them. A file the shop already has a media
for is linked to that media (as VirtueMart itself would do) and stays the shop's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.db import delete_in, marks
from shopbridge.owntables import OwnTable, ensure

from .. import catalogue
from ..binder import LINK_TABLE
from ..shop_applier import PRODUCT
from .shop import Tables, read_config

CHUNK = 500
DEFAULT_FOLDER = "images/virtuemart/product/"
URL_MAX = 254                   # TableMedias::check refuses longer file_url
TITLE_MAX = 126                 # file_title varchar(126)
COLUMN = "file_url"
FILE_TYPE = "product"

# TableMedias::check, the image types (other extensions leave file_mimetype '').
MIMETYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
             "gif": "image/gif", "png": "image/png", "webp": "image/webp"}

TABLE = "shopbridge_vm_media"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
  virtuemart_media_id INT UNSIGNED NOT NULL,
  PRIMARY KEY (virtuemart_media_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""
OWN_TABLE = OwnTable(TABLE, DDL)


def image_names(payload: Mapping[str, Any], what: str, folder: str) -> tuple[str, ...]:
    """The product's image file names (``consumers.catalogue.image_names``) as VirtueMart
    takes them: behind the shop's product image ``folder``, a ``file_url`` of at most 254
    characters.

    Raises:
        MappingError: naming ``payload.images[i]`` when a name is not a safe relative path
            or too long for the folder.
    """
    return catalogue.image_names(payload, what, max_length=_name_max(folder), column=COLUMN)


def _name_max(folder: str) -> int:
    """The longest name whose ``file_url`` (folder + name) VirtueMart takes."""
    return URL_MAX - len(folder)


def mimetype(name: str) -> str:
    return MIMETYPES.get(name.rpartition(".")[2].lower(), "") if "." in name else ""


class VmImageColumns:
    """``medias`` and ``product_medias`` (an ``imageplan.ImageColumns``).

    Args:
        tables: the shop's table names.
        vendor_id: the vendor the medias belong to.
    """

    def __init__(self, tables: Tables, vendor_id: int) -> None:
        self.t = tables
        self.vendor_id = vendor_id

    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, OWN_TABLE)

    def folder(self, conn: Connection) -> str:
        """The shop's product image folder below the Joomla root, ending in '/'."""
        text = conn.exec_driver_sql(
            f"SELECT config FROM {self.t.configs} WHERE virtuemart_config_id = 1").scalar()
        folder = read_config(text).get("media_product_path")
        if not isinstance(folder, str) or not folder.strip("/"):
            return DEFAULT_FOLDER
        return folder.strip("/") + "/"

    def linked(self, conn: Connection) -> Iterator[tuple[str, str]]:
        folder = self.folder(conn)
        rows = conn.exec_driver_sql(
            f"SELECT m.file_url, p.product_sku FROM {self.t.product_medias} pm "
            f"JOIN {TABLE} o ON o.virtuemart_media_id = pm.virtuemart_media_id "
            f"JOIN {self.t.medias} m ON m.virtuemart_media_id = pm.virtuemart_media_id "
            f"JOIN {self.t.products} p ON p.virtuemart_product_id = pm.virtuemart_product_id "
            f"JOIN {LINK_TABLE} l ON l.entity_type = %s "
            "AND l.target_id = p.virtuemart_product_id", (PRODUCT,))
        for url, sku in rows:
            name = url[len(folder):] if url.startswith(folder) else None
            if name and catalogue.image_name_problem(name, max_length=_name_max(folder),
                                                     column=COLUMN) is None:
                yield name, sku

    def write(self, conn: Connection, images: Mapping[int, Sequence[str]],
              now: datetime) -> None:
        folder = self.folder(conn)
        ids = sorted(images)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            urls = {pid: [folder + name for name in images[pid]] for pid in chunk}
            media = self._medias(conn, {u for wanted in urls.values() for u in wanted}, now)
            self._links(conn, {pid: [media[u] for u in wanted] for pid, wanted in urls.items()})
            # Every product here has an image now: VM must look its medias up (NOTES 10).
            conn.exec_driver_sql(
                f"UPDATE {self.t.products} SET has_medias = 1 "
                f"WHERE virtuemart_product_id IN ({marks(chunk)})", tuple(chunk))

    def _medias(self, conn: Connection, urls: set[str], now: datetime) -> dict[str, int]:
        """file_url -> media id, inserting (as shopbridge's) the medias the shop lacks."""
        ordered = sorted(urls)
        found = self._existing(conn, ordered)
        missing = [u for u in ordered if u not in found]
        if missing:
            titles = self._titles(conn, missing)
            conn.exec_driver_sql(
                f"INSERT INTO {self.t.medias} (virtuemart_vendor_id, file_title, "
                "file_mimetype, file_type, file_url, file_url_thumb, file_is_product_image, "
                "file_lang, published, created_on, modified_on) "
                "VALUES (%s, %s, %s, %s, %s, '', 0, '', 1, %s, %s)",
                [(self.vendor_id, titles[u], mimetype(u), FILE_TYPE, u, now, now)
                 for u in missing])
            made = self._existing(conn, missing)
            conn.exec_driver_sql(f"INSERT INTO {TABLE} (virtuemart_media_id) VALUES (%s)",
                                 [(made[u],) for u in missing])
            found.update(made)
        return found

    def _existing(self, conn: Connection, urls: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for url, media_id in conn.exec_driver_sql(
                f"SELECT file_url, virtuemart_media_id FROM {self.t.medias} "
                f"WHERE file_url IN ({marks(urls)}) ORDER BY virtuemart_media_id",
                tuple(urls)):
            found.setdefault(url, int(media_id))   # VM takes the first of a doubled URL
        return found

    def _titles(self, conn: Connection, urls: Sequence[str]) -> dict[str, str]:
        """A title per new media, unique among the product medias as TableMedias::check
        makes it: the file's name, or the name with '_<count>' where that is taken (counting
        on while the suffixed title is taken too)."""
        wanted = {u: u.rpartition("/")[2][:TITLE_MAX] for u in urls}
        taken: dict[str, int] = {}
        for title, count in conn.exec_driver_sql(
                f"SELECT file_title, COUNT(*) FROM {self.t.medias} WHERE file_type = %s "
                f"AND file_title IN ({marks(list(wanted.values()))}) GROUP BY file_title",
                (FILE_TYPE, *wanted.values())):
            taken[title] = int(count)
        titles: dict[str, str] = {}
        for url, title in wanted.items():
            chosen = title
            while chosen in taken or chosen in titles.values() or (
                    chosen != title and self._title_taken(conn, chosen)):
                taken[title] = taken.get(title, 0) + 1
                suffix = f"_{taken[title]}"
                chosen = title[:TITLE_MAX - len(suffix)] + suffix
            titles[url] = chosen
        return titles

    def _title_taken(self, conn: Connection, title: str) -> bool:
        return conn.exec_driver_sql(
            f"SELECT 1 FROM {self.t.medias} WHERE file_type = %s AND file_title = %s LIMIT 1",
            (FILE_TYPE, title)).first() is not None

    def _links(self, conn: Connection, wanted: Mapping[int, Sequence[int]]) -> None:
        """Make each product's links to shopbridge's medias exactly ``wanted`` (main first),
        the shop's own links after them, ordering dense from 1."""
        ids = list(wanted)
        ours = {int(m) for (m,) in conn.exec_driver_sql(
            f"SELECT o.virtuemart_media_id FROM {TABLE} o JOIN {self.t.product_medias} pm "
            "ON pm.virtuemart_media_id = o.virtuemart_media_id "
            f"WHERE pm.virtuemart_product_id IN ({marks(ids)})", tuple(ids))}
        current: dict[int, list[tuple[int, int, int]]] = {pid: [] for pid in ids}
        for row_id, pid, media_id, ordering in conn.exec_driver_sql(
                f"SELECT id, virtuemart_product_id, virtuemart_media_id, ordering "
                f"FROM {self.t.product_medias} WHERE virtuemart_product_id IN ({marks(ids)}) "
                "ORDER BY ordering, id", tuple(ids)):
            current[pid].append((int(row_id), int(media_id), int(ordering)))
        drop: list[int] = []
        reorder: list[tuple[int, int]] = []
        add: list[tuple[int, int, int]] = []
        for pid, medias in wanted.items():
            rows = {media_id: (row_id, ordering) for row_id, media_id, ordering in current[pid]}
            kept_own = [m for _, m, _ in current[pid] if m not in ours and m not in medias]
            drop += [row_id for row_id, m, _ in current[pid] if m in ours and m not in medias]
            for ordering, media_id in enumerate([*medias, *kept_own], start=1):
                if media_id not in rows:
                    add.append((pid, media_id, ordering))
                elif rows[media_id][1] != ordering:
                    reorder.append((ordering, rows[media_id][0]))
        delete_in(conn, self.t.product_medias, "id", drop)
        for ordering, row_id in reorder:
            conn.exec_driver_sql(
                f"UPDATE {self.t.product_medias} SET ordering = %s WHERE id = %s",
                (ordering, row_id))
        if add:
            conn.exec_driver_sql(
                f"INSERT INTO {self.t.product_medias} (virtuemart_product_id, "
                "virtuemart_media_id, ordering) VALUES (%s, %s, %s)", add)
