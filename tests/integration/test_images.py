"""C9: up to 3 images per product, as rows in Phoenix and as files copied from the ERP's image
folder to the shop's, only when their content changed; a local folder and a real SFTP server."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers import runner
from consumers.oscommerce import PhoenixApplier
from consumers.runner import ShopConsumer
from shopbridge import cli, dlq, sample
from shopbridge import config as cfg
from tests.conftest import config_data, fill_cao, shop_entry
from tests.helpers import produce, storefront, to_toml
from tests.sftp_server import SftpServer

DE = 2


def image_settings(namespace: str, cao_db: Any, phoenix_db: Any, erp_url: str, shop_url: str,
                   *, erp: dict[str, Any] | None = None, shop: dict[str, Any] | None = None,
                   environ: dict[str, str] | None = None) -> cfg.Settings:
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db, images_url=shop_url,
                                                      images_scan_s=0, **(shop or {}))])
    data["tenants"][0]["erp"].update(images_url=erp_url, **(erp or {}))
    return cfg.parse(data, source="test", environ=environ or {})


class Pipeline:
    """Producer and one consumer of shop 'web', with the applier kept for its idle hook."""

    def __init__(self, settings: cfg.Settings) -> None:
        self.settings = settings
        self.shop = settings.tenants[0].shop("web")
        self.applier = PhoenixApplier(shop=self.shop)

    def sync(self, idle_exit_s: float = 0.6) -> runner.ConsumerStats:
        produce(self.settings)
        return self.consume(idle_exit_s)

    def consume(self, idle_exit_s: float = 0.6) -> runner.ConsumerStats:
        return ShopConsumer(broker=self.settings.broker, shop=self.shop,
                            applier=self.applier).run(idle_exit_s=idle_exit_s)

    def close(self) -> None:
        self.applier.close()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    erp, shop = tmp_path / "erp", tmp_path / "shop"
    (erp / "sub").mkdir(parents=True)
    shop.mkdir()
    return erp, shop


@pytest.fixture
def pipelines() -> Iterator[list[Pipeline]]:
    made: list[Pipeline] = []
    yield made
    for p in made:
        p.close()


def articles(*images: tuple[str | None, ...]) -> list[dict[str, Any]]:
    """One ARTIKEL row per tuple: SHOP_IMAGE, SHOP_IMAGE_MED, SHOP_IMAGE_LARGE."""
    rows = sample.articles(len(images))
    for row, names in zip(rows, images, strict=True):
        names = (*names, None, None, None)
        row.update(SHOP_IMAGE=names[0], SHOP_IMAGE_MED=names[1], SHOP_IMAGE_LARGE=names[2])
    return rows


def images_of(db: Any, model: str) -> tuple[Any, list[tuple[str, int]]]:
    pid, main = db.rows("SELECT products_id, products_image FROM products "
                        "WHERE products_model = %s", (model,))[0]
    gallery = db.rows("SELECT image, sort_order FROM products_images WHERE products_id = %s "
                      "ORDER BY sort_order", (pid,))
    return main, [tuple(r) for r in gallery]


def copies(db: Any) -> dict[str, tuple[str, int]]:
    return {r[0]: (r[1], r[2]) for r in db.rows(
        "SELECT name, status, copies FROM shopbridge_image")}


def stamp(path: Path) -> int:
    return path.stat().st_mtime_ns


def rewrite(path: Path, data: bytes, later_s: int = 10) -> None:
    """Write like CAO does (same name), and move the mtime on: filesystems with coarse
    timestamps must not make the test depend on the clock's resolution."""
    before = path.stat().st_mtime if path.exists() else 0
    path.write_bytes(data)
    os.utime(path, (before + later_s, before + later_s))


