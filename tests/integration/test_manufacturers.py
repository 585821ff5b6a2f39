"""ERP manufacturers -> Phoenix manufacturers with an info row per shop language (C2).

The CAO side is the real DDL (lower-case ``hersteller``, ``hersteller_info``; ``sprachen`` holds
1 = en, 2 = de). ``scan`` runs the producer's manufacturer scan with the broker left out:
every event it returns has passed its JSON Schema. ``apply`` runs the writer in one shop
transaction, as the applier does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from consumers.binder import LINK_TABLE, Binder
from consumers.oscommerce.adapter import PhoenixAdapter
from consumers.oscommerce.manufacturers import ManufacturerWriter
from producers.cao import CaoProducer, CycleReport
from producers.cao import producer as producer_module
from shopbridge import config as cfg
from shopbridge import events as ev
from shopbridge import schemas
from tests.conftest import Database, settings_for, shop_entry

PAGE = 2   # small, so that the tests cross page boundaries
EN, DE, FR = 1, 2, 3   # languages_id in the shop; SPRACH_ID in CAO


def add_manufacturer(cao: Database, key: int, name: str, *, shop_id: int = 1,
                     image: str | None = None, urls: dict[int, str] | None = None) -> None:
    cao.execute("INSERT INTO hersteller (SHOP_ID, HERSTELLER_ID, HERSTELLER_NAME, "
                "HERSTELLER_IMAGE) VALUES (%s, %s, %s, %s)", (shop_id, key, name, image))
    for language, url in (urls or {}).items():
        cao.execute("INSERT INTO hersteller_info (SHOP_ID, HERSTELLER_ID, SPRACHE_ID, "
                    "HERSTELLER_URL) VALUES (%s, %s, %s, %s)", (shop_id, key, language, url))


def scan(cao: Database) -> list[ev.Event]:
    """What the producer's manufacturer scan publishes, page by page, then stores."""
    settings = settings_for("sbtest-manufacturers", cao, [])
    producer = CaoProducer(broker=settings.broker, tenant=settings.tenants[0], engine=cao.engine)
    out: list[ev.Event] = []

    def publish(raw: Sequence[dict[str, Any]], report: CycleReport) -> list[int]:
        for event in raw:
            schemas.validate(event)
        out.extend(ev.parse(event) for event in raw)
        return list(range(len(raw)))

    producer._publish = publish                          # type: ignore[method-assign]
    with cao.engine.connect() as conn, \
            mock.patch.object(producer_module, "PAGE", PAGE):
        producer.snapshot.ensure_table(conn)
        conn.commit()
        producer._scan_manufacturers(conn, CycleReport())
    return out


def shop_config(cao: Database, shop: Database, **overrides: Any) -> cfg.ShopConfig:
    settings = settings_for("sbtest-manufacturers", cao, [shop_entry("web", shop, **overrides)])
    return settings.tenants[0].shop("web")


def apply(shop: Database, config: cfg.ShopConfig, events: list[ev.Event]) -> list[str]:
    """One shop transaction, as PhoenixApplier.apply runs a writer."""
    binder = Binder()
    with shop.engine.connect() as conn:
        binder.ensure_table(conn)
        available = PhoenixAdapter.language_ids(conn)
        conn.commit()
    writer = ManufacturerWriter(shop=config, binder=binder,
                                language_ids={c: available[c] for c in config.languages})
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with shop.engine.begin() as conn:
        return writer.apply(conn, events, now)


def manufacturers(shop: Database) -> dict[str, tuple[Any, ...]]:
    """name -> (manufacturers_id, image, {languages_id: url})."""
    out = {}
    for mid, name, image in shop.rows("SELECT manufacturers_id, manufacturers_name, "
                                      "manufacturers_image FROM manufacturers"):
        urls = dict(shop.rows("SELECT languages_id, manufacturers_url FROM manufacturers_info "
                              "WHERE manufacturers_id = %s", (mid,)))
        out[name] = (mid, image, urls)
    return out


def upserted(key: int, version: int, name: str, *, shop_id: int = 1,
             urls: dict[str, str] | None = None) -> ev.Event:
    raw = ev.make_event("manufacturer.upserted", tenant="acme", source="cao:test",
                        entity_key=str(key), version=version,
                        payload={"erp_id": key, "shop_id": shop_id, "name": name, "image": None,
                                 "urls": urls or {}})
    return ev.parse(raw)


@pytest.fixture
def french_shop(phoenix_db: Database) -> Database:
    """The test shop with a third language that CAO has no URL for."""
    phoenix_db.execute("INSERT INTO languages (languages_id, name, code, image, directory, "
                       "sort_order) VALUES (%s, 'Français', 'fr', 'icon.gif', 'french', 3)",
                       (FR,))
    return phoenix_db


