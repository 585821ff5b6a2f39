"""Broker edge: opening a connection, and the one table that turns kombu, py-amqp and socket
errors into shopbridge errors.

Nothing above this module (and the publisher, which translates its own publishes) catches
``amqp``, ``kombu`` or socket exception types. Every message names the broker by its masked
URL, so that the line a command ends with says which broker and why, never the password.
Model: kombu's ``connection_errors`` / ``channel_errors`` per transport.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import amqp
import kombu.exceptions
from kombu import Connection

from .config import BrokerConfig
from .errors import BrokerUnavailable, ConfigError, ShopbridgeError

log = logging.getLogger(__name__)

# One-shot commands fail fast: a refused port fails in well under a second, a host that does
# not answer after CONNECT_TIMEOUT_S per try; one retry rides out a broker restart's blip.
CONNECT_TIMEOUT_S = 5.0
CONNECT_RETRIES = 1
RETRY_INTERVAL_S = 1.0

# What the broker or the network may raise; kombu wraps connect failures in OperationalError.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    OSError, amqp.exceptions.AMQPError, kombu.exceptions.OperationalError)


def _cause(err: BaseException) -> str:
    """The driver's own words, one line, with what to do where that is known."""
    orig = err.__cause__ if isinstance(err, kombu.exceptions.OperationalError) and \
        err.__cause__ is not None else err
    # py-amqp prefixes the method that failed, "(0, 0): " at login: noise to an operator.
    text = re.sub(r"^\(\d+, \d+\): ", "", " ".join(str(orig).split()))
    if isinstance(orig, amqp.exceptions.AccessRefused) or "ACCESS_REFUSED" in text:
        return f"login refused (wrong user or password?): {text}"
    if isinstance(orig, amqp.exceptions.NotAllowed) or "NOT_ALLOWED" in text:
        return f"access to the virtual host refused: {text}"
    return f"{type(orig).__name__}: {text}"


def translate(err: BaseException, where: str) -> ShopbridgeError | None:
    """Map a broker or network error to the shopbridge error it means, else None.

    Args:
        err: an exception from kombu, py-amqp or the socket.
        where: the broker's masked URL (``BrokerConfig.safe``), never the raw URL.
    """
    if isinstance(err, amqp.exceptions.PreconditionFailed):
        # A queue exists with other arguments than the configuration gives it (a changed
        # delivery_limit or retry tier): retrying cannot help, the configuration must change.
        return ConfigError(f"broker {where}: the configuration disagrees with a declared "
                           f"queue: {_cause(err)}")
    if isinstance(err, BROKER_ERRORS):
        return BrokerUnavailable(f"{where}: {_cause(err)}")
    return None


def unreachable(err: BaseException) -> bool:
    """Whether a (translated) broker error means nothing answered, rather than a broker that
    answered and refused (a wrong password must not be mistaken for a missing broker)."""
    seen: set[int] = set()
    cause: BaseException | None = err
    found = False
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, amqp.exceptions.AMQPError):
            return False
        found = found or isinstance(cause, OSError)
        cause = cause.__cause__ or cause.__context__
    return found


@contextmanager
def translated(broker: BrokerConfig) -> Iterator[None]:
    """Re-raise broker and network errors as shopbridge errors, ``from`` the original.

    Wrap broker calls only: an OSError from anything else (a file) is not the broker's.
    """
    try:
        yield
    except BROKER_ERRORS as err:
        mapped = translate(err, broker.safe)
        if mapped is None:  # pragma: no cover - BROKER_ERRORS always map
            raise
        raise mapped from err


def connect(broker: BrokerConfig, *, retries: int = CONNECT_RETRIES,
            targets: Iterable[Any] = ()) -> Connection:
    """An open connection (heartbeats off) with the topology of ``targets`` declared, or
    BrokerUnavailable naming the broker and cause.

    Heartbeats stay off: a consumer waiting for its shop database does not read the socket,
    and missed heartbeats would close a healthy connection.

    Args:
        broker: broker settings.
        retries: further tries after the first, RETRY_INTERVAL_S apart and growing (0 where
            the caller rides out an outage itself, ``shopbridge.outage``).
        targets: ``topology.Target``s whose exchange and queues to declare.
    Raises:
        BrokerUnavailable: the broker cannot be reached or refused the login.
        ConfigError: a queue exists with other arguments than the configuration gives it.
    """
    from . import topology

    conn = Connection(broker.url, heartbeat=0, connect_timeout=CONNECT_TIMEOUT_S)
    try:
        with translated(broker):
            conn.ensure_connection(max_retries=retries, interval_start=RETRY_INTERVAL_S,
                                   interval_step=RETRY_INTERVAL_S)
            wanted = list(targets)
            if wanted:
                topology.declare(conn, broker, wanted)
    except BaseException:
        release(conn)
        raise
    return conn


def release(conn: Connection) -> None:
    """Close a connection that may already be dead, without raising."""
    try:
        conn.release()
    except Exception:
        log.debug("closing a broker connection failed", exc_info=True)