def test_images_are_copied_once_written_as_rows_and_a_removed_one_leaves_the_gallery(
        cao_db, phoenix_db, namespace, folders, pipelines):
    erp, shop_dir = folders
    (erp / "a.jpg").write_bytes(b"A" * 5000)
    (erp / "sub" / "b.png").write_bytes(b"B" * 300)
    (erp / "c.jpg").write_bytes(b"C")
    fill_cao(cao_db, articles(("a.jpg", "sub/b.png", "c.jpg"),
                              ("c.jpg", "c.jpg")), [])                # duplicate: collapsed
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, str(erp), str(shop_dir)))
    pipelines.append(p)

    stats = p.sync()

    assert stats.dead == 0 and set(storefront(phoenix_db, DE)) == {"A-000001", "A-000002"}
    assert images_of(phoenix_db, "A-000001") == ("a.jpg", [("sub/b.png", 1), ("c.jpg", 2)])
    assert images_of(phoenix_db, "A-000002") == ("c.jpg", [])
    for name in ("a.jpg", "sub/b.png", "c.jpg"):
        assert (shop_dir / name).read_bytes() == (erp / name).read_bytes()
    assert copies(phoenix_db) == {n: ("copied", 1) for n in ("a.jpg", "sub/b.png", "c.jpg")}
    assert not [f for f in shop_dir.rglob("*") if ".tmp" in f.name]   # no temp file left
    stamps = {f: stamp(f) for f in shop_dir.rglob("*") if f.is_file()}

    cao_db.execute("UPDATE artikel SET VK1 = VK1 + 1")               # products change, images not
    stats = p.sync()
    p.applier.idle()
    assert stats.applied == 2
    assert copies(phoenix_db) == {n: ("copied", 1) for n in ("a.jpg", "sub/b.png", "c.jpg")}
    assert {f: stamp(f) for f in stamps} == stamps                    # not written again

    cao_db.execute("UPDATE artikel SET SHOP_IMAGE_MED = NULL WHERE REC_ID = 1")
    p.sync()
    assert images_of(phoenix_db, "A-000001") == ("a.jpg", [("c.jpg", 1)])
    # An article without any image in CAO leaves the shop's images alone: a merchant who
    # keeps images in the shop admin (and none in CAO) must not lose them to a sync.
    phoenix_db.execute("INSERT INTO products_images (products_id, image, sort_order) SELECT "
                       "products_id, 'admin.jpg', 9 FROM products WHERE products_model = "
                       "'A-000001'")
    cao_db.execute("UPDATE artikel SET SHOP_IMAGE = NULL, SHOP_IMAGE_LARGE = NULL, "
                   "VK1 = VK1 + 1 WHERE REC_ID = 1")
    assert p.sync().applied == 1
    assert images_of(phoenix_db, "A-000001") == ("a.jpg", [("c.jpg", 1), ("admin.jpg", 9)])


def test_an_image_rewritten_in_the_erp_is_recopied_by_the_consumer_alone_a_touched_one_not(
        cao_db, phoenix_db, namespace, folders, pipelines, monkeypatch):
    erp, shop_dir = folders
    (erp / "a.jpg").write_bytes(b"old bytes")
    (erp / "sub" / "b.png").write_bytes(b"same bytes")
    fill_cao(cao_db, articles(("a.jpg", "sub/b.png")), [])
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, str(erp), str(shop_dir)))
    pipelines.append(p)
    p.sync()
    b_stamp = stamp(shop_dir / "sub" / "b.png")

    rewrite(erp / "a.jpg", b"new bytes, other length")                # CAO overwrites it
    rewrite(erp / "sub" / "b.png", b"same bytes")                     # touched: mtime only
    monkeypatch.setattr(runner, "IDLE_HOOK_S", 0.1)
    stats = p.consume(idle_exit_s=1.0)                                 # no event at all

    assert stats.events == 0
    assert (shop_dir / "a.jpg").read_bytes() == b"new bytes, other length"
    assert copies(phoenix_db) == {"a.jpg": ("copied", 2), "sub/b.png": ("copied", 1)}
    assert stamp(shop_dir / "sub" / "b.png") == b_stamp
    known = phoenix_db.scalar("SELECT mtime_us FROM shopbridge_image WHERE name = 'sub/b.png'")
    assert known == round((erp / "sub" / "b.png").stat().st_mtime * 1_000_000)  # not rehashed

    rewrite(erp / "a.jpg", b"new bytes, same length!")                # same size, new bytes
    p.applier.idle()
    assert (shop_dir / "a.jpg").read_bytes() == b"new bytes, same length!"
    assert copies(phoenix_db)["a.jpg"] == ("copied", 3)