def test_a_manufacturer_gets_one_row_and_an_info_row_for_every_shop_language(
        cao_db, french_shop):
    """Given URLs for de and en, and a shop in de, en and fr: fr falls back to the URL of the
    shop's first language (de); a manufacturer without any URL gets '' everywhere."""
    add_manufacturer(cao_db, 7, "Acme Werkzeuge", image="acme.png",
                     urls={DE: "https://acme.de", EN: "https://acme.com"})
    add_manufacturer(cao_db, 8, "Bolt")
    config = shop_config(cao_db, french_shop, languages=["de", "en", "fr"])

    events = scan(cao_db)
    notes = apply(french_shop, config, events)

    assert [e.type for e in events] == ["manufacturer.upserted"] * 2 and notes == []
    assert events[0].payload["urls"] == {"en": "https://acme.com", "de": "https://acme.de"}
    shop = manufacturers(french_shop)
    assert shop["Acme Werkzeuge"][1:] == ("acme.png", {DE: "https://acme.de",
                                                       EN: "https://acme.com",
                                                       FR: "https://acme.de"})
    assert shop["Bolt"][1:] == (None, {DE: "", EN: "", FR: ""})
    assert french_shop.scalar("SELECT COUNT(*) FROM manufacturers") == 2
    assert french_shop.scalar(f"SELECT COUNT(*) FROM {LINK_TABLE} WHERE entity_type = "
                              f"'manufacturer' AND target_id IS NOT NULL") == 2


def test_a_name_change_updates_the_row_and_an_idle_scan_changes_nothing(cao_db, phoenix_db):
    add_manufacturer(cao_db, 7, "Acme", urls={DE: "https://acme.de"})
    config = shop_config(cao_db, phoenix_db)
    first = scan(cao_db)
    apply(phoenix_db, config, first)
    (mid, _, _), = manufacturers(phoenix_db).values()

    cao_db.execute("UPDATE hersteller SET HERSTELLER_NAME = 'Acme GmbH'")
    cao_db.execute("UPDATE hersteller_info SET HERSTELLER_URL = 'https://acme.example'")
    changed = scan(cao_db)
    notes = apply(phoenix_db, config, changed)

    assert len(changed) == 1 and notes == []
    assert changed[0].version > first[0].version
    assert manufacturers(phoenix_db) == {
        "Acme GmbH": (mid, None, {DE: "https://acme.example", EN: "https://acme.example"})}
    assert phoenix_db.scalar("SELECT last_modified IS NOT NULL FROM manufacturers") == 1
    assert scan(cao_db) == []                                         # idle: nothing published
    assert apply(phoenix_db, config, changed) == [                    # redelivery: no effect
        f"{changed[0]}: already applied (v{changed[0].version} <= v{changed[0].version})"]
    assert phoenix_db.scalar("SELECT COUNT(*) FROM manufacturers") == 1


def test_out_of_order_versions_keep_the_newest_state(cao_db, phoenix_db):
    config = shop_config(cao_db, phoenix_db)

    notes = apply(phoenix_db, config, [upserted(7, 20, "Newer", urls={"de": "https://new"})])
    notes += apply(phoenix_db, config, [upserted(7, 10, "Older", urls={"de": "https://old"})])
    # and in one batch, newest first
    notes += apply(phoenix_db, config, [upserted(8, 20, "B newer"), upserted(8, 10, "B older")])

    assert set(manufacturers(phoenix_db)) == {"Newer", "B newer"}
    assert manufacturers(phoenix_db)["Newer"][2] == {DE: "https://new", EN: "https://new"}
    assert [n.split(": ", 1)[1] for n in notes] == ["already applied (v10 <= v20)"]


def test_a_deleted_manufacturer_stays_in_the_shop_and_older_states_stay_stale(
        cao_db, phoenix_db):
    """Products reference manufacturers_id: a delete records the version and nothing else."""
    add_manufacturer(cao_db, 7, "Acme")
    add_manufacturer(cao_db, 8, "Bolt")
    config = shop_config(cao_db, phoenix_db)
    first = scan(cao_db)
    apply(phoenix_db, config, first)
    before = manufacturers(phoenix_db)

    cao_db.execute("UPDATE hersteller SET DEL_FLAG = 'Y' WHERE HERSTELLER_ID = 7")
    cao_db.execute("UPDATE hersteller SET SHOP_ID = -1 WHERE HERSTELLER_ID = 8")
    gone = scan(cao_db)
    notes = apply(phoenix_db, config, gone)
    late = apply(phoenix_db, config, [e for e in first if e.entity_key == "7"])

    assert [(e.type, e.payload) for e in gone] == [
        ("manufacturer.deleted", {"erp_id": 7, "reason": "deleted"}),
        ("manufacturer.deleted", {"erp_id": 8, "reason": "deselected"})]
    assert len(notes) == 2 and all("kept in the shop" in n for n in notes)
    assert manufacturers(phoenix_db) == before
    assert "already applied" in late[0]
    assert scan(cao_db) == []                                         # published once

    cao_db.execute("UPDATE hersteller SET DEL_FLAG = 'N', HERSTELLER_NAME = 'Acme neu' "
                   "WHERE HERSTELLER_ID = 7")
    back = scan(cao_db)
    apply(phoenix_db, config, back)
    assert [e.type for e in back] == ["manufacturer.upserted"]
    assert manufacturers(phoenix_db)["Acme neu"][0] == before["Acme"][0]   # same row again


