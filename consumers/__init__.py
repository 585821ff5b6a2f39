"""Consumers: one per target shop (and later one for the ERP), applying events idempotently."""

from .appliers import make_applier
from .runner import ConsumerStats, ShopConsumer

__all__ = ["ConsumerStats", "ShopConsumer", "make_applier"]
