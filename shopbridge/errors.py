"""Every error shopbridge raises, in two families.

The branch an error sits in decides what the pipeline does with the message that caused it:
``RetryableError`` may succeed later (in-process retry, then the delayed retry tiers),
``PermanentError`` cannot (straight to the shop's dead-letter queue, body unchanged).
``settle.decide()`` is the only place that reads this distinction.
"""

from __future__ import annotations

from collections.abc import Sequence


class ShopbridgeError(Exception):
    """Base of everything shopbridge raises."""


class ConfigError(ShopbridgeError):
    """The configuration file is missing, malformed or inconsistent.

    Args:
        problems: each thing wrong, one line each (reading a file reports all of its
            errors at once); default: the message itself.
    """

    def __init__(self, message: str, *, problems: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) if problems else (message,)


class DemoConflict(ShopbridgeError):
    """The demo's names are taken by databases it did not create, or another demo run of the
    same checkout is going on: nothing was dropped."""


class DryRunRefused(ShopbridgeError):
    """A dry run cannot promise to write nothing here (a table a rollback would not undo, an
    own table it would have to create) or the shop's kind has no dry run: nothing was done."""


class SetupRequired(ConfigError):
    """A table of shopbridge's own is missing or outdated and the database user may not
    create or alter it: ``shopbridge setup`` must run once with a user that may."""


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


class AccessDenied(TargetUnavailable):
    """The database user lacks a grant (or a login): every event would fail the same way
    until it is given, so the consumer pauses like for an outage and dead-letters nothing.

    Args:
        grant: what is missing as the server named it, e.g. "UPDATE on `shop`.`products`",
            or None where the server's message names no single grant.
    """

    def __init__(self, message: str, *, grant: str | None = None) -> None:
        super().__init__(message)
        self.grant = grant


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