def test_a_manufacturer_of_another_cao_shop_is_ignored(cao_db, phoenix_db):
    add_manufacturer(cao_db, 7, "Acme", shop_id=1)
    add_manufacturer(cao_db, 8, "Fremd", shop_id=2, urls={DE: "https://fremd.de"})
    add_manufacturer(cao_db, 9, "Nirgends", shop_id=-1)              # in no shop: not published
    config = shop_config(cao_db, phoenix_db)                          # filter.cao_shop_id = 1

    events = scan(cao_db)
    notes = apply(phoenix_db, config, events)

    assert [e.entity_key for e in events] == ["7", "8"]
    assert set(manufacturers(phoenix_db)) == {"Acme"}
    assert notes == [f"{events[1]}: a manufacturer of CAO shop 2, not this one"]
    assert phoenix_db.scalar("SELECT COUNT(*) FROM manufacturers_info WHERE manufacturers_id "
                             "NOT IN (SELECT manufacturers_id FROM manufacturers)") == 0


def test_every_manufacturer_has_an_info_row_in_every_shop_language(cao_db, phoenix_db):
    """The product page trap (NOTES 2): a missing manufacturers_info row for the session
    language prints PHP warnings into the page. CAO has URLs only in a language the shop does
    not have (fr), or none at all."""
    cao_db.execute("INSERT INTO sprachen (SPRACH_ID, NAME, CODE) VALUES (3, 'Französisch', "
                   "'fr')")
    add_manufacturer(cao_db, 7, "Acme", urls={FR: "https://acme.fr"})
    add_manufacturer(cao_db, 8, "Bolt")
    add_manufacturer(cao_db, 9, "Claw", urls={EN: "https://claw.com", DE: ""})
    config = shop_config(cao_db, phoenix_db)

    apply(phoenix_db, config, scan(cao_db))

    missing = phoenix_db.rows(
        "SELECT m.manufacturers_name, l.code FROM manufacturers m CROSS JOIN languages l "
        "LEFT JOIN manufacturers_info mi ON mi.manufacturers_id = m.manufacturers_id "
        "AND mi.languages_id = l.languages_id WHERE mi.manufacturers_id IS NULL")
    assert phoenix_db.scalar("SELECT COUNT(*) FROM manufacturers") == 3
    assert missing == []
    shop = manufacturers(phoenix_db)
    assert shop["Acme"][2] == {DE: "https://acme.fr", EN: "https://acme.fr"}
    assert shop["Claw"][2] == {DE: "https://claw.com", EN: "https://claw.com"}


def test_a_shop_manufacturer_of_the_same_name_is_taken_over_not_duplicated(
        cao_db, phoenix_db):
    """One the merchant created by hand (or linked before a reset, P4) is linked once."""
    phoenix_db.execute("INSERT INTO manufacturers (manufacturers_name) VALUES ('Acme')")
    add_manufacturer(cao_db, 7, "Acme", urls={DE: "https://acme.de"})
    add_manufacturer(cao_db, 8, "Acme")                               # a second ERP "Acme"
    config = shop_config(cao_db, phoenix_db)

    apply(phoenix_db, config, scan(cao_db))

    rows = phoenix_db.rows("SELECT manufacturers_id FROM manufacturers ORDER BY 1")
    linked = phoenix_db.rows(f"SELECT entity_key, target_id FROM {LINK_TABLE} "
                             f"WHERE entity_type = 'manufacturer' ORDER BY entity_key")
    assert len(rows) == 2
    assert linked == [("7", rows[0][0]), ("8", rows[1][0])]


def test_products_name_their_manufacturer_end_to_end(cao_db, phoenix_db, namespace):
    """Through the broker: the manufacturer is published before the product that names it,
    and the product row points at the shop's manufacturer; one info row per shop language."""
    from shopbridge import sample
    from tests.conftest import fill_cao, settings_for, shop_entry
    from tests.helpers import sync

    add_manufacturer(cao_db, 7, "Gardena")
    rows = sample.articles(2)
    rows[0]["HERSTELLER_ID"] = 7
    rows[1]["HERSTELLER_ID"] = 99                # not a manufacturer of this shop: none
    fill_cao(cao_db, rows, [])
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])

    report, _ = sync(settings)

    assert report.published["manufacturer.upserted"] == 1
    linked = phoenix_db.rows(
        "SELECT p.products_model, m.manufacturers_name FROM products p LEFT JOIN manufacturers "
        "m ON m.manufacturers_id = p.manufacturers_id ORDER BY p.products_model")
    assert [tuple(r) for r in linked] == [("A-000001", "Gardena"), ("A-000002", None)]
    assert phoenix_db.scalar("SELECT COUNT(*) FROM manufacturers_info") == 2    # en, de
