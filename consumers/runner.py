"""The consume loop of one target (a shop, or a tenant's ERP): collect a batch, validate,
coalesce, apply, settle, ack.

- A batch is up to ``batch_size`` events from as many messages as arrive within
  ``batch_wait_ms`` (a message may pack many events).
- The whole batch is applied in one transaction. If that fails, each half is applied on its
  own, and so on down to the events that fail alone (``apply_in_halves``), so one poison
  event cannot block the rest; a failing event is settled alone.
- When the target database is unreachable (TargetUnavailable) every event would fail, so
  nothing is settled: the consumer keeps the batch unacknowledged and retries it with backoff
  until the database is back (a down shop is not the events' fault). When the broker goes
  away, the consumer reconnects with backoff; RabbitMQ redelivers what was not acknowledged.
  Each outage is logged once when it starts and once when it ends (``shopbridge.outage``).
- After each batch, every event's outcome (applied, skipped and why, coalesced, retried,
  dead-lettered and the error) goes to the applier's history (``Applier.record_history``,
  B4); a history that cannot be written is a warning, never a failed batch.
- A consumer without ``idle_exit_s`` is a service: it also waits for a database or broker
  that is away when it starts. With ``idle_exit_s`` (one shot) that raises at once.
- Messages are acknowledged only after every event in them is applied or settled.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Consumer, Queue
from kombu.message import Message
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from shopbridge import broker as broker_edge
from shopbridge import embedded, logs, topology
from shopbridge import events as ev
from shopbridge.config import BrokerConfig, ShopConfig
from shopbridge.db import utc_now
from shopbridge.errors import (
    BrokerUnavailable,
    PermanentError,
    ShopbridgeError,
    TargetUnavailable,
    TransientDatabaseError,
)
from shopbridge.history import APPLIED, COALESCED, DEAD, RETRIED, SKIPPED, HistoryEntry
from shopbridge.metrics import TargetMetrics
from shopbridge.outage import BROKER, DATABASE, Outages, ride_out
from shopbridge.publisher import Publisher
from shopbridge.settle import H_RESYNC, REPAIR, Settler

from .applying import Applier, apply_in_halves

log = logging.getLogger(__name__)

IN_PROCESS_ATTEMPTS = 3          # deadlocks and lock timeouts, before the retry tiers
QUIET_GAP_S = 0.02               # no new message for this long: the batch is complete
IDLE_HOOK_S = 10.0               # how often the applier's time-driven work runs
DEPTH_EVERY_S = 2.0              # how often the queue depths are read for the metrics
# A message as the loop uses it (body, headers, ack), from either broker kind.
Incoming = Message | embedded.Delivery
EMBEDDED_POLL_S = 0.05           # the embedded broker has no push: how often an idle one looks
# A batch of 500 events (then the default) allocates 10,000-50,000 dicts, lists and objects
# (decoded bodies, rows, links) that all live until the batch ends: at the default gen0 (700)
# the collector ran 23 times per batch, walking the live batch again each time (1.5 s of CPU
# per 100,000 events, 12 % of the consumer), and found nothing the batch's end did not free.
# So it does not run while a batch is processed (``_batch_without_gc``); between batches it
# runs when this many more objects survive than were freed (garbage cycles, caches).
GC_GEN0_THRESHOLD = 25_000


@dataclass
class ConsumerStats:
    messages: int = 0
    events: int = 0
    applied: int = 0
    skipped: int = 0
    retried: int = 0
    dead: int = 0
    batches: int = 0
    fallbacks: int = 0
    outage_pauses: int = 0
    notes: list[str] = field(default_factory=list)
    unsupported: Counter[str] = field(default_factory=Counter)


def _tune_gc() -> None:
    """Collect garbage when cycles accumulate, not within every batch (``GC_GEN0_THRESHOLD``).

    What the process holds once the applier is prepared (modules, engines, the broker
    connection's state) lives as long as the process: frozen, later full collections skip it.
    Garbage first, so that no cycle is frozen with it (``run`` may come more than once).
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GC_GEN0_THRESHOLD, gen0), gen1, gen2)


