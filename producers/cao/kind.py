"""CAO-Faktura as an ERP source (its catalogue to the shops): the object registered under
``shopbridge.erp_sources`` in pyproject.toml (``shopbridge.kinds.ErpSource``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from shopbridge.config import BrokerConfig, ShopConfig, TenantConfig
from shopbridge.kinds import CatalogueReport, ErpSource
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable, ensure
from systems.cao import candidates

from . import capture, guard, preview, probes, resync, snapshot, statuses, tables, variants
from .producer import CaoProducer, CycleReport


class CaoSource:
    check = staticmethod(probes.check)   # shopbridge check: this role's probe

    def producer(self, *, broker: BrokerConfig, tenant: TenantConfig) -> CaoProducer:
        return CaoProducer(broker=broker, tenant=tenant)

    def warnings(self, report: CatalogueReport) -> list[str]:
        """Articles the cycle could not publish as they are: CAO's data to fix."""
        if not isinstance(report, CycleReport):
            return []
        return [*(f"ARTNUM {sku!r} is used by REC_ID {', '.join(map(str, ids))}"
                  for sku, ids in report.duplicates),
                *(f"article REC_ID {rec_id} has no ARTNUM and is not published"
                  for rec_id in report.without_sku)]

    def resync_preview(self, *, broker: BrokerConfig, tenant: TenantConfig, shop: ShopConfig,
                       entities: Collection[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """``sync --dry-run``: the events a full sync would republish into the shop's queue
        and the rejected ones' lines, published nowhere (producers/cao/preview.py)."""
        producer = CaoProducer(broker=broker, tenant=tenant)
        try:
            return preview.resync_events(producer, shop, entities)
        finally:
            producer.close()

    def own_tables(self, tenant: TenantConfig) -> list[OwnTable]:
        return [snapshot.TABLE, resync.TABLE] + (
            [variants.TABLE] if tenant.erp.variants.enabled else []) + (
            list(guard.TABLES) if guard.guarded_shops(tenant) else [])

    def ensure_tables(self, conn: sa.Connection, tenant: TenantConfig) -> None:
        for table in self.own_tables(tenant):
            ensure(conn, table)

    def needs(self, tenant: TenantConfig) -> Needs:
        """``produce``: SELECT on the CAO tables it reads, its snapshot (and variant) table."""
        reads = [t.name for t in tables.metadata.sorted_tables if t.name != "REGISTRY"]
        reads += [*tables.ALSO_READ, *candidates("REGISTRY", tenant.erp)]
        if guard.guarded_shops(tenant):      # which orders CAO has (the importer's table)
            reads += [statuses.IMPORT_TABLE]
        return Needs(service="produce", own=self.own_tables(tenant), reads=reads)

    def schema(self) -> sa.MetaData:
        return tables.metadata

    def capture(self, conn: sa.Connection, tenant: TenantConfig, action: str) -> list[str]:
        return capture.command(conn, action)

    def capture_complete(self, conn: sa.Connection, tenant: TenantConfig) -> bool | None:
        found = capture.state(conn)
        conn.commit()
        if found.assumed or (found.absent and not found.table):
            return None
        return found.complete


# Typed as the role, so that mypy checks the object keeps the role's promises.
SOURCE: ErpSource = CaoSource()
