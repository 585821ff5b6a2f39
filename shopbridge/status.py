"""``shopbridge status``: per target (each shop, each tenant's ERP), what waits in its work
queue, how many dead letters it has, and what it applied last and how long ago.

Read only: queues are looked at with a passive declare (a queue no consumer has declared yet
is shown as such, not created), the databases with one SELECT each through the target's own
applier (``Applier.last_applied``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from . import brokers, kinds, topology
from . import config as cfg
from .errors import TargetUnavailable


@dataclass(frozen=True)
class TargetStatus:
    target: str                    # tenant/name
    note: str | None               # inactive, queue not declared yet
    waiting: int | None
    dead: int | None
    last: str | None               # what it applied last
    ago_s: float | None
    problem: str | None = None     # its database is away


def _shop_applier(shop: cfg.ShopConfig) -> kinds.Applier:
    return kinds.shop_sink(shop.kind).applier(shop)


def _erp_applier(tenant: cfg.TenantConfig) -> kinds.Applier:
    return kinds.erp_sink(tenant.erp.kind).applier(tenant)


def _ago(at: datetime | None) -> float | None:
    if at is None:
        return None
    return (datetime.now(UTC).replace(tzinfo=None) - at).total_seconds()


def collect(settings: cfg.Settings, *, tenant: str | None = None,
            shop: str | None = None) -> list[TargetStatus]:
    """Raises:
        BrokerUnavailable: the broker is away (each database being away is a row's problem).
    """
    wanted: list[tuple[topology.Target, bool, Callable[[], kinds.Applier]]] = []
    for t in settings.tenants:
        if tenant and t.name != tenant:
            continue
        for s in t.shops:
            if shop and s.name != shop:
                continue
            wanted.append((topology.Target.for_shop(s), s.active, partial(_shop_applier, s)))
        if not shop:
            wanted.append((topology.Target.for_erp(t.name), True, partial(_erp_applier, t)))
    rows = []
    ns = settings.broker.namespace
    depths = brokers.depths(settings.broker, [
        name for target, _, _ in wanted
        for name in (topology.work_queue(ns, target.tenant, target.name),
                     topology.dead_letter_queue(ns, target.tenant, target.name))])
    for target, active, make in wanted:
        waiting = depths[topology.work_queue(ns, target.tenant, target.name)]
        dead = depths[topology.dead_letter_queue(ns, target.tenant, target.name)]
        note = None if active else "inactive"
        if waiting is None:
            note = note or "no consumer has run yet"
        last = problem = None
        at = None
        applier = make()
        try:
            found = applier.last_applied()
            if found is not None:
                last, at = found
        except TargetUnavailable as err:
            problem = str(err)
        finally:
            applier.close()
        rows.append(TargetStatus(f"{target.tenant}/{target.name}", note, waiting,
                                 dead, last, _ago(at), problem))
    return rows


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def render(rows: list[TargetStatus]) -> list[str]:
    table = [("TARGET", "WAITING", "DEAD", "LAST APPLIED", "AGO", "NOTE")]
    for r in rows:
        table.append((r.target, "-" if r.waiting is None else str(r.waiting),
                      "-" if r.dead is None else str(r.dead), r.last or "-", _human(r.ago_s),
                      (r.problem and f"database unavailable: {r.problem}") or r.note or ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True))
            + ("  " + row[-1] if row[-1] else "") for row in table]
