"""CAO-Faktura as an ERP sink (shop orders and accounts into CAO): the object registered
under ``shopbridge.erp_sinks`` in pyproject.toml (``shopbridge.kinds.ErpSink``)."""

from __future__ import annotations

import sqlalchemy as sa

from shopbridge.config import TenantConfig
from shopbridge.kinds import ErpSink
from shopbridge.needs import Needs
from shopbridge.owntables import OwnTable, ensure
from systems.cao import candidates

from ..sink import Sink
from . import importer, indexes, probes, tables
from .importer import CaoOrderApplier, ImportNotes, read_import_notes


class CaoSink(Sink):
    check = staticmethod(probes.check)   # shopbridge check: this role's probe

    def applier(self, tenant: TenantConfig) -> CaoOrderApplier:
        return CaoOrderApplier(tenant=tenant)

    def import_notes(self, conn: sa.Connection, shop: str) -> ImportNotes:
        return read_import_notes(conn, shop)

    def own_tables(self, tenant: TenantConfig) -> list[OwnTable]:
        return [importer.TABLE]

    def ensure_tables(self, conn: sa.Connection, tenant: TenantConfig) -> None:
        ensure(conn, importer.TABLE)

    def needs(self, tenant: TenantConfig) -> Needs:
        """``consume --erp``: the CAO tables the import reads and writes, its own table."""
        registry = list(candidates("REGISTRY", tenant.erp))   # under the names it looks for
        reads = [t for t in importer.TABLES if t != "REGISTRY"] + registry
        writes = {t: p for t, p in importer.WRITES.items() if t != "REGISTRY"}
        writes |= {t: importer.WRITES["REGISTRY"] for t in registry}
        return Needs(service="consume --erp", own=self.own_tables(tenant), reads=reads,
                     writes=writes)

    def schema(self) -> sa.MetaData:
        return tables.metadata

    def indexes(self, conn: sa.Connection, tenant: TenantConfig, action: str) -> list[str]:
        return indexes.change(conn, tenant, action)


# Typed as the role, so that mypy checks the object keeps the role's promises.
SINK: ErpSink = CaoSink()
