"""Every error shopbridge raises, in two families.

The branch an error sits in decides what the pipeline does with the message that caused it:
``RetryableError`` may succeed later (in-process retry, then the delayed retry tiers),
``PermanentError`` cannot (straight to the shop's dead-letter queue, body unchanged).
``settle.decide()`` is the only place that reads this distinction.
"""

from __future__ import annotations


class ShopbridgeError(Exception):
    """Base of everything shopbridge raises."""


class ConfigError(ShopbridgeError):
    """The configuration file is missing, malformed or inconsistent."""


class RetryableError(ShopbridgeError):
    """The operation may succeed later.

    Args:
        delay_s: the earliest sensible retry, or None for the tier's default.
        counts_as_attempt: False when the failure says nothing about the message itself
            (a lock held by another consumer, a database that is down).
    """

    def __init__(self, message: str, *, delay_s: float | None = None,
                 counts_as_attempt: bool = True) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.counts_as_attempt = counts_as_attempt


class TargetLocked(RetryableError):
    """Another consumer holds the entity's lock."""


class DependencyMissing(RetryableError):
    """Something the event refers to is not applied yet (e.g. the product's category)."""


class TransientDatabaseError(RetryableError):
    """Deadlock or lock wait timeout: the same statement will likely work on a second try."""


class TargetUnavailable(TransientDatabaseError):
    """The database cannot be reached at all; every event would fail, so the consumer pauses."""

    def __init__(self, message: str, *, delay_s: float | None = None) -> None:
        super().__init__(message, delay_s=delay_s, counts_as_attempt=False)


class DatabaseFailed(RetryableError):
    """The database refused a statement for a reason the error table does not know (a
    missing column, a foreign key): it may be a passing fault, so it climbs the retry tiers
    like any unexpected error before it is dead-lettered."""


class BrokerUnavailable(RetryableError):
    """RabbitMQ cannot be reached or refused to confirm a publish."""


class PermanentError(ShopbridgeError):
    """Retrying cannot help: the message goes to dead letters with its body unchanged."""


class InvalidEvent(PermanentError):
    """The message is not JSON or fails its JSON Schema."""


class UnknownEventType(PermanentError):
    """No schema (and no handler) exists for the event's type and schema_version."""


class MappingError(PermanentError):
    """The payload cannot be expressed in this shop (unmapped tax code, value out of range)."""


class TargetRejected(PermanentError):
    """The target database refused a value (too long, out of range, bad encoding)."""
