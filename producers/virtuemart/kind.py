"""VirtueMart 4 as a shop source (its orders and accounts to the ERP): the object registered
under ``shopbridge.shop_sources`` in pyproject.toml (``shopbridge.kinds.ShopSource``)."""

from __future__ import annotations

from shopbridge.kinds import ShopSource

from ..source import FeedSource
from . import probes
from .accounts import VmAccountProducer
from .orders import VmOrderProducer


class VirtueMartSource(FeedSource):
    check = staticmethod(probes.check)   # shopbridge check: this role's probe
    orders = VmOrderProducer
    accounts = VmAccountProducer


# Typed as the role, so that mypy checks the object keeps the role's promises.
SOURCE: ShopSource = VirtueMartSource()
