"""C9 in VirtueMart: product images as ``medias`` + ``product_medias`` rows with their files
copied into the shop's folder, and the forced file caches cleared after catalogue changes
(NOTES 3, 10), against a shop database built from the upstream install SQL."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers.virtuemart.applier import VirtueMartApplier
from consumers.virtuemart.caches import GROUPS
from shopbridge import config as cfg
from shopbridge.errors import MappingError
from tests.conftest import AMQP_URL, MARIADB_URL, Database
from tests.integration.test_virtuemart_traps import P, category, pid, product
from tests.virtuemart_db import shop_entry

FOLDER = "images/virtuemart/product/"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The ERP's image folder, the shop's product image folder and Joomla's cache folder."""
    erp, shop, cache = tmp_path / "erp", tmp_path / "shop", tmp_path / "cache"
    for folder in (erp / "sub", shop, cache):
        folder.mkdir(parents=True)
    for name in ("a.jpg", "sub/b.png", "c.jpg"):
        (erp / name).write_bytes(f"bytes of {name}".encode())
    return erp, shop, cache


@pytest.fixture
def applier(vm: Database, folders: tuple[Path, Path, Path]) -> Iterator[VirtueMartApplier]:
    erp, shop, cache = folders
    entry = shop_entry("vm", vm, images_url=str(shop), images_scan_s=0)
    entry["virtuemart"] = {**entry["virtuemart"], "cache_path": str(cache)}  # type: ignore[dict-item]
    settings = cfg.parse({
        "broker": {"url": AMQP_URL, "namespace": "sbtest-vm"},
        "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": f"{MARIADB_URL}x",
                                             "images_url": str(erp)},
                     "shops": [entry]}]}, source="test")
    a = VirtueMartApplier(shop=settings.tenants[0].shops[0])
    yield a
    a.close()


def medias_of(vm: Database, n: int) -> list[tuple[Any, ...]]:
    """(file_url, ordering) of product n's medias, main image first."""
    return [tuple(r) for r in vm.rows(
        f"SELECT m.file_url, pm.ordering FROM {P}product_medias pm JOIN {P}medias m "
        "ON m.virtuemart_media_id = pm.virtuemart_media_id "
        "WHERE pm.virtuemart_product_id = %s ORDER BY pm.ordering", (pid(vm, n),))]


def has_medias(vm: Database, n: int) -> Any:
    return vm.scalar(f"SELECT has_medias FROM {P}products WHERE virtuemart_product_id = %s",
                     (pid(vm, n),))


def test_three_images_are_three_medias_main_first_with_their_files(vm, applier, folders):
    _, shop, _ = folders
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg", "sub/b.png", "c.jpg"])])
    assert medias_of(vm, 1) == [(FOLDER + "a.jpg", 1), (FOLDER + "sub/b.png", 2),
                                (FOLDER + "c.jpg", 3)]
    assert has_medias(vm, 1) == 1
    rows = vm.rows(f"SELECT file_title, file_mimetype, file_type, published, file_lang, "
                   f"file_url_thumb, file_is_product_image, virtuemart_vendor_id "
                   f"FROM {P}medias ORDER BY file_title")
    assert [tuple(r) for r in rows] == [
        ("a.jpg", "image/jpeg", "product", 1, "", "", 0, 1),
        ("b.png", "image/png", "product", 1, "", "", 0, 1),
        ("c.jpg", "image/jpeg", "product", 1, "", "", 0, 1)]
    assert (shop / "sub" / "b.png").read_bytes() == b"bytes of sub/b.png"
    assert sorted(p.name for p in shop.rglob("*") if p.is_file()) == ["a.jpg", "b.png",
                                                                     "c.jpg"]


def test_an_unchanged_resync_copies_nothing_and_adds_no_rows(vm, applier, folders):
    _, shop, _ = folders
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg", "c.jpg"])])
    copied = list(shop.rglob("*.jpg"))
    for path in copied:
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    counts = "SELECT (SELECT COUNT(*) FROM {0}medias), (SELECT COUNT(*) FROM {0}product_medias)"
    before = tuple(vm.rows(counts.format(P))[0])
    applier.apply([product(1, v=2, images=["a.jpg", "c.jpg"])])   # same content: no write
    applier.apply([product(1, v=3, name="Neu", images=["a.jpg", "c.jpg"])])  # rows rewritten
    applier.idle()
    assert tuple(vm.rows(counts.format(P))[0]) == before == (2, 2)
    assert {p.stat().st_mtime_ns for p in copied} == {1_000_000_000}   # not copied again


def test_a_removed_image_loses_its_link_and_the_rest_close_up(vm, applier):
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg", "sub/b.png", "c.jpg"])])
    applier.apply([product(1, v=2, images=["c.jpg", "a.jpg"])])
    assert medias_of(vm, 1) == [(FOLDER + "c.jpg", 1), (FOLDER + "a.jpg", 2)]
    assert has_medias(vm, 1) == 1


