"""osCommerce 2.x family, as CE Phoenix Cart 1.1.0.6."""

from .applier import PhoenixApplier

__all__ = ["PhoenixApplier"]
