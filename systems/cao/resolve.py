"""Which real table a CAO table name means in one CAO database.

MariaDB on Linux compares table names case-sensitively, and CAO installations differ: the
registry is REGISTRY in the DDL, but CAO 1.2.x code says REGISTERY (sic, NOTES 2), and an
operator can name it outright (``erp.registry_table``). Every reader of a CAO database asks
here, so the producers, the order importer and ``check`` agree on which table they use.
"""

from __future__ import annotations

from collections.abc import Iterable

from shopbridge.config import ErpConfig
from shopbridge.db import TableNames

# CAO 1.2.x code says REGISTERY (sic), NOTES 2: whichever exists.
REGISTRY_NAMES = ("REGISTRY", "REGISTERY")


def candidates(logical: str, erp: ErpConfig) -> tuple[str, ...]:
    """The real names ``logical`` may have in ``erp``'s database, in order of preference."""
    if logical == "REGISTRY":
        return (erp.registry_table,) if erp.registry_table else REGISTRY_NAMES
    return (logical,)


def resolve(names: TableNames, logicals: Iterable[str], erp: ErpConfig
            ) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Find each logical table among ``names`` (read once per database).

    Returns:
        logical -> real (unquoted) name of each table found, and logical -> the names
        looked for, of each table that was not; both in the order asked.
    """
    found: dict[str, str] = {}
    missing: dict[str, tuple[str, ...]] = {}
    for logical in logicals:
        options = candidates(logical, erp)
        real = names.find(*options)
        if real is None:
            missing[logical] = options
        else:
            found[logical] = real
    return found, missing
