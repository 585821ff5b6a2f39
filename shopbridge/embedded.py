"""The embedded broker (B5): the RabbitMQ topology kept in shopbridge's own InnoDB tables of one
MariaDB database, for a single server without RabbitMQ (``[broker] kind = "embedded"``).

The same names and rules as ``topology``: an exchange routes a routing key to every work queue
bound with a matching topic pattern; publishing to the default exchange ("") puts a message in
the queue it names. What RabbitMQ does with queue arguments, the store does itself:

- A retry tier (``forward_to`` + ``ttl_ms``) holds nothing: a message published to it goes
  straight to its work queue, invisible until ``available_at`` (the tier's TTL, or the
  message's shorter expiration; exact, where RabbitMQ expires only at a queue's head), with an
  ``x-death`` entry as RabbitMQ writes one.
- A consumer claims messages with ``SELECT ... FOR UPDATE SKIP LOCKED`` and marks them with
  its owner token, so two processes never hold the same message. The owner holds the MariaDB
  user lock ``sbq-<token>`` on the connection it claims with: when the process dies, or its
  connection, the server frees the lock and the next claim of any consumer gives its messages
  back (RabbitMQ's "unacknowledged messages return when the channel closes").
- Each claim counts a delivery; a message given back after more than ``delivery_limit``
  deliveries goes to the dead-letter queue with the ``x-first-death-*`` headers RabbitMQ's
  ``x-delivery-limit`` writes.
- "Confirmed" means committed: ``publish`` returns after the transaction holding every message.

Nothing here decides retry or dead letter for a failed event: that stays in ``settle``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import orjson
import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import topology
from .config import BrokerConfig, DatabaseConfig, ShopConfig
from .errors import BrokerUnavailable, ConfigError
from .owntables import OwnTable, ensure

log = logging.getLogger(__name__)

QUEUES = "shopbridge_broker_queue"
BINDINGS = "shopbridge_broker_binding"
MESSAGES = "shopbridge_broker_message"
LOCK_PREFIX = "sbq-"
RECOVER_EVERY_S = 1.0        # how often a consumer looks for messages of dead owners
CONNECT_TIMEOUT_S = 5
# Claims, acknowledgements and publishes of several processes touch the same index ranges:
# InnoDB may pick one as a deadlock victim (1213) or time a lock wait out (1205). Both are
# transient and are tried again here, a few times, before they count as the broker away.
CONFLICTS = (1205, 1213)
CONFLICT_TRIES = 5
T = TypeVar("T")

# ascii names: queue and exchange names are [a-z0-9._-], and keys stay far below 3072 bytes.
TABLES = (
    OwnTable(QUEUES, f"""CREATE TABLE IF NOT EXISTS {QUEUES} (
        name VARCHAR(255) CHARACTER SET ascii NOT NULL PRIMARY KEY,
        forward_to VARCHAR(255) CHARACTER SET ascii NULL,
        ttl_ms INT UNSIGNED NULL,
        dead_letter_to VARCHAR(255) CHARACTER SET ascii NULL,
        delivery_limit INT UNSIGNED NULL
    ) ENGINE=InnoDB"""),
    OwnTable(BINDINGS, f"""CREATE TABLE IF NOT EXISTS {BINDINGS} (
        exchange VARCHAR(255) CHARACTER SET ascii NOT NULL,
        pattern VARCHAR(255) CHARACTER SET ascii NOT NULL,
        queue VARCHAR(255) CHARACTER SET ascii NOT NULL,
        PRIMARY KEY (exchange, pattern, queue),
        KEY by_queue (queue)
    ) ENGINE=InnoDB"""),
    OwnTable(MESSAGES, f"""CREATE TABLE IF NOT EXISTS {MESSAGES} (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        queue VARCHAR(255) CHARACTER SET ascii NOT NULL,
        available_at DATETIME(6) NOT NULL,
        owner CHAR(32) CHARACTER SET ascii NULL,
        deliveries INT UNSIGNED NOT NULL DEFAULT 0,
        headers LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        body LONGBLOB NOT NULL,
        KEY claim (queue, owner, available_at, id)
    ) ENGINE=InnoDB"""),
)


# -- routing -----------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _topic_regex(pattern: str) -> re.Pattern[str]:
    """AMQP topic matching: ``*`` is one word, ``#`` any rest (shopbridge binds with ``*``)."""
    parts = [r"[^.]+" if word == "*" else r".*" if word == "#" else re.escape(word)
             for word in pattern.split(".")]
    return re.compile(r"\.".join(parts))


