"""CAO's VAT rates: REGISTRY rows MAINKEY 'MAIN\\MWST', NAME the STEUER_CODE (0..3).

One reader for the producer (the rate travels in product events), the order importer (a
document's VAT per code) and ``check`` (is the shipping tax code known?).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from sqlalchemy.engine import Connection

VAT_KEY = "MAIN\\MWST"
# CAO's own defaults for STEUER_CODE 0..3 when REGISTRY holds no MAIN\MWST rows (NOTES 2).
DEFAULT_VAT: Mapping[int, Decimal] = {0: Decimal(0), 1: Decimal(7), 2: Decimal(19), 3: Decimal(0)}


def registry_vat_rates(conn: Connection, registry: str) -> dict[int, Decimal]:
    """STEUER_CODE -> VAT rate in percent as REGISTRY MAIN\\MWST gives it (no defaults).

    ``registry`` is the quoted table name. A row whose NAME is no number or that holds no
    readable rate (VAL_DOUBLE, else VAL_CHAR with a decimal comma or point, else VAL_INT) is
    left out.
    """
    rates: dict[int, Decimal] = {}
    rows = conn.exec_driver_sql(f"SELECT NAME, VAL_DOUBLE, VAL_CHAR, VAL_INT FROM {registry} "
                                f"WHERE MAINKEY = %s", (VAT_KEY,))
    for name, *values in rows:
        raw = next((v for v in values if v not in (None, "")), None)
        try:
            rates[int(name)] = Decimal(str(raw).replace(",", "."))
        except (ValueError, InvalidOperation):
            continue
    return rates


def vat_rates(conn: Connection, registry: str) -> dict[int, Decimal]:
    """STEUER_CODE -> VAT rate in percent: CAO's defaults, overridden by REGISTRY's rows,
    normalised (19.0 -> 19)."""
    rates = dict(DEFAULT_VAT)
    rates.update((code, rate.normalize())
                 for code, rate in registry_vat_rates(conn, registry).items())
    return rates
