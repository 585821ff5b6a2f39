"""One shop per kind for the whole contract suite, fed through the real broker path.

Each kind's database and broker namespace is made once per session and dropped after it;
tests share them safely because every subject has keys of its own (tests/contract/subjects.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shopbridge import config as cfg
from tests.conftest import AMQP_URL, BROKER_KINDS, MARIADB_URL, unique
from tests.contract.drivers import DRIVERS
from tests.contract.pipeline import Pipeline, Tally
from tests.contract.shop import ShopDriver
from tests.contract.subjects import SUBJECTS, TENANT, Subject


@dataclass
class ContractShop:
    """A running shop of one kind: its driver reads it, its pipeline feeds it."""

    driver: ShopDriver
    pipeline: Pipeline

    @property
    def kind(self) -> str:
        return self.driver.kind

    def subject(self, event_type: str) -> Subject:
        """A fresh entity for ``event_type``, with what it needs already in the shop.

        A kind whose driver lists the type in ``unsupported`` (type -> reason) skips it."""
        reason = getattr(self.driver, "unsupported", {}).get(event_type)
        if reason:
            pytest.skip(f"{self.kind} does not take {event_type} yet: {reason}")
        subject = SUBJECTS[event_type](self.driver, self.pipeline.shop.name)
        needs = subject.prepare()
        if needs:
            tally = self.deliver(*needs)
            assert tally.dead == tally.retried == 0, f"preparing {event_type}: {tally}"
        return subject

    def deliver(self, *events: dict[str, Any]) -> Tally:
        return self.pipeline.deliver(*events)


def _settings(namespace: str, shop: dict[str, Any], broker: dict[str, str]) -> cfg.Settings:
    return cfg.parse({
        "broker": {**broker, "namespace": namespace, "retry_tiers_s": [1, 2],
                   "batch_wait_ms": 20},
        "tenants": [{
            "name": TENANT,
            # The shop's consumer never reads the ERP; the tenant needs one all the same.
            "erp": {"kind": "cao", "url": f"{MARIADB_URL}sbtest_contract_no_erp"},
            "shops": [shop],
        }],
    }, source="contract suite")


# Every kind on both broker kinds (B5): the contract is the shop's, whichever broker feeds it.
@pytest.fixture(scope="session", params=[(kind, broker) for kind in sorted(DRIVERS)
                                         for broker in BROKER_KINDS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def shop(request: pytest.FixtureRequest) -> Iterator[ContractShop]:
    kind, broker_kind = request.param
    broker = {"kind": broker_kind, "url": AMQP_URL if broker_kind == "rabbitmq" else
              request.getfixturevalue("embedded_broker_url")}
    driver = DRIVERS[kind]()
    try:
        settings = _settings(unique("sbtest-contract").replace("_", "-"), driver.shop_entry(),
                             broker)
        config = settings.tenants[0].shops[0]
        applier = driver.make_applier(config)
        pipeline = Pipeline(broker=settings.broker, shop=config, applier=applier)
        try:
            pipeline.start()
            yield ContractShop(driver, pipeline)
        finally:
            pipeline.close()
            applier.close()
    finally:
        driver.close()