def topic_matches(pattern: str, key: str) -> bool:
    return _topic_regex(pattern).fullmatch(key) is not None


@dataclass(frozen=True)
class Queue:
    name: str
    forward_to: str | None = None
    ttl_ms: int | None = None
    dead_letter_to: str | None = None
    delivery_limit: int | None = None


def target_queues(broker: BrokerConfig, target: topology.Target) -> list[Queue]:
    """The queues of one target, the same names ``topology.target_queues`` gives RabbitMQ."""
    ns, tenant, name = broker.namespace, target.tenant, target.name
    work = topology.work_queue(ns, tenant, name)
    dead = topology.dead_letter_queue(ns, tenant, name)
    return [Queue(work, dead_letter_to=dead, delivery_limit=broker.delivery_limit),
            Queue(dead),
            *(Queue(topology.retry_queue(ns, tenant, name, delay), forward_to=work,
                    ttl_ms=delay * 1000) for delay in broker.retry_tiers_s)]


def _targets(items: Iterable[ShopConfig | topology.Target]) -> list[topology.Target]:
    return [t if isinstance(t, topology.Target) else topology.Target.for_shop(t) for t in items]


def _dumps(headers: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(headers), default=str).decode()


def _loads(text: str) -> dict[str, Any]:
    loaded = orjson.loads(text)
    return loaded if isinstance(loaded, dict) else {}


# -- the store ---------------------------------------------------------------------------------

class Conflict(BrokerUnavailable):
    """A deadlock or lock wait timeout in the store: tried again (``again``)."""


def again(fn: Callable[[], T]) -> T:
    """``fn()``, tried again after a lock conflict (each try is a transaction of its own)."""
    for attempt in range(1, CONFLICT_TRIES + 1):
        try:
            return fn()
        except Conflict as err:
            if attempt == CONFLICT_TRIES:
                raise
            log.debug("%s; trying again", err)
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


