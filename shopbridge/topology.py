"""RabbitMQ topology as data: names are small pure functions, ``declare`` makes them real.

One durable topic exchange per namespace. Per (tenant, shop): a quorum work queue, one
classic queue per retry tier whose TTL dead-letters back into the work queue, and a classic
dead-letter queue. Classic, not quorum, for the tiers and dead letters: listing dead letters
re-queues them, and RabbitMQ 4's default quorum delivery limit would eventually drop them.
Routing keys are ``<tenant>.<entity>.<action>[.<shop>]`` (DESIGN 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kombu import Connection, Exchange, Queue, binding

from .config import BrokerConfig, ShopConfig

# Event families every shop applies (catalogue, ERP -> shop).
SHOP_ENTITIES = ("product", "stock", "manufacturer", "category")
# Event families a tenant's ERP applies (shop -> ERP).
ERP_ENTITIES = ("order", "customer")
# The queue name of a tenant's ERP side; config refuses it as a shop name.
ERP = "erp"
# The queue of a tenant's order reservations (the oversell guard, B3): a copy of every
# order.placed, read by the tenant's ERP producer. The dot keeps it apart from any shop name.
RESERVATIONS = "erp.reservations"
RESERVATIONS_EXPIRE_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Target:
    """Something with a work queue of its own: a shop, or a tenant's ERP."""

    tenant: str
    name: str
    bindings: tuple[str, ...]

    @classmethod
    def for_shop(cls, shop: ShopConfig) -> Target:
        return cls(shop.tenant, shop.name, tuple(shop_bindings(shop.tenant, shop.name)))

    @classmethod
    def for_erp(cls, tenant: str) -> Target:
        return cls(tenant, ERP, tuple(erp_bindings(tenant)))

    @classmethod
    def for_reservations(cls, tenant: str) -> Target:
        return cls(tenant, RESERVATIONS, (f"{tenant}.order.placed",))


def exchange_name(namespace: str) -> str:
    return namespace


def work_queue(namespace: str, tenant: str, target: str) -> str:
    return f"{namespace}.{tenant}.{target}"


def retry_queue(namespace: str, tenant: str, target: str, delay_s: int) -> str:
    return f"{namespace}.{tenant}.{target}.retry.{delay_s}s"


def dead_letter_queue(namespace: str, tenant: str, target: str) -> str:
    return f"{namespace}.{tenant}.{target}.dead"


def routing_key(tenant: str, event_type: str, shop: str | None = None) -> str:
    """``acme.product.upserted``, or ``acme.product.upserted.shop-de`` for one shop only."""
    key = f"{tenant}.{event_type}"
    return f"{key}.{shop}" if shop else key


def shop_bindings(tenant: str, shop: str) -> list[str]:
    """Routing-key patterns a shop's work queue is bound with."""
    keys = [f"{tenant}.{entity}.*" for entity in SHOP_ENTITIES]
    keys += [f"{tenant}.{entity}.*.{shop}" for entity in SHOP_ENTITIES]
    # Order status changes go to the shop the order came from only; ERP customers to all
    # shops, each keeps those of its own CAO shop id.
    keys += [f"{tenant}.order.status_changed.{shop}", f"{tenant}.customer.upserted"]
    return keys


def erp_bindings(tenant: str) -> list[str]:
    """Routing-key patterns of a tenant's ERP work queue (orders and customers from shops)."""
    return [f"{tenant}.order.placed", f"{tenant}.customer.registered"]


def exchange(broker: BrokerConfig) -> Exchange:
    return Exchange(exchange_name(broker.namespace), type="topic", durable=True)


def target_queues(broker: BrokerConfig, target: Target) -> list[Queue]:
    """Every queue of one target, with the arguments that make them fit together."""
    ns, tenant, name = broker.namespace, target.tenant, target.name
    work = work_queue(ns, tenant, name)
    if name == RESERVATIONS:
        # Read with basic.get by the ERP producer, acknowledged after recording, never
        # retried or dead-lettered. Unused for RESERVATIONS_EXPIRE_MS (the guard switched off
        # on every shop), RabbitMQ removes it rather than keep a copy of every order.
        return [Queue(work, bindings=[binding(exchange(broker), routing_key=k)
                                      for k in target.bindings], durable=True,
                      queue_arguments={"x-queue-type": "quorum",
                                       "x-expires": RESERVATIONS_EXPIRE_MS})]
    dead = dead_letter_queue(ns, tenant, name)
    ex = exchange(broker)
    queues = [
        Queue(work, bindings=[binding(ex, routing_key=k) for k in target.bindings],
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


def shop_queues(broker: BrokerConfig, shop: ShopConfig) -> list[Queue]:
    return target_queues(broker, Target.for_shop(shop))


def _targets(items: Iterable[ShopConfig | Target]) -> list[Target]:
    return [t if isinstance(t, Target) else Target.for_shop(t) for t in items]


def declare(conn: Connection, broker: BrokerConfig,
            targets: Iterable[ShopConfig | Target]) -> None:
    """Declare the exchange and every queue of the given shops or targets. Idempotent."""
    channel = conn.default_channel
    exchange(broker)(channel).declare()
    for target in _targets(targets):
        for queue in target_queues(broker, target):
            queue(channel).declare()


def delete(conn: Connection, broker: BrokerConfig,
           targets: Iterable[ShopConfig | Target]) -> None:
    """Remove what ``declare`` made (tests and the demo's clean start)."""
    channel = conn.default_channel
    for target in _targets(targets):
        for queue in target_queues(broker, target):
            queue(channel).delete()
    exchange(broker)(channel).delete()
