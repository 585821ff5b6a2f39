"""Consumers: one per target shop (and later one for the ERP), applying events idempotently."""

from .appliers import make_applier
from .applying import Applier, ApplyResult
from .runner import ConsumerStats, ShopConsumer

__all__ = ["Applier", "ApplyResult", "ConsumerStats", "ShopConsumer", "make_applier"]