@contextmanager
def _batch_without_gc() -> Iterator[None]:
    """No automatic collection while a batch is processed (``GC_GEN0_THRESHOLD``): its
    objects are freed by reference counting when it ends, and the collector's count drops
    with them. Cycles it makes wait for the next collection between batches."""
    if not gc.isenabled():
        yield
        return
    try:
        gc.disable()
        yield
    finally:
        gc.enable()


def _fields(event: ev.Event) -> dict[str, Any]:
    """An event's log fields, bound while it is applied or settled alone."""
    return {"event_type": event.type, "event_id": event.event_id,
            "entity_key": event.entity_key}


def _transient_but_reachable(exc: BaseException) -> bool:
    return isinstance(exc, TransientDatabaseError) and not isinstance(exc, TargetUnavailable)


class ShopConsumer:
    """Consumes one target's work queue.

    Args:
        broker: broker settings (URL, namespace, tiers, batch size).
        shop: the shop, or
        target: any target (the ERP side: ``Target.for_erp(tenant)``).
        applier: applies events to the target's database (consumers/applying.py); its
            ``what`` names that database in log lines.
    """

    def __init__(self, *, broker: BrokerConfig, applier: Applier,
                 shop: ShopConfig | None = None, target: topology.Target | None = None) -> None:
        if target is None:
            assert shop is not None, "a shop or a target is required"
            target = topology.Target.for_shop(shop)
        self.broker = broker
        self.target = target
        self.applier = applier
        self.stats = ConsumerStats()
        self.metrics = TargetMetrics(target.tenant, target.name)
        self.connected = False          # to the broker, now (``/healthz``)
        self.stop_event = threading.Event()
        self.outages = Outages(broker=broker.safe, database=applier.what, logger=log)
        self._buffer: list[Incoming] = []
        self._buffered_events = 0
        self._connected_once = False
        # The batch in hand's outcomes, for the history, and when it arrived.
        self._trail: list[HistoryEntry] = []
        self._arrived = utc_now()
        self._retrying = Retrying(
            retry=retry_if_exception(_transient_but_reachable),
            stop=stop_after_attempt(IN_PROCESS_ATTEMPTS),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )

    # -- loop ------------------------------------------------------------------------------

    def run(self, *, idle_exit_s: float | None = None) -> ConsumerStats:
        """Consume until stopped, or until the queue has been idle for ``idle_exit_s``.

        Stopped (``stop_event``) while waiting for the database or the broker, it returns:
        the batch in hand stays unacknowledged, and RabbitMQ delivers it again.

        Raises:
            TargetUnavailable, BrokerUnavailable: with ``idle_exit_s`` (one shot), when the
                database or the broker is away at the start.
        """
        with logs.bound(tenant=self.target.tenant, shop=self.target.name):
            try:
                self._run(service=idle_exit_s is None, idle_exit_s=idle_exit_s)
            except (TargetUnavailable, BrokerUnavailable) as err:
                if not self.stop_event.is_set():
                    raise
                log.info("stopped while waiting (%s)", err)
        return self.stats

    def _run(self, *, service: bool, idle_exit_s: float | None) -> None:
        self._connected_once = False
        if service:
            self._ride_out(self.applier.prepare, TargetUnavailable)
        else:
            self.applier.prepare()
        _tune_gc()
        while not self.stop_event.is_set():
            try:
                with broker_edge.translated(self.broker):
                    if self._run_connected(idle_exit_s):
                        return
            except BrokerUnavailable as err:
                if not self._connected_once:
                    raise                   # one shot, and the broker is away at the start
                self.outages.begin(err)     # the next connect waits for it

    def _ride_out(self, fn: Callable[[], Any], away: type[ShopbridgeError]) -> Any:
        def count(err: BaseException) -> None:
            self.stats.outage_pauses += 1
            # A batch that waits out an outage keeps the collector paused
            # (``_batch_without_gc``), and each attempt leaves a cycle (its traceback).
            if not gc.isenabled():
                gc.collect()

        return ride_out(fn, outages=self.outages, stop_event=self.stop_event, away=(away,),
                        on_retry=count)

    @contextmanager
    def _connection(self, *, wait: bool) -> Iterator[Connection]:
        """A broker connection with the target's topology; ``wait``: ride out an outage."""
        if wait:
            conn = self._ride_out(lambda: broker_edge.connect(
                self.broker, retries=0, targets=[self.target]), BrokerUnavailable)
        else:
            conn = broker_edge.connect(self.broker, targets=[self.target])
        self._connected_once = True
        try:
            yield conn
        finally:
            broker_edge.release(conn)

    def _run_connected(self, idle_exit_s: float | None) -> bool:
        """Returns True when it stopped because the queue was idle."""
        if self.broker.embedded:
            return self._run_embedded(idle_exit_s)
        queue_name = topology.work_queue(self.broker.namespace, self.target.tenant,
                                         self.target.name)
        # Messages of a lost connection cannot be acknowledged: RabbitMQ redelivers them.
        self._buffer, self._buffered_events = [], 0
        with self._connection(wait=idle_exit_s is None or self._connected_once) as conn, \
                self._connected_flag():
            publisher = Publisher(conn)
            settler = Settler(broker=self.broker, target=self.target, publisher=publisher)
            channel = conn.channel()
            consumer = Consumer(channel, queues=[Queue(queue_name, no_declare=True)],
                                on_message=self._on_message, auto_declare=False)
            consumer.qos(prefetch_count=self._prefetch())
            consumer.consume()
            log.info("consuming %s", queue_name)
            return self._loop(fill=lambda: self._fill_batch(conn),
                              depths=lambda: self._read_depths(channel, queue_name),
                              settler=settler, idle_exit_s=idle_exit_s)

    def _prefetch(self) -> int:
        return max(self.broker.batch_size // 10, 20)

    def _run_embedded(self, idle_exit_s: float | None) -> bool:
        """The same loop on the embedded broker (B5): the messages this receiver claimed and
        did not acknowledge go back to the queue when it closes or its process dies."""
        queue_name = topology.work_queue(self.broker.namespace, self.target.tenant,
                                         self.target.name)
        self._buffer, self._buffered_events = [], 0
        wait = idle_exit_s is None or self._connected_once

        def open_receiver() -> tuple[embedded.Store, embedded.Receiver]:
            store = embedded.Store(self.broker)
            try:
                store.declare([self.target])
                return store, embedded.Receiver(store, queue_name)
            except BaseException:
                store.close()
                raise

        store, receiver = (self._ride_out(open_receiver, BrokerUnavailable) if wait
                           else open_receiver())
        self._connected_once = True
        try:
            with self._connected_flag():
                settler = Settler(broker=self.broker, target=self.target, publisher=store)
                log.info("consuming %s (embedded broker)", queue_name)
                return self._loop(fill=lambda: self._fill_embedded(receiver),
                                  depths=lambda: self._embedded_depths(receiver),
                                  settler=settler, idle_exit_s=idle_exit_s)
        finally:
            receiver.close()
            store.close()

    def _loop(self, *, fill: Callable[[], None], depths: Callable[[], None], settler: Settler,
              idle_exit_s: float | None) -> bool:
        idle_since = last_idle_hook = time.monotonic()
        last_depth = 0.0
        while not self.stop_event.is_set():
            if time.monotonic() - last_depth >= DEPTH_EVERY_S:
                last_depth = time.monotonic()
                depths()
            fill()
            if self._buffer:
                # Swap the buffer out first: settling publishes on this connection and
                # waits for confirms, and messages delivered meanwhile must land in the
                # next batch, not be dropped (a later multiple-ack would lose them).
                batch, self._buffer, self._buffered_events = self._buffer, [], 0
                with _batch_without_gc():
                    self._process(batch, settler)
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                return True
            # Time-driven work (specials switching on and off, unsent e-mails) runs on
            # time, also while the queue is busy.
            if time.monotonic() - last_idle_hook >= IDLE_HOOK_S:
                last_idle_hook = time.monotonic()
                self._idle_hook()
        return False

    @contextmanager
    def _connected_flag(self) -> Iterator[None]:
        self.connected = True
        try:
            yield
        finally:
            self.connected = False

    def _read_depths(self, channel: Any, queue_name: str) -> None:
        for label, name in (("work", queue_name), ("dead", f"{queue_name}.dead")):
            self.metrics.depth(label, channel.queue_declare(queue=name, passive=True)
                               .message_count)

    def health_checks(self) -> dict[str, Callable[[], str | None]]:
        """For ``/healthz``: the broker connection this consumer holds, and its database
        reached now (``Applier.ping``)."""
        def broker() -> str | None:
            if self.connected and BROKER not in self.outages.away:
                return None
            return f"not connected to the broker {self.broker.safe}"

        def database() -> str | None:
            try:
                self.applier.ping()
            except ShopbridgeError as err:
                return str(err)
            return None

        return {"broker": broker, "database": database}

    def ready_check(self, max_lag_s: float) -> Callable[[], str | None]:
        """For ``/readyz``: keeping up, i.e. the queue is empty, or messages wait and the
        consumer applied one within ``max_lag_s`` (a stuck consumer is not ready; a lag
        measured once long ago says nothing)."""
        started = time.monotonic()

        def ready() -> str | None:
            depth = self.metrics.queue_depth()
            if not depth:
                return None
            idle = self.metrics.since_applied()
            idle = time.monotonic() - started if idle is None else idle
            if idle <= max_lag_s:
                return None
            return (f"{depth:.0f} message(s) waiting and nothing applied for {idle:.0f} s "
                    f"(over {max_lag_s:g} s)")
        return ready

    def _idle_hook(self) -> None:
        try:
            self.applier.idle()
        except TargetUnavailable as err:
            self.outages.begin(err)         # said once; the next batch waits for it
        except ShopbridgeError as err:
            log.warning("idle work failed: %s", err)
        else:
            self.outages.end(DATABASE)

    def _embedded_depths(self, receiver: embedded.Receiver) -> None:
        for label, count in receiver.depths().items():
            self.metrics.depth(label, count)

    def _fill_embedded(self, receiver: embedded.Receiver) -> None:
        """Claim messages until the batch is full, the wait is over, or the queue is quiet;
        with nothing in hand, poll for up to half a second (as the AMQP loop waits)."""
        deadline = None
        idle_until = time.monotonic() + 0.5
        while self._buffered_events < self.broker.batch_size:
            got = receiver.claim(self._prefetch())
            for delivery in got:
                self._on_message(delivery)
            now = time.monotonic()
            if got:
                if deadline is None:
                    deadline = now + self.broker.batch_wait_ms / 1000
                if now >= deadline:
                    return
                continue
            if self._buffer or now >= idle_until or self.stop_event.is_set():
                return
            time.sleep(EMBEDDED_POLL_S)

    def _on_message(self, message: Incoming) -> None:
        self._buffer.append(message)
        self._buffered_events += max(message.body.count(b'"event_id"'), 1)

    def _fill_batch(self, conn: Connection) -> None:
        """Drain messages until the batch is full, the wait is over, or the queue is quiet."""
        deadline = None
        while self._buffered_events < self.broker.batch_size:
            now = time.monotonic()
            if deadline is None and self._buffer:
                deadline = now + self.broker.batch_wait_ms / 1000
            if deadline is not None and now >= deadline:
                return
            timeout = 0.5 if deadline is None else min(QUIET_GAP_S, deadline - now)
            try:
                conn.drain_events(timeout=timeout)
            except TimeoutError:
                if self._buffer or deadline is None:
                    return

    # -- one batch -------------------------------------------------------------------------

    def _process(self, messages: list[Incoming], settler: Settler) -> None:
        self.stats.batches += 1
        self.stats.messages += len(messages)
        self._trail, self._arrived = [], utc_now()
        units: list[tuple[ev.Event, dict[str, Any]]] = []
        received: Counter[str] = Counter()      # counted once per type and batch
        try:
            self._decode(messages, settler, units, received)
        finally:        # also where settling an invalid event failed: they were received
            for event_type, n in received.items():
                self.metrics.count(event_type, "received", n)
        newest = ev.coalesce(e for e, _ in units)
        headers_of = {id(e): h for e, h in units}
        self.stats.skipped += len(units) - len(newest)
        if len(units) > len(newest):        # older versions of an entity in the same batch
            left = Counter(e.type for e in newest)
            for event_type, n in Counter(e.type for e, _ in units).items():
                self.metrics.count(event_type, "skipped", n - left[event_type])
        self._trace_coalesced([e for e, _ in units], newest)
        if newest:
            self._apply_batch(newest, headers_of, settler)
        self._record_history()
        messages[-1].ack(multiple=True)

    def _decode(self, messages: list[Incoming], settler: Settler,
                units: list[tuple[ev.Event, dict[str, Any]]], received: Counter[str]) -> None:
        """The messages' valid events into ``units`` (with their message's headers), their
        types into ``received``; an invalid body or event is settled at once."""
        for message in messages:
            headers = dict(message.headers or {})
            resync = bool(headers.get(H_RESYNC))
            repair = resync and headers[H_RESYNC] == REPAIR
            try:
                raws = ev.decode(message.body)
            except PermanentError as err:
                self._settle(settler, err, headers, body=message.body)
                continue
            for raw in raws:
                self.stats.events += 1
                received[str(raw.get("type", "?")) if isinstance(raw, dict) else "?"] += 1
                try:
                    event = ev.parse(raw, resync=resync, repair=repair)
                    if event.tenant != self.target.tenant:
                        raise PermanentError(f"{event}: tenant {event.tenant!r} is not the "
                                             f"tenant {self.target.tenant!r} of this queue")
                except PermanentError as err:
                    self._settle(settler, err, headers, event=raw)
                    continue
                units.append((event, headers))

    def _trace_coalesced(self, events: list[ev.Event], newest: list[ev.Event]) -> None:
        """History: the events a newer version of their entity replaced in this batch."""
        if len(events) == len(newest):
            return
        kept = {id(e) for e in newest}
        latest: dict[tuple[str, str], int] = {}
        for event in newest:
            entity = (event.entity, event.entity_key)
            latest[entity] = max(latest.get(entity, 0), event.version)
        self._trail += [HistoryEntry.of_event(
            e, arrived_at=self._arrived, outcome=COALESCED,
            detail=f"replaced by v{latest.get((e.entity, e.entity_key), e.version)} "
                   f"in the same batch") for e in events if id(e) not in kept]

    def _trace_applied(self, events: Sequence[ev.Event], notes: Sequence[str]) -> None:
        """History: applied, or skipped with the reason. Each note begins with its event
        (``ApplyResult``: "<event>: reason")."""
        # Naming every event costs a schema lookup each: only for a batch with notes.
        named = {f"{event}: ": event for event in events} if notes else {}
        why: dict[int, str] = {}
        for note in notes:
            head = note.split(": ", 1)[0] + ": "
            event = named.get(head) or next(
                (e for prefix, e in named.items() if note.startswith(prefix)), None)
            if event is not None:
                why[id(event)] = note[len(f"{event}: "):]
        self._trail += [HistoryEntry.of_event(
            e, arrived_at=self._arrived, outcome=SKIPPED if id(e) in why else APPLIED,
            detail=why.get(id(e), "")) for e in events]

    def _record_history(self) -> None:
        trail, self._trail = self._trail, []
        if not trail:
            return
        try:
            self.applier.record_history(trail)
        except Exception as err:        # the batch is applied: its history must not undo it
            log.warning("history of %d event(s) not recorded: %s", len(trail), err)

    def _apply_batch(self, events: list[ev.Event], headers_of: dict[int, dict[str, Any]],
                     settler: Settler) -> None:
        """Apply; where the batch fails, in halves (or one by one) down to the events that
        fail alone, which are settled (``apply_in_halves``)."""
        split = False

        def apply(part: Sequence[ev.Event]) -> None:
            with logs.bound(**(_fields(part[0]) if len(part) == 1 else {})):
                self._apply_until_reachable(part)

        def halved(part: Sequence[ev.Event], err: Exception) -> None:
            nonlocal split
            split = True
            if len(part) < len(events):     # the parts' own failures only for debugging:
                log.debug("part of %d failed (%s); dividing it", len(part), err)
            elif isinstance(err, ShopbridgeError):     # each event's failure is settled
                log.info("batch of %d failed (%s); applying it in parts", len(part), err)
            else:
                log.error("batch of %d failed; applying it in parts", len(part), exc_info=err)

        def failed(event: ev.Event, err: Exception) -> None:
            with logs.bound(**_fields(event)):
                if not isinstance(err, ShopbridgeError):
                    log.error("applying %s failed", event, exc_info=err)
                self._settle(settler, err, headers_of[id(event)], event=event.raw)

        apply_in_halves(events, apply, failed, split=halved)
        if split:
            self.stats.fallbacks += 1

    def _apply_until_reachable(self, events: Sequence[ev.Event]) -> None:
        """Apply; while the database is away, wait for it (the events are not at fault).

        Raises:
            TargetUnavailable: only when the consumer was stopped during the wait.
        """
        started = time.monotonic()
        result = self._ride_out(lambda: self._retrying(self.applier.apply, events),
                                TargetUnavailable)
        self.metrics.batch(len(events), time.monotonic() - started)
        for (event_type, outcome), n in result.by_type.items():
            self.metrics.count(event_type, outcome, n)
        self.metrics.applied([(e.entity, str(e.raw.get("occurred_at", ""))) for e in events])
        self.stats.applied += result.applied
        self.stats.skipped += result.skipped
        self.stats.unsupported.update(result.unsupported)
        for note in result.notes[:20]:
            log.debug("%s", note)
        self._trace_applied(events, result.notes)

    def _settle(self, settler: Settler, err: BaseException, headers: dict[str, Any], *,
                body: bytes | None = None, event: Any = None) -> None:
        event_dict = event if isinstance(event, dict) else None
        if event is not None and event_dict is None:
            body = ev.encode([event])[1:-1] if event is not None else body
        decision = settler.fail(body=body, event=event_dict, headers=headers, exc=err)
        event_type = str((event_dict or {}).get("type", "?"))
        self.metrics.count(event_type, "dead_lettered" if decision.action == "dead"
                           else "retried")
        known = {k: v for k, v in (event_dict or {}).items() if k in ("entity_key", "event_id")}
        dead = decision.action == "dead"
        when = "" if dead else f", again in {decision.delay_s or 0:.0f} s"
        entry = HistoryEntry.of_raw(
            event_dict, arrived_at=self._arrived, outcome=DEAD if dead else RETRIED,
            detail=f"{type(err).__name__}: {err} (attempt {decision.attempts}{when})")
        if entry is not None:
            self._trail.append(entry)
        with logs.bound(event_type=event_type, **known, attempt=decision.attempts):
            if decision.action == "dead":
                self.stats.dead += 1
                log.warning("dead-lettered after %d attempt(s): %s", decision.attempts, err)
            else:
                self.stats.retried += 1
                log.info("retrying in %d s (attempt %d): %s", decision.delay_s,
                         decision.attempts, err)
