"""osCommerce / CE Phoenix Cart: the shop-side producer (final orders -> order.placed)."""

from .orders import OrderCount, OrderCycleReport, PhoenixOrderProducer

__all__ = ["OrderCount", "OrderCycleReport", "PhoenixOrderProducer"]
