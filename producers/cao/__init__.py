"""CAO-Faktura: the ERP adapter shipped with shopbridge."""

from .producer import CaoProducer, CycleReport
from .source import CaoSource

__all__ = ["CaoProducer", "CaoSource", "CycleReport"]
