"""What a VirtueMart shop shows, read from the shop's own PHP: a product synced by the
project's consumer into a shop database, the Joomla 5.2.1 + VirtueMart 4.4.0 site of
SOURCE.txt served on it by PHP's built-in server (tests/joomla_site.py), its product page
fetched over HTTP.

Skips with the reason where PHP, its MySQL driver, the site's source or the reference SQL
is absent.
"""

from __future__ import annotations

import html
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import consumers
from shopbridge import config as cfg
from shopbridge import events as ev
from tests.conftest import AMQP_URL, MARIADB_URL, Database, unique
from tests.contract.pipeline import Pipeline
from tests.joomla_site import configure_site, get, install_joomla, served, storefront_problem, \
    unpack_site
from tests.unit.test_events import product_payload
from tests.virtuemart_db import LANGUAGES, PREFIX, create_virtuemart, drop_virtuemart, shop_entry

P = PREFIX + "virtuemart_"
SITE_ZONE = zoneinfo.ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class Storefront:
    db: Database
    base: str
    pipeline: Pipeline
    log: Path

    def page(self, query: str) -> str:
        status, body = get(self.base + "index.php?" + query)
        assert status == 200, (status, _error_of(body), self.log.read_text(errors="replace")[-2000:])
        return body


def _error_of(body: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    text = re.sub(r"\s+", " ", text)
    found = re.search(r"report the error below\.(.{0,600})", text)
    return found.group(1) if found else text[:600]


@pytest.fixture
def storefront(tmp_path: Path) -> Iterator[Storefront]:
    problem = storefront_problem()
    if problem:
        pytest.skip(problem)
    site = tmp_path / "site"
    site.mkdir()
    unpack_site(site)
    db = create_virtuemart()
    try:
        install_joomla(db, site, languages=LANGUAGES)
        configure_site(site, db)
        settings = cfg.parse({
            "broker": {"url": AMQP_URL, "namespace": unique("sbtest-vmfront").replace("_", "-"),
                       "retry_tiers_s": [1, 2], "batch_wait_ms": 20},
            "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": f"{MARIADB_URL}x"},
                         "shops": [shop_entry("vm", db)]}]}, source="test")
        shop = settings.tenants[0].shops[0]
        applier = consumers.make_applier(shop)
        line = Pipeline(broker=settings.broker, shop=shop, applier=applier)
        line.start()
        try:
            log = tmp_path / "php.log"
            with served(site, log) as base:
                yield Storefront(db, base, line, log)
        finally:
            line.close()
            applier.close()
    finally:
        drop_virtuemart(db)


def upserted(key: int, version: int, **changes: Any) -> dict[str, Any]:
    payload = product_payload(sku=f"S-{key}", erp_id=key, **changes)
    return ev.make_event("product.upserted", tenant="acme", source="cao:test",
                         entity_key=str(key), version=version, payload=payload)


def test_the_shop_shows_a_synced_product_with_its_price(storefront: Storefront) -> None:
    # Given a product synced by the consumer
    event = upserted(1, 1, texts={"de": {"name": "Gießkanne"}, "en": {"name": "Watering can"}},
                     prices={"1": {"net": "10.00", "gross": "11.90"}})
    assert storefront.pipeline.deliver(event).applied == 1
    product = storefront.db.scalar(f"SELECT virtuemart_product_id FROM {P}products "
                                   "WHERE product_sku = 'S-1'")
    # When a guest opens its page
    body = storefront.page(f"option=com_virtuemart&view=productdetails"
                           f"&virtuemart_product_id={product}")
    # Then the shop shows its name and gross price
    assert "Watering can" in body, _error_of(body)
    assert "11,90" in body or "11.90" in body, _error_of(body)