class Store:
    """The embedded broker of one ``BrokerConfig``: its engine, its tables, publishing.

    Every database error that means the store is away leaves as BrokerUnavailable naming the
    database by its masked URL, as the RabbitMQ edge does (``broker.translate``).
    """

    def __init__(self, broker: BrokerConfig) -> None:
        self.broker = broker
        self.engine: Engine = sa.create_engine(
            # READ COMMITTED: claims lock the rows they take, not the gaps between them.
            DatabaseConfig(broker.url).sqlalchemy_url(), pool_pre_ping=True, pool_recycle=3600,
            isolation_level="READ COMMITTED",
            connect_args={"charset": "utf8mb4", "connect_timeout": CONNECT_TIMEOUT_S,
                          "read_timeout": 60, "write_timeout": 60, "autocommit": False})
        self._routes: dict[str, list[tuple[str, str]]] | None = None
        self._ready = False

    @contextmanager
    def translated(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError, pymysql.err.OperationalError,
                pymysql.err.InterfaceError, ConnectionError, TimeoutError) as err:
            orig = getattr(err, "orig", None) or err
            text = " ".join(str(orig).split())
            code = orig.args[0] if getattr(orig, "args", None) else None
            if code in CONFLICTS:
                raise Conflict(f"embedded broker {self.broker.safe}: {text}") from err
            raise BrokerUnavailable(f"embedded broker {self.broker.safe}: "
                                    f"{type(orig).__name__}: {text}") from err
        except sa.exc.ProgrammingError as err:
            orig = getattr(err, "orig", None) or err
            raise ConfigError(f"embedded broker {self.broker.safe}: {orig}") from err

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.translated(), self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raises BrokerUnavailable when the store's database does not answer now."""
        with self.begin() as conn:
            conn.exec_driver_sql("SELECT 1")

    # -- topology ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the store's tables where they are missing (``owntables.ensure``: a user
        with DML grants only works once ``shopbridge setup`` made them). Idempotent."""
        if self._ready:
            return
        with self.begin() as conn:
            for table in TABLES:
                ensure(conn, table)
        self._ready = True

    def declare(self, targets: Iterable[ShopConfig | topology.Target]) -> None:
        """The store's tables, and the queues and bindings of ``targets``. Idempotent, and
        writes only what differs (consumers of one shop start at once). A changed
        configuration (tiers, delivery limit) simply takes effect; bindings are only ever
        added, as a RabbitMQ queue declare adds them."""
        self.setup()
        wanted = _targets(targets)
        again(lambda: self._declare(wanted))
        self._routes = None

    def _declare(self, targets: Sequence[topology.Target]) -> None:
        exchange = topology.exchange_name(self.broker.namespace)
        with self.begin() as conn:
            for target in targets:
                queues = target_queues(self.broker, target)
                have = self._queues(conn, [q.name for q in queues])
                for q in queues:
                    if have.get(q.name) == q:
                        continue
                    conn.exec_driver_sql(
                        f"INSERT INTO {QUEUES} (name, forward_to, ttl_ms, dead_letter_to, "
                        "delivery_limit) VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                        "forward_to = VALUES(forward_to), ttl_ms = VALUES(ttl_ms), "
                        "dead_letter_to = VALUES(dead_letter_to), "
                        "delivery_limit = VALUES(delivery_limit)",
                        (q.name, q.forward_to, q.ttl_ms, q.dead_letter_to, q.delivery_limit))
                work = topology.work_queue(self.broker.namespace, target.tenant, target.name)
                bound = {str(r[0]) for r in conn.exec_driver_sql(
                    f"SELECT pattern FROM {BINDINGS} WHERE exchange = %s AND queue = %s",
                    (exchange, work))}
                missing = [p for p in target.bindings if p not in bound]
                if missing:
                    conn.exec_driver_sql(
                        f"INSERT IGNORE INTO {BINDINGS} (exchange, pattern, queue) "
                        "VALUES (%s, %s, %s)", [(exchange, p, work) for p in missing])

    def delete(self, targets: Iterable[ShopConfig | topology.Target]) -> None:
        """Remove what ``declare`` made, with the messages (the demo's clean start)."""
        self.setup()
        wanted = _targets(targets)
        again(lambda: self._delete(wanted))
        self._routes = None

    def _delete(self, targets: Sequence[topology.Target]) -> None:
        with self.begin() as conn:
            for target in targets:
                for q in target_queues(self.broker, target):
                    conn.exec_driver_sql(f"DELETE FROM {MESSAGES} WHERE queue = %s", (q.name,))
                    conn.exec_driver_sql(f"DELETE FROM {BINDINGS} WHERE queue = %s", (q.name,))
                    conn.exec_driver_sql(f"DELETE FROM {QUEUES} WHERE name = %s", (q.name,))

    def depth(self, queue: str) -> int | None:
        """Messages in ``queue`` (waiting or held by a consumer); None: not declared."""
        self.setup()
        with self.begin() as conn:
            if conn.exec_driver_sql(f"SELECT COUNT(*) FROM {QUEUES} WHERE name = %s",
                                    (queue,)).scalar() == 0:
                return None
            return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {MESSAGES} WHERE queue = %s",
                                            (queue,)).scalar() or 0)

    def _queues(self, conn: Connection, names: Iterable[str]) -> dict[str, Queue]:
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = conn.exec_driver_sql(
            f"SELECT name, forward_to, ttl_ms, dead_letter_to, delivery_limit FROM {QUEUES} "
            f"WHERE name IN ({', '.join(['%s'] * len(wanted))})", tuple(wanted))
        return {r[0]: Queue(*r) for r in rows}

    def _bindings(self, conn: Connection) -> dict[str, list[tuple[str, str]]]:
        if self._routes is None:
            routes: dict[str, list[tuple[str, str]]] = {}
            for exchange, pattern, queue in conn.exec_driver_sql(
                    f"SELECT exchange, pattern, queue FROM {BINDINGS}"):
                routes.setdefault(exchange, []).append((pattern, queue))
            self._routes = routes
        return self._routes

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, messages: Iterable[Any]) -> int:
        """Store ``OutMessage``s in the queues their exchange and routing key reach, in one
        transaction; returns how many were published (unroutable ones count, with a warning,
        as RabbitMQ's returned messages do)."""
        pending = list(messages)
        if not pending:
            return 0
        self.setup()
        self._routes = None          # a consumer may have declared its queue meanwhile

        def once() -> None:
            with self.begin() as conn:
                rows = self._rows(conn, pending)
                for i in range(0, len(rows), 500):
                    conn.exec_driver_sql(
                        f"INSERT INTO {MESSAGES} (queue, available_at, headers, body) VALUES "
                        "(%s, UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND, %s, %s)",
                        rows[i:i + 500])
        again(once)
        return len(pending)

    def _rows(self, conn: Connection, messages: Sequence[Any]
              ) -> list[tuple[str, int, str, bytes]]:
        bindings = self._bindings(conn)
        named = {m.routing_key for m in messages if not m.exchange}
        queues = self._queues(conn, named)
        rows: list[tuple[str, int, str, bytes]] = []
        for message in messages:
            if message.exchange:
                found = sorted({queue for pattern, queue in bindings.get(message.exchange, ())
                                if topic_matches(pattern, message.routing_key)})
            else:
                found = [message.routing_key] if message.routing_key in queues else []
            if not found:
                log.warning("message to exchange %r routing key %r was unroutable: no queue "
                            "is bound", message.exchange, message.routing_key)
            for name in found:
                headers = dict(message.headers)
                queue = queues.get(name)
                delay_us = 0
                if queue is not None and queue.forward_to:
                    # A retry tier: straight to its work queue, visible after the delay.
                    ttl = queue.ttl_ms or 0
                    if message.expiration_ms is not None:
                        ttl = min(ttl, message.expiration_ms)
                    delay_us = ttl * 1000
                    deaths = [d for d in headers.get("x-death", ()) if isinstance(d, dict)]
                    count = next((int(d.get("count", 0)) for d in deaths
                                  if d.get("queue") == name), 0) + 1
                    others = [d for d in deaths if d.get("queue") != name]
                    headers["x-death"] = [{"queue": name, "reason": "expired", "count": count,
                                           "exchange": "", "routing-keys": [name]}, *others]
                    name = queue.forward_to
                rows.append((name, delay_us, _dumps(headers), bytes(message.body)))
        return rows

    # -- dead letters --------------------------------------------------------------------------

    def messages(self, queue: str) -> list[tuple[int, bytes, dict[str, Any]]]:
        """(id, body, headers) of every message in ``queue``, oldest first."""
        self.setup()
        with self.begin() as conn:
            return [(int(r[0]), bytes(r[1]), _loads(r[2])) for r in conn.exec_driver_sql(
                f"SELECT id, body, headers FROM {MESSAGES} WHERE queue = %s ORDER BY id",
                (queue,))]

    def move(self, message_id: int, queue: str, headers: Mapping[str, Any]) -> bool:
        """Put one message into ``queue`` (at its tail) with new headers, atomically; False
        when it is gone meanwhile."""
        return again(lambda: self._move(message_id, queue, headers))

    def _move(self, message_id: int, queue: str, headers: Mapping[str, Any]) -> bool:
        with self.begin() as conn:
            found = conn.exec_driver_sql(
                f"SELECT body FROM {MESSAGES} WHERE id = %s FOR UPDATE", (message_id,)).first()
            if found is None:
                return False
            conn.exec_driver_sql(f"DELETE FROM {MESSAGES} WHERE id = %s", (message_id,))
            conn.exec_driver_sql(
                f"INSERT INTO {MESSAGES} (queue, available_at, headers, body) "
                "VALUES (%s, UTC_TIMESTAMP(6), %s, %s)", (queue, _dumps(headers), found[0]))
        return True

    def remove(self, message_ids: Sequence[int]) -> int:
        if not message_ids:
            return 0
        with self.begin() as conn:
            result = conn.exec_driver_sql(
                f"DELETE FROM {MESSAGES} WHERE id IN ({', '.join(['%s'] * len(message_ids))})",
                tuple(message_ids))
            return int(result.rowcount)

    def used(self) -> bool:
        """Whether any queue of this namespace was declared (tests)."""
        self.setup()
        like = self.broker.namespace.replace("_", r"\_") + ".%"
        with self.begin() as conn:
            return bool(conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {QUEUES} WHERE name LIKE %s", (like,)).scalar())

    def purge_namespace(self) -> None:
        """Everything of this namespace (tests)."""
        self.setup()
        ns = self.broker.namespace
        like = ns.replace("_", r"\_") + ".%"
        with self.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM {MESSAGES} WHERE queue LIKE %s", (like,))
            conn.exec_driver_sql(f"DELETE FROM {BINDINGS} WHERE exchange = %s", (ns,))
            conn.exec_driver_sql(f"DELETE FROM {QUEUES} WHERE name LIKE %s", (like,))


# -- consuming ---------------------------------------------------------------------------------

@dataclass
class Delivery:
    """A claimed message, shaped as the consume loop uses kombu's: body, headers, ack."""

    id: int
    body: bytes
    headers: dict[str, Any]
    receiver: Receiver

    def ack(self, multiple: bool = False) -> None:
        self.receiver.ack(self.id, multiple=multiple)


class Receiver:
    """One consumer's hold on one queue: its own connection, holding its owner lock.

    Args:
        store: the embedded broker.
        queue: the work queue to consume.
    """

    def __init__(self, store: Store, queue: str) -> None:
        self.store = store
        self.queue = queue
        self.owner = uuid.uuid4().hex
        self._held: list[int] = []
        self._last_recover = 0.0
        self._conn: Connection | None = None
        with store.translated():
            conn = store.engine.connect()
            try:
                got = conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)",
                                           (LOCK_PREFIX + self.owner,)).scalar()
                conn.commit()
            except BaseException:
                conn.close()
                raise
        if got != 1:     # pragma: no cover - the token is new
            conn.close()
            raise BrokerUnavailable(f"embedded broker {store.broker.safe}: owner lock refused")
        self._conn = conn

    def _connection(self) -> Connection:
        if self._conn is None:
            raise BrokerUnavailable(f"embedded broker {self.store.broker.safe}: closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the lock's connection: when that connection is lost, the lock
        is too, and this raises BrokerUnavailable (the consumer reconnects as a new owner)."""
        conn = self._connection()
        with self.store.translated():
            try:
                yield conn
                conn.commit()
            except BaseException:
                try:
                    conn.rollback()
                except Exception:
                    log.debug("rollback on the embedded broker failed", exc_info=True)
                raise

    def claim(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` available messages of the queue, oldest first, now this owner's."""
        if time.monotonic() - self._last_recover >= RECOVER_EVERY_S:
            self._last_recover = time.monotonic()
            self.recover()
        return again(lambda: self._claim(limit))

    def _claim(self, limit: int) -> list[Delivery]:
        with self._transaction() as conn:
            ids = [int(r[0]) for r in conn.exec_driver_sql(
                f"SELECT id FROM {MESSAGES} WHERE queue = %s AND owner IS NULL "
                "AND available_at <= UTC_TIMESTAMP(6) ORDER BY available_at, id LIMIT %s "
                "FOR UPDATE SKIP LOCKED", (self.queue, limit))]
            if not ids:
                return []
            marks = ", ".join(["%s"] * len(ids))
            conn.exec_driver_sql(f"UPDATE {MESSAGES} SET owner = %s, deliveries = deliveries + 1 "
                                 f"WHERE id IN ({marks})", (self.owner, *ids))
            rows = list(conn.exec_driver_sql(
                f"SELECT id, body, headers FROM {MESSAGES} WHERE id IN ({marks})", tuple(ids)))
        # In the order claimed (available_at, id): ``ack(multiple=True)`` counts in it.
        place = {message_id: n for n, message_id in enumerate(ids)}
        rows.sort(key=lambda r: place[int(r[0])])
        self._held += ids
        return [Delivery(int(r[0]), bytes(r[1]), _loads(r[2]), self) for r in rows]

    def ack(self, message_id: int, *, multiple: bool = False) -> None:
        """Remove the message (and with ``multiple`` every one this receiver claimed before
        it) from the queue. "Before" is the order of claiming, as AMQP's delivery tags: a
        message given back by a dead consumer may come after one with a higher id."""
        if message_id not in self._held:
            return
        done = self._held[:self._held.index(message_id) + 1] if multiple else [message_id]

        def once() -> None:
            with self._transaction() as conn:
                conn.exec_driver_sql(
                    f"DELETE FROM {MESSAGES} WHERE owner = %s AND id IN "
                    f"({', '.join(['%s'] * len(done))})", (self.owner, *done))
        again(once)
        gone = set(done)
        self._held = [i for i in self._held if i not in gone]

    def recover(self) -> None:
        """Give back the messages of owners whose lock is free (their process or connection
        died); those delivered more than ``delivery_limit`` times go to dead letters."""
        with self._transaction() as conn:
            owners = [r[0] for r in conn.exec_driver_sql(
                f"SELECT DISTINCT owner FROM {MESSAGES} WHERE queue = %s AND owner IS NOT NULL",
                (self.queue,)) if r[0] != self.owner]
            dead = [o for o in owners if conn.exec_driver_sql(
                "SELECT IS_USED_LOCK(%s)", (LOCK_PREFIX + o,)).scalar() is None]
        for owner in dead:
            again(lambda: self._give_back(owner))  # noqa: B023 - called at once

    def _give_back(self, owner: str) -> None:
        with self._transaction() as conn:
            queue = self.store._queues(conn, [self.queue]).get(self.queue)
            limit = queue.delivery_limit if queue else None
            rows = list(conn.exec_driver_sql(
                f"SELECT id, deliveries, headers FROM {MESSAGES} WHERE queue = %s AND owner = %s "
                "FOR UPDATE SKIP LOCKED", (self.queue, owner)))
            over = [r for r in rows if limit is not None and int(r[1]) > limit]
            back = [int(r[0]) for r in rows if r not in over]
            if back:
                conn.exec_driver_sql(
                    f"UPDATE {MESSAGES} SET owner = NULL WHERE id IN "
                    f"({', '.join(['%s'] * len(back))})", tuple(back))
            for message_id, deliveries, text in over:
                headers = _loads(text)
                headers.setdefault("x-first-death-reason", "delivery_limit")
                headers.setdefault("x-first-death-queue", self.queue)
                headers.setdefault("x-first-death-exchange", "")
                assert queue is not None and queue.dead_letter_to
                conn.exec_driver_sql(
                    f"UPDATE {MESSAGES} SET queue = %s, owner = NULL, deliveries = 0, "
                    "headers = %s, available_at = UTC_TIMESTAMP(6) WHERE id = %s",
                    (queue.dead_letter_to, _dumps(headers), message_id))
                log.warning("message %s of %s delivered %s times (limit %s): dead-lettered",
                            message_id, self.queue, deliveries, limit)
        if back:
            log.info("%d message(s) of a consumer that went away are back in %s",
                     len(back), self.queue)

    def depths(self) -> dict[str, int]:
        """Messages in the work queue and its dead-letter queue."""
        dead = self.queue + ".dead"
        with self._transaction() as conn:
            counts: dict[str, int] = dict(conn.exec_driver_sql(
                f"SELECT queue, COUNT(*) FROM {MESSAGES} WHERE queue IN (%s, %s) GROUP BY queue",
                (self.queue, dead)).all())
        return {"work": int(counts.get(self.queue, 0)), "dead": int(counts.get(dead, 0))}

    def close(self) -> None:
        """Give back what this receiver holds unacknowledged (not counted as a delivery),
        then free the lock; a dead connection frees it anyway."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._held:
                conn.exec_driver_sql(
                    f"UPDATE {MESSAGES} SET owner = NULL, deliveries = GREATEST(deliveries, 1) "
                    f"- 1 WHERE owner = %s", (self.owner,))
            conn.exec_driver_sql("DO RELEASE_LOCK(%s)", (LOCK_PREFIX + self.owner,))
            conn.commit()
        except Exception:
            log.debug("closing an embedded broker receiver failed", exc_info=True)
        finally:
            try:
                conn.close()
            except Exception:
                log.debug("closing an embedded broker connection failed", exc_info=True)
