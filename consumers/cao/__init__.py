"""CAO-Faktura as a target: shop orders and customers into the ERP."""

from .importer import CaoOrderApplier

__all__ = ["CaoOrderApplier"]
