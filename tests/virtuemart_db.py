"""A VirtueMart 4.4 shop database for tests, built from the upstream install SQL.

The files in ``reference/virtuemart/`` are loaded in SOURCE.txt's load order with Joomla's
``#__`` replaced by the table prefix, under the strict sql_mode a Python client gets from
MariaDB (zero dates refused, NOTES 1). The language tables VirtueMart creates at runtime are
made for every active language from ``derived_language_tables_de_de.sql``, the way
VirtueMart's tableupdater makes them. Then the shop's own rows: vendor 1 with the ERP's
currency and the config row naming the active languages. The project never copies that SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

import consumers
from shopbridge import config as cfg
from shopbridge import sample
from tests.conftest import AMQP_URL, MARIADB_URL, REFERENCE, Database, unique

if TYPE_CHECKING:
    from tests.contract.pipeline import Pipeline

VIRTUEMART = REFERENCE / "virtuemart"
LOAD_ORDER = ("joomla_core_users.sql", "install.sql", "install_essential_data.sql",
              "install_required_data.sql", "install_country_data.sql",
              "virtuemart_configs.sql")
LANGUAGE_SQL = "derived_language_tables_de_de.sql"
SQL_MODE = "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE"
PREFIX = "sbx_"                    # not Joomla's usual jos_: nothing may assume a prefix
LANGUAGES = ("de-DE", "en-GB")
EUR = 47                           # virtuemart_currency_id of EUR (install_required_data.sql)


def reference_problem() -> str | None:
    """Why the VirtueMart reference SQL cannot be used, or None."""
    missing = [name for name in (*LOAD_ORDER, LANGUAGE_SQL) if not (VIRTUEMART / name).is_file()]
    if missing:
        return (f"upstream VirtueMart reference SQL {', '.join(missing)} absent from "
                f"{VIRTUEMART} (it lives in ../shared, beside the repository)")
    return None


def schema_sql(prefix: str, languages: Sequence[str]) -> str:
    """The whole install script with ``#__`` replaced, language tables included."""
    parts = [(VIRTUEMART / name).read_text(encoding="utf-8") for name in LOAD_ORDER]
    template = (VIRTUEMART / LANGUAGE_SQL).read_text(encoding="utf-8")
    for tag in languages:
        parts.append(template.replace("_de_de`", f"_{tag.lower().replace('-', '_')}`"))
    return "\n".join(parts).replace("#__", prefix)


def config_text(values: dict[str, object]) -> str:
    """VirtueMart's ``key=<json>|`` config format (VmConfig::toString)."""
    return "".join(f"{key}={json.dumps(value)}|" for key, value in values.items())


def run_strict(url: URL, sql: str) -> None:
    """Run an install script under the strict sql_mode VirtueMart's own client has."""
    sample.run_sql_file(url, sql, sql_mode=SQL_MODE)


def create_virtuemart(name: str | None = None, *, prefix: str = PREFIX,
                      languages: Sequence[str] = LANGUAGES, currency_id: int = EUR,
                      config: dict[str, object] | None = None,
                      server: str = MARIADB_URL) -> Database:
    """A fresh VirtueMart shop database on ``server`` (the caller drops it:
    ``drop_virtuemart``; bench/vm_bench.py builds its shops here too)."""
    name = name or unique("sbtest_vm")
    url = sample.create_database(server, name)
    try:
        run_strict(url, schema_sql(prefix, languages))
        values: dict[str, object] = {"active_languages": list(languages), "vmDefLang": "",
                                     "optimisedProductSql": 1, "stockhandle": "none"}
        values.update(config or {})
        engine = sa.create_engine(url, connect_args={
            "charset": "utf8mb4", "init_command": f"SET SESSION sql_mode = '{SQL_MODE}'"})
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO {prefix}virtuemart_configs (virtuemart_config_id, config) "
                f"VALUES (1, %s)", (config_text(values),))
            conn.exec_driver_sql(
                f"INSERT INTO {prefix}virtuemart_vendors (virtuemart_vendor_id, vendor_name, "
                f"vendor_currency) VALUES (1, 'Test-Shop', %s)", (currency_id,))
    except BaseException:
        sample.drop_database(server, name)
        raise
    return Database(name, url, engine)


def drop_virtuemart(db: Database) -> None:
    db.engine.dispose()
    sample.drop_database(MARIADB_URL, db.name)


def virtuemart_for_a_test() -> Iterator[Database]:
    """A fixture's body: a fresh shop database, dropped afterwards; skips the test when the
    reference SQL is absent."""
    problem = reference_problem()
    if problem:
        pytest.skip(problem)
    db = create_virtuemart()
    try:
        yield db
    finally:
        drop_virtuemart(db)


def shop_entry(name: str, db: Database, *, prefix: str = PREFIX, **overrides: object
               ) -> dict[str, object]:
    """The shop's configuration entry: CAO shop 1, tax codes 1 and 2 -> calc rules 1 and 2."""
    entry: dict[str, object] = {
        "name": name, "kind": "virtuemart",
        "url": db.url.render_as_string(hide_password=False),
        "languages": ["de", "en"], "price_level": 1, "stock_mode": "available",
        "tax_classes": {"1": 2, "2": 1}, "filter": {"cao_shop_id": 1},
        "virtuemart": {"prefix": prefix},
    }
    entry.update(overrides)
    return entry



@contextmanager
def vm_pipeline(db: Database, *, name: str = "sbtest-vm", **virtuemart: object
                ) -> Iterator[Pipeline]:
    """A running consumer of the shop ``db`` (options ``virtuemart``, prefix ``PREFIX``
    unless given) behind a broker namespace of its own; closed, its queues deleted, after."""
    from tests.contract.pipeline import Pipeline

    settings = cfg.parse({
        "broker": {"url": AMQP_URL, "namespace": unique(name).replace("_", "-"),
                   "retry_tiers_s": [1, 2], "batch_wait_ms": 20},
        "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": f"{MARIADB_URL}x"},
                     "shops": [shop_entry("vm", db, virtuemart={"prefix": PREFIX,
                                                                **virtuemart})]}]},
        source="test")
    shop = settings.tenants[0].shops[0]
    applier = consumers.make_applier(shop)
    line = Pipeline(broker=settings.broker, shop=shop, applier=applier)
    line.start()
    try:
        yield line
    finally:
        line.close()
        applier.close()
