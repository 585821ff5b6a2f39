"""A shop applier's connections run READ COMMITTED (consumers/binder.py relies on it), set
once per connection: as an execution option it cost two statements per transaction."""

from __future__ import annotations

from consumers.oscommerce import PhoenixApplier
from tests.conftest import settings_for, shop_entry


def test_each_connection_is_read_committed_without_a_statement_per_transaction(
        cao_db, phoenix_db, namespace):
    settings = settings_for(namespace, cao_db, [shop_entry("web", phoenix_db)])
    applier = PhoenixApplier(shop=settings.tenants[0].shop("web"))
    try:
        with applier.engine.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT @@SESSION.tx_isolation").scalar_one() == "READ-COMMITTED"
            before = int(conn.exec_driver_sql(
                "SHOW SESSION STATUS LIKE 'Com_set_option'").one()[1])
        for _ in range(5):
            with applier.engine.begin() as conn:       # the pool hands out the same one
                conn.exec_driver_sql("SELECT 1")
        with applier.engine.connect() as conn:
            after = int(conn.exec_driver_sql(
                "SHOW SESSION STATUS LIKE 'Com_set_option'").one()[1])
            assert conn.exec_driver_sql(
                "SELECT @@SESSION.tx_isolation").scalar_one() == "READ-COMMITTED"
        assert after == before
    finally:
        applier.close()
