"""The broker alone, both kinds in the same run (B5): publish N messages of 1 KiB to a shop's
work queue (RabbitMQ: windowed confirms; embedded: one transaction per 500), then take them
all with one consumer that acknowledges every 50 (RabbitMQ: kombu, prefetch 50; embedded: a
Receiver claiming 50 at a time). The kinds alternate, ROUNDS times, so that load from other
work on the machine hits both alike.

    .venv/bin/python bench/broker_kinds_bench.py [--messages 5000] [--rounds 2] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from _common import RESULTS, loadavg
from kombu import Connection, Consumer, Queue

from shopbridge import brokers, embedded, sample, topology
from shopbridge.config import BrokerConfig
from shopbridge.publisher import OutMessage

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/"
AMQP = "amqp://guest@127.0.0.1:5672//"
TARGET = topology.Target("acme", "web", bindings=("acme.product.*",))
BODY = b"x" * 1024


def _publish(broker: BrokerConfig, n: int) -> float:
    started = time.monotonic()
    with brokers.publishing(broker, [TARGET]) as publisher:
        for i in range(0, n, 500):
            publisher.publish(OutMessage(exchange=broker.namespace,
                                         routing_key="acme.product.upserted", body=BODY)
                              for _ in range(min(500, n - i)))
    return time.monotonic() - started


def _consume_rabbitmq(broker: BrokerConfig, n: int) -> float:
    queue = topology.work_queue(broker.namespace, "acme", "web")
    seen: list[object] = []
    started = time.monotonic()
    with Connection(broker.url) as conn:
        channel = conn.channel()
        consumer = Consumer(channel, queues=[Queue(queue, no_declare=True)],
                            on_message=seen.append, auto_declare=False)
        consumer.qos(prefetch_count=50)
        consumer.consume()
        done = 0
        while done < n:
            conn.drain_events(timeout=5)
            if len(seen) >= 50 or done + len(seen) >= n:
                seen[-1].ack(multiple=True)  # type: ignore[attr-defined]
                done += len(seen)
                seen.clear()
    return time.monotonic() - started


def _consume_embedded(broker: BrokerConfig, n: int) -> float:
    store = embedded.Store(broker)
    receiver = embedded.Receiver(store, topology.work_queue(broker.namespace, "acme", "web"))
    started = time.monotonic()
    try:
        done = 0
        while done < n:
            got = receiver.claim(50)
            if got:
                got[-1].ack(multiple=True)
                done += len(got)
    finally:
        receiver.close()
        store.close()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="append a section to RESULTS.md")
    args = parser.parse_args()
    db = f"sbbench_broker_{uuid.uuid4().hex[:8]}"
    url = sample.create_database(MARIADB, db).render_as_string(hide_password=False)
    rows: dict[str, list[tuple[float, float]]] = {"rabbitmq": [], "embedded": []}
    loads = [loadavg()]
    try:
        for _ in range(args.rounds):
            for kind in ("rabbitmq", "embedded"):
                ns = f"sbbench-{uuid.uuid4().hex[:8]}"
                broker = BrokerConfig(url=AMQP if kind == "rabbitmq" else url, namespace=ns,
                                      kind=kind)
                try:
                    pub = _publish(broker, args.messages)
                    con = (_consume_rabbitmq if kind == "rabbitmq" else _consume_embedded)(
                        broker, args.messages)
                    rows[kind].append((args.messages / pub, args.messages / con))
                finally:
                    brokers.delete(broker, [TARGET])
                loads.append(loadavg())
    finally:
        sample.drop_database(MARIADB, db)
    lines = [f"## The broker alone, RabbitMQ and embedded (B5) - "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
             f"`{' '.join(['.venv/bin/python', *sys.argv])}`: {args.messages} messages of "
             f"1 KiB per kind and round, {args.rounds} rounds alternating; load average "
             f"(1/5/15 min) before and after each run: {'; '.join(loads)}.", "",
             "| kind | publish msg/s (each round) | consume msg/s, one consumer (each round) |",
             "|---|---|---|"]
    for kind, found in rows.items():
        pubs = ", ".join(f"{p:,.0f}" for p, _ in found)
        cons = ", ".join(f"{c:,.0f}" for _, c in found)
        lines.append(f"| {kind} | {pubs} (median {statistics.median(p for p, _ in found):,.0f}) "
                     f"| {cons} (median {statistics.median(c for _, c in found):,.0f}) |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