def test_a_product_without_images_has_medias_0_and_two_products_share_a_media(vm, applier):
    applier.apply([category(1, "Garten"), product(1), product(2, images=["a.jpg"]),
                   product(3, images=["a.jpg"])])
    assert medias_of(vm, 1) == [] and has_medias(vm, 1) == 0
    assert medias_of(vm, 2) == medias_of(vm, 3) == [(FOLDER + "a.jpg", 1)]
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}medias") == 1     # one media per file URL


def test_the_shops_own_media_is_never_touched(vm, applier):
    """A media the shop's admin made stays as it is, linked after the ERP's images; a file
    it already has a media for is linked to that media, not doubled (TableMedias::check)."""
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg"])])
    p = pid(vm, 1)
    own = "(file_title, file_type, file_url, file_mimetype, published, file_description)"
    vm.execute(f"INSERT INTO {P}medias {own} VALUES ('Admin', 'product', "
               f"'images/virtuemart/product/admin.jpg', 'image/jpeg', 1, 'by hand'), "
               f"('C', 'product', '{FOLDER}c.jpg', 'image/jpeg', 0, 'the shop''s c')")
    admin = vm.scalar(f"SELECT virtuemart_media_id FROM {P}medias WHERE file_title = 'Admin'")
    vm.execute(f"INSERT INTO {P}product_medias (virtuemart_product_id, virtuemart_media_id, "
               "ordering) VALUES (%s, %s, 1)", (p, admin))
    snapshot = f"SELECT * FROM {P}medias WHERE file_title IN ('Admin', 'C') ORDER BY 1"
    before = [tuple(r) for r in vm.rows(snapshot)]
    applier.apply([product(1, v=2, images=["sub/b.png", "c.jpg"])])
    assert medias_of(vm, 1) == [(FOLDER + "sub/b.png", 1), (FOLDER + "c.jpg", 2),
                                (FOLDER + "admin.jpg", 3)]
    assert [tuple(r) for r in vm.rows(snapshot)] == before
    assert vm.scalar(f"SELECT COUNT(*) FROM {P}medias WHERE file_url = %s",
                     (FOLDER + "c.jpg",)) == 1


def test_a_name_too_long_behind_the_shops_configured_folder_is_a_mapping_error(vm, applier):
    """file_url is the configured media_product_path + the name, at most 254 characters: a
    name that would fit behind the default folder does not behind a longer one."""
    folder = "images/" + "f" * 200 + "/"
    vm.execute(f"UPDATE {P}configs SET config = CONCAT(config, %s) "
               "WHERE virtuemart_config_id = 1", (f'media_product_path="{folder}"|',))
    name = "n" * (254 - len(folder) - 3) + ".jpg"              # 1 character too many
    with pytest.raises(MappingError, match=r"field payload\.images\[1\]"):
        applier.apply([category(1, "Garten"), product(1, images=["a.jpg", name])])
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg", name[1:]])])
    assert medias_of(vm, 1) == [(folder + "a.jpg", 1), (folder + name[1:], 2)]


def test_a_suffixed_title_that_is_taken_too_counts_on(vm, applier):
    """TableMedias::check makes titles unique with '_<count>'; where 'a.jpg_2' is taken as
    well, the new media is 'a.jpg_3', never a second 'a.jpg_2'."""
    vm.execute(f"INSERT INTO {P}medias (file_title, file_type, file_url, file_mimetype, "
               "published) VALUES ('a.jpg', 'product', 'images/other/a.jpg', 'image/jpeg', 1), "
               "('a.jpg_2', 'product', 'images/other/b.jpg', 'image/jpeg', 1)")
    applier.apply([category(1, "Garten"), product(1, images=["a.jpg"])])
    assert vm.scalar(f"SELECT file_title FROM {P}medias WHERE file_url = %s",
                     (FOLDER + "a.jpg",)) == "a.jpg_3"


def test_category_changes_clear_the_cache_groups_and_nothing_else(vm, applier, folders,
                                                                 caplog):
    _, _, cache = folders
    for group in (*GROUPS, "com_content", "page"):
        (cache / group).mkdir()
        (cache / group / "x.php").write_text("cached")
    elsewhere = cache.parent / "outside"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (cache / "com_virtuemart_cats" / "link").symlink_to(elsewhere)   # not followed
    applier.apply([category(1, "Garten")])
    assert sorted(p.name for p in cache.iterdir()) == ["com_content", "page"]
    assert (elsewhere / "keep.txt").read_text() == "keep"
    assert (cache / "page" / "x.php").read_text() == "cached"

    (cache / "mod_virtuemart_product").mkdir()
    applier.apply([category(1, "Garten", v=1)])          # stale: nothing changed
    assert (cache / "mod_virtuemart_product").exists()
    applier.apply([product(1)])
    assert not (cache / "mod_virtuemart_product").exists()

    # A group folder that is a link is left alone: warned once, the batch applies.
    (cache / "mod_virtuemart_category").symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, logger="consumers.virtuemart.caches"):
        applier.apply([category(1, "Garten neu", v=2), product(1, v=2, name="Neu")])
        applier.apply([category(1, "Garten neuer", v=3)])
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "mod_virtuemart_category" in caplog.records[0].getMessage()
    assert (elsewhere / "keep.txt").exists()
    assert vm.scalar(f"SELECT category_name FROM {P}categories_de_de") == "Garten neuer"