@pytest.mark.parametrize("bad", ["../../outside.jpg", "/etc/passwd", "bilder\\x.jpg",
                                 "a/../../x.jpg"])
def test_a_name_that_leaves_the_images_folder_is_dead_lettered_naming_the_field(
        cao_db, phoenix_db, namespace, folders, pipelines, bad):
    erp, shop_dir = folders
    (erp / "ok.jpg").write_bytes(b"ok")
    fill_cao(cao_db, articles(("ok.jpg",), ("ok.jpg", bad)), [])
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, str(erp), str(shop_dir)))
    pipelines.append(p)

    stats = p.sync()

    assert stats.dead == 1 and set(storefront(phoenix_db, DE)) == {"A-000001"}
    [letter] = dlq.list_dead(p.settings.broker, p.shop)
    assert letter.error_class == "MappingError" and letter.entity_key == "2"
    assert "payload.images[1]" in letter.error and "SKU A-000002" in letter.error
    assert sorted(f.name for f in shop_dir.parent.rglob("*") if f.is_file()) == [
        "ok.jpg", "ok.jpg"]                                            # erp/ and shop/ only


def test_a_missing_file_does_not_hold_up_the_product_and_is_copied_once_it_appears(
        cao_db, phoenix_db, namespace, folders, pipelines, caplog):
    erp, shop_dir = folders
    fill_cao(cao_db, articles(("late.jpg",)), [])
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, str(erp), str(shop_dir)))
    pipelines.append(p)

    with caplog.at_level(logging.WARNING):
        stats = p.sync()

    assert stats.dead == 0 and stats.retried == 0
    assert set(storefront(phoenix_db, DE)) == {"A-000001"}
    assert images_of(phoenix_db, "A-000001") == ("late.jpg", [])
    assert copies(phoenix_db) == {"late.jpg": ("missing", 0)}
    warning = [r.getMessage() for r in caplog.records if "late.jpg" in r.getMessage()]
    assert warning and "SKU A-000001" in warning[0]
    p.applier.idle()                                                   # still missing: quiet
    assert copies(phoenix_db) == {"late.jpg": ("missing", 0)}

    (erp / "late.jpg").write_bytes(b"finally")
    p.applier.idle()
    assert (shop_dir / "late.jpg").read_bytes() == b"finally"
    assert copies(phoenix_db) == {"late.jpg": ("copied", 1)}


def test_a_shop_without_image_folders_gets_the_names_and_no_files(
        cao_db, phoenix_db, namespace, pipelines):
    fill_cao(cao_db, articles(("a.jpg", "b.jpg")), [])
    settings = cfg.parse(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)]),
                         source="test")
    p = Pipeline(settings)
    pipelines.append(p)
    p.sync()
    p.applier.idle()
    assert images_of(phoenix_db, "A-000001") == ("a.jpg", [("b.jpg", 1)])
    assert phoenix_db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                             "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'shopbridge_image'") == 0


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[SftpServer]:
    root = tmp_path / "sftp"
    (root / "erp").mkdir(parents=True)
    (root / "shop").mkdir()
    server = SftpServer(root).start()
    yield server
    server.close()


