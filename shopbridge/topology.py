"""RabbitMQ topology as data: names are small pure functions, ``declare`` makes them real.

One durable topic exchange per namespace. Per (tenant, shop): a quorum work queue, one
classic queue per retry tier whose TTL dead-letters back into the work queue, and a classic
dead-letter queue. Classic, not quorum, for the tiers and dead letters: listing dead letters
re-queues them, and RabbitMQ 4's default quorum delivery limit would eventually drop them.
Routing keys are ``<tenant>.<entity>.<action>[.<shop>]`` (DESIGN 2).
"""

from __future__ import annotations

from collections.abc import Iterable

from kombu import Connection, Exchange, Queue, binding

from .config import BrokerConfig, ShopConfig

# Event families every shop applies (catalogue, ERP -> shop).
SHOP_ENTITIES = ("product", "stock")


def exchange_name(namespace: str) -> str:
    return namespace


def work_queue(namespace: str, tenant: str, shop: str) -> str:
    return f"{namespace}.{tenant}.{shop}"


def retry_queue(namespace: str, tenant: str, shop: str, delay_s: int) -> str:
    return f"{namespace}.{tenant}.{shop}.retry.{delay_s}s"


def dead_letter_queue(namespace: str, tenant: str, shop: str) -> str:
    return f"{namespace}.{tenant}.{shop}.dead"


def routing_key(tenant: str, event_type: str, shop: str | None = None) -> str:
    """``acme.product.upserted``, or ``acme.product.upserted.shop-de`` for one shop only."""
    key = f"{tenant}.{event_type}"
    return f"{key}.{shop}" if shop else key


def shop_bindings(tenant: str, shop: str) -> list[str]:
    """Routing-key patterns a shop's work queue is bound with."""
    keys = [f"{tenant}.{entity}.*" for entity in SHOP_ENTITIES]
    keys += [f"{tenant}.{entity}.*.{shop}" for entity in SHOP_ENTITIES]
    return keys


def exchange(broker: BrokerConfig) -> Exchange:
    return Exchange(exchange_name(broker.namespace), type="topic", durable=True)


def shop_queues(broker: BrokerConfig, shop: ShopConfig) -> list[Queue]:
    """Every queue of one shop, with the arguments that make them fit together."""
    ns, tenant, name = broker.namespace, shop.tenant, shop.name
    work = work_queue(ns, tenant, name)
    dead = dead_letter_queue(ns, tenant, name)
    ex = exchange(broker)
    queues = [
        Queue(work, bindings=[binding(ex, routing_key=k) for k in shop_bindings(tenant, name)],
              durable=True, queue_arguments={
                  "x-queue-type": "quorum",
                  # A message that kills its consumer again and again ends in dead letters
                  # instead of looping forever (x-death tells why).
                  "x-delivery-limit": broker.delivery_limit,
                  "x-dead-letter-exchange": "",
                  "x-dead-letter-routing-key": dead,
              }),
        Queue(dead, durable=True, queue_arguments={"x-queue-type": "classic"}),
    ]
    for delay in broker.retry_tiers_s:
        queues.append(Queue(retry_queue(ns, tenant, name, delay), durable=True,
                            queue_arguments={
                                "x-queue-type": "classic",
                                "x-message-ttl": delay * 1000,
                                "x-dead-letter-exchange": "",
                                "x-dead-letter-routing-key": work,
                            }))
    return queues


def declare(conn: Connection, broker: BrokerConfig, shops: Iterable[ShopConfig]) -> None:
    """Declare the exchange and every queue of the given shops. Idempotent."""
    channel = conn.default_channel
    exchange(broker)(channel).declare()
    for shop in shops:
        for queue in shop_queues(broker, shop):
            queue(channel).declare()


def delete(conn: Connection, broker: BrokerConfig, shops: Iterable[ShopConfig]) -> None:
    """Remove what ``declare`` made (tests and ``shopbridge topology --delete``)."""
    channel = conn.default_channel
    for shop in shops:
        for queue in shop_queues(broker, shop):
            queue(channel).delete()
    exchange(broker)(channel).delete()
