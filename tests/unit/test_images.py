"""C9 rules without I/O: which image names a shop accepts, and the image folder settings."""

from __future__ import annotations

import pytest

from consumers.oscommerce.images import image_names
from shopbridge import config as cfg
from shopbridge.errors import ConfigError, MappingError

WHAT = "product.upserted 7 (SKU A-7) v1"


def test_names_keep_erp_order_and_duplicates_collapse():
    payload = {"images": ["a.jpg", "sub/b.png", "a.jpg"]}
    assert image_names(payload, WHAT) == ("a.jpg", "sub/b.png")
    assert image_names({"images": []}, WHAT) == ()
    assert image_names({}, WHAT) == ()


@pytest.mark.parametrize("bad", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", "bilder\\x.jpg",
                                 "a//b.jpg", "./a.jpg", "a\nb.jpg", "x" * 256])
def test_a_name_outside_the_images_folder_or_too_long_names_entity_and_field(bad):
    with pytest.raises(MappingError) as err:
        image_names({"images": ["ok.jpg", bad]}, WHAT)
    assert str(err.value).startswith(f"{WHAT}: field payload.images[1]: ")


def _config(erp: dict, shop: dict, environ: dict | None = None) -> cfg.Settings:
    return cfg.parse({"tenants": [{"name": "acme",
                                   "erp": {"url": "mysql://cao@db/cao", **erp},
                                   "shops": [{"name": "web", "url": "mysql://s@db/s", **shop}]}]},
                     environ=environ or {})


def test_image_folders_come_from_the_erp_and_the_shop_with_secrets_from_env():
    settings = _config({"images_url": "sftp://cao@erp.example:2222/srv/bilder",
                        "images_password_env": "PW"},
                       {"images_url": "file:///var/www/catalog/images", "images_scan_s": 0},
                       environ={"PW": "sftp-secret"})
    images = settings.tenants[0].shops[0].images
    assert images is not None and images.scan_s == 0
    assert images.source.url == "sftp://cao@erp.example:2222/srv/bilder"
    assert images.source.password == "sftp-secret"
    assert images.target.url == "/var/www/catalog/images" and images.target.scheme == "file"
    assert "sftp-secret" not in repr(settings)


def test_without_a_shop_images_url_the_shop_gets_names_only():
    assert _config({"images_url": "/srv/bilder"}, {}).tenants[0].shops[0].images is None


@pytest.mark.parametrize(("erp", "shop", "message"), [
    ({"images_url": "sftp://cao:hunter2@erp/srv"}, {}, "images_url contains a password"),
    ({}, {"images_url": "/srv/images"}, "needs the ERP's image folder"),
    ({"images_url": "s3://bucket/x"}, {}, "scheme 's3'"),
    ({"images_url": "sftp://erp"}, {}, "sftp://user@host:port/absolute/path"),
    ({"images_url": "/srv", "images_password": "x"}, {}, "do not belong in the file"),
])
def test_wrong_image_folder_settings_are_refused_without_echoing_secrets(erp, shop, message):
    with pytest.raises(ConfigError, match=message) as err:
        _config(erp, shop)
    assert "hunter2" not in str(err.value)