def test_images_travel_over_sftp_both_ways_and_an_outage_only_delays_them(
        cao_db, phoenix_db, namespace, sftp, tmp_path, pipelines, caplog):
    erp, shop_dir = sftp.root / "erp", sftp.root / "shop"
    (erp / "a.jpg").write_bytes(b"A" * 100_000)
    fill_cao(cao_db, articles(("a.jpg",), ()), [])
    known_hosts = sftp.known_hosts(tmp_path / "known_hosts")
    secret = {"images_password_env": "SFTP_PW", "images_known_hosts": str(known_hosts)}
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, sftp.url("erp"), sftp.url("shop"),
                                erp=secret, shop=secret, environ={"SFTP_PW": sftp.password}))
    pipelines.append(p)
    caplog.set_level(logging.DEBUG)

    p.sync()
    assert (shop_dir / "a.jpg").read_bytes() == b"A" * 100_000
    rewrite(erp / "a.jpg", b"A2" * 100)
    p.applier.idle()
    assert (shop_dir / "a.jpg").read_bytes() == b"A2" * 100           # replaced by a rename
    assert copies(phoenix_db) == {"a.jpg": ("copied", 2)}

    sftp.stop()                                                        # the SFTP server is gone
    (erp / "b.jpg").write_bytes(b"B")
    cao_db.execute("UPDATE artikel SET SHOP_IMAGE = 'b.jpg' WHERE REC_ID = 2")
    stats = p.sync()
    assert stats.dead == 0 and stats.retried == 0                      # the DB sync went on
    assert images_of(phoenix_db, "A-000002") == ("b.jpg", [])
    status, error = phoenix_db.rows("SELECT status, error FROM shopbridge_image "
                                    "WHERE name = 'b.jpg'")[0]
    assert status == "failed" and "unreachable" in error
    assert any("SKU A-000002: b.jpg" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)

    sftp.start()                                                       # back, same port
    files = p.applier.images.files
    assert files is not None
    files.paused_until = 0.0                                           # the back-off is over
    p.applier.idle()
    assert (shop_dir / "b.jpg").read_bytes() == b"B"
    assert copies(phoenix_db) == {"a.jpg": ("copied", 2), "b.jpg": ("copied", 1)}
    assert sftp.password not in caplog.text


def test_an_sftp_server_with_an_unknown_host_key_gets_no_files(
        cao_db, phoenix_db, namespace, sftp, tmp_path, pipelines):
    (sftp.root / "erp" / "a.jpg").write_bytes(b"A")
    fill_cao(cao_db, articles(("a.jpg",)), [])
    other = SftpServer(tmp_path)                                       # a different host key
    other.port = sftp.port
    secret = {"images_password_env": "SFTP_PW",
              "images_known_hosts": str(other.known_hosts(tmp_path / "known_hosts"))}
    other.close()
    p = Pipeline(image_settings(namespace, cao_db, phoenix_db, sftp.url("erp"), sftp.url("shop"),
                                erp=secret, shop=secret, environ={"SFTP_PW": sftp.password}))
    pipelines.append(p)

    stats = p.sync()

    assert stats.dead == 0 and set(storefront(phoenix_db, DE)) == {"A-000001"}
    assert not (sftp.root / "shop" / "a.jpg").exists()
    assert copies(phoenix_db)["a.jpg"][0] == "failed"


def test_check_names_an_image_folder_that_is_not_there_and_a_shop_with_names_only(
        cao_db, phoenix_factory, namespace, folders, tmp_path, capsys):
    erp, shop_dir = folders
    data = config_data(namespace, cao_db, [
        shop_entry("web", phoenix_factory(), images_url=str(shop_dir / "nope")),
        shop_entry("plain", phoenix_factory())])
    data["tenants"][0]["erp"]["images_url"] = str(erp)
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(data))

    assert cli.main(["-c", str(path), "check"]) == cli.EXIT_PROBLEMS

    lines = capsys.readouterr().out.splitlines()
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert len(problems) == 1 and f"shop web: image folder {shop_dir / 'nope'}" in problems[0]
    assert any(f"shop web: image folder {erp} reachable" in line for line in lines)
    assert any("shop plain: images: file names only" in line for line in lines)
