"""The one place that decides between retry and dead letter, and carries the decision out.

Handlers return or raise; they never acknowledge. For a failed event, ``decide`` turns the
exception and the attempts so far into a retry tier or the dead-letter queue; ``Settler``
publishes the event alone (confirmed) with headers that tell the operator why. The original
message is acknowledged by the consumer only after this has returned. Model: dramatiq's
Retries middleware.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from . import topology
from .config import BrokerConfig
from .errors import PermanentError, RetryableError
from .publisher import OutMessage, Publisher

H_ATTEMPTS = "x-shopbridge-attempts"
H_ERROR_CLASS = "x-shopbridge-error-class"
H_ERROR = "x-shopbridge-error"
H_FIRST_FAILURE = "x-shopbridge-first-failure"
H_LAST_FAILURE = "x-shopbridge-last-failure"
H_CONSUMER = "x-shopbridge-consumer"
H_EVENT_TYPE = "x-shopbridge-event-type"
H_ENTITY_KEY = "x-shopbridge-entity-key"
H_REPLAYED = "x-shopbridge-replayed"
H_REPLAY_RUN = "x-shopbridge-replay-run"   # which `dlq replay` run moved it last (kept on failure)
MAX_ERROR_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a failed event goes: ``retry`` after ``delay_s``, or ``dead``."""

    action: str
    attempts: int
    delay_s: int | None = None


def decide(exc: BaseException, *, attempts_before: int, tiers: tuple[int, ...]) -> Decision:
    """Retry or dead letter, from the exception's family and the attempts so far.

    A PermanentError goes straight to dead letters. Anything else climbs the tiers (an
    unexpected exception may be a passing fault too); after the last tier it is dead.
    A RetryableError that does not count as an attempt retries in the first tier forever.
    """
    if isinstance(exc, PermanentError):
        return Decision("dead", attempts_before + 1)
    counts = not isinstance(exc, RetryableError) or exc.counts_as_attempt
    attempts = attempts_before + 1 if counts else attempts_before
    if counts and attempts > len(tiers):
        return Decision("dead", attempts)
    # A non-counting retry may carry more attempts than there are tiers now (tiers shortened
    # in the configuration since): it waits in the last one.
    tier = tiers[min(max(attempts - 1, 0), len(tiers) - 1)]
    return Decision("retry", attempts, tier)


def attempts_of(headers: Mapping[str, Any] | None) -> int:
    try:
        return int((headers or {}).get(H_ATTEMPTS, 0))
    except (TypeError, ValueError):
        return 0


class Settler:
    """Moves single failed events (or undecodable bodies) to a retry tier or dead letters."""

    def __init__(self, *, broker: BrokerConfig, target: topology.Target,
                 publisher: Publisher) -> None:
        self.broker = broker
        self.target = target
        self.publisher = publisher
        self.consumer = f"{target.tenant}/{target.name}@{socket.gethostname()}:{os.getpid()}"

    def fail(self, *, body: bytes | None = None, event: Mapping[str, Any] | None = None,
             headers: Mapping[str, Any] | None, exc: BaseException) -> Decision:
        """Publish one failed event (or raw body) onward; returns what was decided."""
        decision = decide(exc, attempts_before=attempts_of(headers),
                          tiers=self.broker.retry_tiers_s)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        out_headers = dict(headers or {})
        out_headers.pop(H_REPLAYED, None)
        out_headers.update({
            H_ATTEMPTS: decision.attempts,
            H_ERROR_CLASS: type(exc).__name__,
            H_ERROR: str(exc)[:MAX_ERROR_TEXT],
            H_LAST_FAILURE: now,
            H_CONSUMER: self.consumer,
        })
        out_headers.setdefault(H_FIRST_FAILURE, now)
        if event is not None:
            out_headers[H_EVENT_TYPE] = str(event.get("type"))
            out_headers[H_ENTITY_KEY] = str(event.get("entity_key"))
            body = orjson.dumps(event)
        ns, tenant, name = self.broker.namespace, self.target.tenant, self.target.name
        if decision.action == "dead":
            queue = topology.dead_letter_queue(ns, tenant, name)
        else:
            queue = topology.retry_queue(ns, tenant, name, decision.delay_s or 0)
        assert body is not None
        self.publisher.publish([OutMessage(routing_key=queue, body=body, headers=out_headers)])
        return decision
