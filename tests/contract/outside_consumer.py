"""A merchant's own subscriber to shopbridge's events, written with pika alone.

It imports nothing from shopbridge: what it knows comes from the JSON Schema files in
``schemas/`` and from "Subscribing from another program" in docs/architecture.md. It is run
as a separate process by tests/contract/test_outside_consumer.py, and is meant to be read as
an example.

    AMQP_URL=amqp://user:password@host:5672/%2F
    python outside_consumer.py bind    --namespace NS --tenant T --shop S --queue Q
    python outside_consumer.py consume --queue Q --schemas DIR [--idle-s 1]

The broker's URL comes from the environment (``AMQP_URL``), never the command line, where
other users of the machine could read the password.

``bind`` declares the program's own durable queue and binds it to the namespace's topic
exchange with the routing keys a shop receives; run it once, before the events are published
(RabbitMQ keeps messages only for queues that exist). ``consume`` reads that queue until it
has been idle for ``--idle-s``, validates every event against its schema, acknowledges each
message after all its events were handled (or rejects it when one is invalid), and prints one
JSON line: ``{"messages": n, "lists": n, "events": {type: n}, "invalid": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pika
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

# What a shop receives (docs/architecture.md): catalogue events for every shop of the tenant,
# or for this shop only (a fourth part naming it); order status changes of this shop's orders;
# customers the ERP changed.
CATALOGUE = ("product", "stock", "manufacturer", "category")


def shop_bindings(tenant: str, shop: str) -> list[str]:
    keys = [f"{tenant}.{entity}.*" for entity in CATALOGUE]
    keys += [f"{tenant}.{entity}.*.{shop}" for entity in CATALOGUE]
    keys += [f"{tenant}.order.status_changed.{shop}", f"{tenant}.customer.upserted"]
    return keys


def bind(url: str, namespace: str, tenant: str, shop: str, queue: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        channel = conn.channel()
        # The same arguments shopbridge declares it with (a different one is refused).
        channel.exchange_declare(namespace, exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        for key in shop_bindings(tenant, shop):
            channel.queue_bind(queue, namespace, routing_key=key)
    print(f"bound {queue} to {namespace} with {len(shop_bindings(tenant, shop))} routing keys")


def validators(schema_dir: Path) -> dict[tuple[str, int], Draft202012Validator]:
    """One validator per ``<type>.v<schema_version>.json``; ``$ref``s between the files
    (``envelope.v1.json``) resolve through a local registry keyed by each file's ``$id``."""
    documents = {path.name: json.loads(path.read_text(encoding="utf-8"))
                 for path in sorted(schema_dir.glob("*.json"))}
    registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents.values())
    found = {}
    for name, doc in documents.items():
        type_, _, version = name.removesuffix(".json").rpartition(".v")
        if type_ != "envelope":
            found[(type_, int(version))] = Draft202012Validator(doc, registry=registry)
    return found


def problems_of(event: Any, known: dict[tuple[str, int], Draft202012Validator]) -> list[str]:
    if not isinstance(event, dict):
        return ["an event is not a JSON object"]
    validator = known.get((str(event.get("type")), event.get("schema_version")))
    if validator is None:
        return [f"no schema for {event.get('type')} v{event.get('schema_version')}"]
    return [f"{event.get('type')} {event.get('entity_key')}: {error.message}"
            for error in validator.iter_errors(event)]


def consume(url: str, queue: str, schema_dir: Path, idle_s: float) -> dict[str, Any]:
    known = validators(schema_dir)
    summary: dict[str, Any] = {"messages": 0, "lists": 0, "events": Counter(), "invalid": []}
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        channel = conn.channel()
        channel.basic_qos(prefetch_count=50)
        for method, _properties, body in channel.consume(queue, inactivity_timeout=idle_s):
            if method is None:                      # idle: everything there was is read
                break
            summary["messages"] += 1
            try:
                data = json.loads(body)
            except ValueError:
                summary["invalid"].append("a body is not JSON")
                channel.basic_reject(method.delivery_tag, requeue=False)
                continue
            # Bulk paths pack several complete events into one body as a JSON array.
            events = data if isinstance(data, list) else [data]
            summary["lists"] += isinstance(data, list)
            problems = [p for event in events for p in problems_of(event, known)]
            if problems:
                summary["invalid"] += problems
                channel.basic_reject(method.delivery_tag, requeue=False)
                continue
            for event in events:
                summary["events"][event["type"]] += 1   # a real program would apply it here
            channel.basic_ack(method.delivery_tag)
        channel.cancel()
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bind")
    c = sub.add_parser("consume")
    for p in (b, c):
        p.add_argument("--queue", required=True)
    b.add_argument("--namespace", required=True)
    b.add_argument("--tenant", required=True)
    b.add_argument("--shop", required=True)
    c.add_argument("--schemas", type=Path, required=True)
    c.add_argument("--idle-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    url = os.environ.get("AMQP_URL")
    if not url:
        print("set AMQP_URL to the broker's URL, e.g. amqp://user:password@host:5672/%2F",
              file=sys.stderr)
        return 2
    if args.command == "bind":
        bind(url, args.namespace, args.tenant, args.shop, args.queue)
        return 0
    summary = consume(url, args.queue, args.schemas, args.idle_s)
    print(json.dumps(summary, sort_keys=True))
    return 1 if summary["invalid"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
