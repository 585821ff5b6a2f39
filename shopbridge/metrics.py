"""Prometheus metrics of the long-running services (P7).

One set of metric families per process (prometheus-client's default registry, which also
carries the process's CPU and memory); every series is labelled with the tenant and the
target (a shop's name, or ``erp``). The consume loop (consumers/runner.py) counts through
``TargetMetrics``, which caches the labelled children so that counting an event costs a
dictionary lookup and an add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = ("received", "applied", "skipped", "retried", "dead_lettered")

EVENTS = Counter(
    "shopbridge_events", "Events by target, type and outcome (received; then applied, "
    "skipped as unchanged/stale/not selected, retried or dead-lettered)",
    ["tenant", "target", "type", "outcome"])
LAG = Histogram(
    "shopbridge_lag_seconds", "End-to-end lag: from the event's occurred_at in the source to "
    "applied in the target", ["tenant", "target", "entity"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))
LAST_LAG = Gauge(
    "shopbridge_last_lag_seconds", "Lag of the last applied batch's newest event",
    ["tenant", "target", "entity"])
LAST_APPLIED = Gauge(
    "shopbridge_last_applied_timestamp_seconds", "When the target last applied an event "
    "(Unix time)", ["tenant", "target"])
QUEUE_DEPTH = Gauge(
    "shopbridge_queue_depth", "Messages waiting in the target's queues (work, dead)",
    ["tenant", "target", "queue"])
BATCH_EVENTS = Histogram(
    "shopbridge_batch_events", "Events per applied batch (after coalescing)",
    ["tenant", "target"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000))
BATCH_DB_SECONDS = Histogram(
    "shopbridge_batch_db_seconds", "Time one batch spends in the target's database (apply)",
    ["tenant", "target"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


PUBLISHED = Counter(
    "shopbridge_published_events", "Events a producer published, by tenant, source and type",
    ["tenant", "source", "type"])
CYCLE_SECONDS = Histogram(
    "shopbridge_cycle_seconds", "A producer cycle's duration (stock scan or full cycle)",
    ["tenant", "source"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
LAST_CYCLE = Gauge(
    "shopbridge_last_cycle_timestamp_seconds", "When a producer's last cycle ended (Unix time)",
    ["tenant", "source"])


def producer_cycle(tenant: str, source: str, published: Mapping[str, int],
                   seconds: float) -> None:
    """Count one producer cycle (``produce --follow``, ``orders produce --follow``)."""
    for event_type, n in published.items():
        if n:
            PUBLISHED.labels(tenant, source, event_type).inc(n)
    CYCLE_SECONDS.labels(tenant, source).observe(seconds)
    LAST_CYCLE.labels(tenant, source).set(datetime.now(UTC).timestamp())


def _seconds_since(occurred_at: str, now: datetime) -> float | None:
    try:
        moment = datetime.fromisoformat(occurred_at)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((now - moment).total_seconds(), 0.0)


@dataclass
class TargetMetrics:
    """The series of one consumer's target."""

    tenant: str
    target: str
    _events: dict[tuple[str, str], Any] = field(default_factory=dict)

    def count(self, event_type: str, outcome: str, n: int = 1) -> None:
        if n <= 0:
            return
        child = self._events.get((event_type, outcome))
        if child is None:
            child = EVENTS.labels(self.tenant, self.target, event_type, outcome)
            self._events[(event_type, outcome)] = child
        child.inc(n)

    def batch(self, events: int, db_seconds: float) -> None:
        BATCH_EVENTS.labels(self.tenant, self.target).observe(events)
        BATCH_DB_SECONDS.labels(self.tenant, self.target).observe(db_seconds)

    def applied(self, occurred: list[tuple[str, str]]) -> None:
        """(entity, occurred_at) of the events a batch applied."""
        now = datetime.now(UTC)
        newest: dict[str, float] = {}
        # A batch's events share few moments (the producer stamps them to the second) and
        # entities: each parsed and looked up once (an initial load observes 100,000).
        lags: dict[str, float | None] = {}
        series: dict[str, Any] = {}
        for entity, occurred_at in occurred:
            if occurred_at in lags:
                lag = lags[occurred_at]
            else:
                lag = lags[occurred_at] = _seconds_since(occurred_at, now)
            if lag is None:
                continue
            child = series.get(entity)
            if child is None:
                child = series[entity] = LAG.labels(self.tenant, self.target, entity)
            child.observe(lag)
            newest[entity] = min(lag, newest.get(entity, lag))
        for entity, lag in newest.items():
            LAST_LAG.labels(self.tenant, self.target, entity).set(lag)
        if occurred:
            LAST_APPLIED.labels(self.tenant, self.target).set(now.timestamp())

    def depth(self, queue: str, messages: int) -> None:
        QUEUE_DEPTH.labels(self.tenant, self.target, queue).set(messages)

    def since_applied(self) -> float | None:
        """Seconds since the target last applied an event (None: never in this process)."""
        for metric in LAST_APPLIED.collect():
            for sample in metric.samples:
                if sample.labels == {"tenant": self.tenant, "target": self.target}:
                    return datetime.now(UTC).timestamp() - sample.value
        return None

    def queue_depth(self, queue: str = "work") -> float | None:
        for metric in QUEUE_DEPTH.collect():
            for sample in metric.samples:
                if sample.labels == {"tenant": self.tenant, "target": self.target,
                                     "queue": queue}:
                    return sample.value
        return None
