"""CAO-Faktura's facts: table names, REGISTRY (VAT rates, number ranges), person names.

Used by the CAO producers (``producers/cao/``), the CAO order importer (``consumers/cao/``)
and ``shopbridge check``; it reads CAO but knows nothing of events, shops or queues.
"""

from .numbers import (
    DEB_NUM_RANGE,
    KUNNUM_RANGE,
    NUMBERS_KEY,
    NumberRanges,
    format_number,
    number_range,
)
from .registry import DEFAULT_VAT, registry_vat_rates, vat_rates
from .resolve import REGISTRY_NAMES, candidates, resolve

__all__ = [
    "DEB_NUM_RANGE",
    "DEFAULT_VAT",
    "KUNNUM_RANGE",
    "NUMBERS_KEY",
    "REGISTRY_NAMES",
    "NumberRanges",
    "candidates",
    "format_number",
    "number_range",
    "registry_vat_rates",
    "resolve",
    "vat_rates",
]
