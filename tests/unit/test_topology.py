"""Queue and routing-key names are pure functions; their arguments fit together."""

from shopbridge import topology
from shopbridge.config import BrokerConfig, DatabaseConfig, ShopConfig, ShopFilter


def _shop() -> ShopConfig:
    return ShopConfig(tenant="acme", name="web", kind="oscommerce", active=True,
                      db=DatabaseConfig("mysql://x@y/z"), languages=("de",), price_level=1,
                      stock_mode="available", tax_classes={}, filter=ShopFilter())


def test_names():
    assert topology.work_queue("sb", "acme", "web") == "sb.acme.web"
    assert topology.retry_queue("sb", "acme", "web", 60) == "sb.acme.web.retry.60s"
    assert topology.dead_letter_queue("sb", "acme", "web") == "sb.acme.web.dead"
    assert topology.routing_key("acme", "product.upserted") == "acme.product.upserted"
    assert topology.routing_key("acme", "stock.changed", "web") == "acme.stock.changed.web"


def test_retry_tiers_dead_letter_back_into_the_work_queue_and_work_into_dead_letters():
    broker = BrokerConfig(url="amqp://", namespace="sb", retry_tiers_s=(5, 60))
    queues = {q.name: q for q in topology.shop_queues(broker, _shop())}
    work = queues["sb.acme.web"]
    assert work.queue_arguments["x-queue-type"] == "quorum"
    assert work.queue_arguments["x-dead-letter-routing-key"] == "sb.acme.web.dead"
    for delay in (5, 60):
        args = queues[f"sb.acme.web.retry.{delay}s"].queue_arguments
        assert args["x-message-ttl"] == delay * 1000
        assert args["x-dead-letter-routing-key"] == "sb.acme.web"
    keys = {b.routing_key for b in work.bindings}
    assert "acme.product.*" in keys and "acme.stock.*.web" in keys
