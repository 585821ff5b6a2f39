"""The one place that decides between retry and dead letter, and carries the decision out.

Handlers return or raise; they never acknowledge. For a failed event, ``decide`` turns the
exception and the attempts so far into a retry tier or the dead-letter queue; ``Settler``
publishes the event alone (confirmed) with headers that tell the operator why. The original
message is acknowledged by the consumer only after this has returned. Model: dramatiq's
Retries middleware.

A retryable error that names a delay (``TargetLocked(delay_s=2)``) is retried after about
that delay instead of its tier's: it waits in the smallest tier at least that long, with a
per-message expiration of the named delay. RabbitMQ expires messages only at the head of a
queue, so a message behind others in its tier may wait longer than it named, but never longer
than that tier's own TTL (everything ahead of it expires within the tier's TTL too). This is
why a named delay never goes to a tier longer than needed: in the 600 s tier it could wait
behind a message with 10 minutes to go.
"""

from __future__ import annotations

import math
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
from .publisher import OutMessage, Publishing

H_ATTEMPTS = "x-shopbridge-attempts"
H_ERROR_CLASS = "x-shopbridge-error-class"
H_ERROR = "x-shopbridge-error"
H_FIRST_FAILURE = "x-shopbridge-first-failure"
H_LAST_FAILURE = "x-shopbridge-last-failure"
H_CONSUMER = "x-shopbridge-consumer"
H_EVENT_TYPE = "x-shopbridge-event-type"
H_ENTITY_KEY = "x-shopbridge-entity-key"
H_REPLAYED = "x-shopbridge-replayed"
H_RESYNC = "x-shopbridge-resync"          # published by `shopbridge sync` (Event.resync)
REPAIR = 2                                 # its value from `drift --repair` (Event.repair)
H_REPLAY_RUN = "x-shopbridge-replay-run"   # which `dlq replay` run moved it last (kept on failure)
MAX_ERROR_TEXT = 2000
# A named delay shorter than this waits this long: a message never loops through the broker
# without a pause.
MIN_NAMED_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a failed event goes: ``retry`` after ``delay_s`` in the retry queue of tier
    ``tier_s`` (``delay_s <= tier_s``), or ``dead``."""

    action: str
    attempts: int
    delay_s: float | None = None
    tier_s: int | None = None


def decide(exc: BaseException, *, attempts_before: int, tiers: tuple[int, ...]) -> Decision:
    """Retry or dead letter, from the exception's family and the attempts so far.

    A PermanentError goes straight to dead letters. Anything else climbs the tiers (an
    unexpected exception may be a passing fault too); after the last tier it is dead.
    A RetryableError that does not count as an attempt is retried without limit.

    A RetryableError that names a delay (``delay_s``) waits that long (at least
    ``MIN_NAMED_DELAY_S``) instead of its tier's backoff, in the smallest tier at least that
    long; a delay longer than every tier waits the longest tier. It still counts as an
    attempt unless it says otherwise.
    """
    if isinstance(exc, PermanentError):
        return Decision("dead", attempts_before + 1)
    counts = not isinstance(exc, RetryableError) or exc.counts_as_attempt
    attempts = attempts_before + 1 if counts else attempts_before
    if counts and attempts > len(tiers):
        return Decision("dead", attempts)
    named = exc.delay_s if isinstance(exc, RetryableError) else None
    if named is not None:
        delay = max(float(named), MIN_NAMED_DELAY_S)
        tier = min((t for t in tiers if t >= delay), default=max(tiers))
        return Decision("retry", attempts, min(delay, tier), tier)
    # A non-counting retry may carry more attempts than there are tiers now (tiers shortened
    # in the configuration since): it waits in the last one.
    tier = tiers[min(max(attempts - 1, 0), len(tiers) - 1)]
    return Decision("retry", attempts, tier, tier)


def attempts_of(headers: Mapping[str, Any] | None) -> int:
    try:
        return int((headers or {}).get(H_ATTEMPTS, 0))
    except (TypeError, ValueError):
        return 0


class Settler:
    """Moves single failed events (or undecodable bodies) to a retry tier or dead letters."""

    def __init__(self, *, broker: BrokerConfig, target: topology.Target,
                 publisher: Publishing) -> None:
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
            queue = topology.retry_queue(ns, tenant, name, decision.tier_s or 0)
        assert body is not None
        self.publisher.publish([OutMessage(routing_key=queue, body=body, headers=out_headers,
                                           expiration_ms=_expiration_ms(decision))])
        return decision


def _expiration_ms(decision: Decision) -> int | None:
    """The per-message TTL of a retry shorter than its tier (a named delay), else None."""
    if decision.action != "retry" or decision.delay_s is None or decision.tier_s is None \
            or decision.delay_s >= decision.tier_s:
        return None
    return math.ceil(decision.delay_s * 1000)
