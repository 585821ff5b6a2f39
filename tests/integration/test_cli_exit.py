"""``consume`` says by its exit status whether it dead-lettered anything (README, --help)."""

from __future__ import annotations

from kombu import Connection

from shopbridge import cli, topology
from shopbridge.publisher import OutMessage, Publisher
from tests.conftest import AMQP_URL, config_data, shop_entry
from tests.helpers import to_toml


def test_consume_exits_1_when_it_dead_lettered_events_and_0_when_not(
        cao_db, phoenix_db, namespace, tmp_path, capsys):
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml(config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])))
    argv = ["-c", str(path), "consume", "--shop", "web", "--until-idle", "0.3"]
    assert cli.main(argv) == cli.EXIT_OK                 # nothing there: nothing dead-lettered
    with Connection(AMQP_URL) as conn:
        Publisher(conn).publish([OutMessage(exchange=topology.exchange_name(namespace),
                                            routing_key="acme.product.upserted",
                                            body=b"this is not json")])

    first = cli.main(argv)
    out = capsys.readouterr().out
    second = cli.main(argv)

    assert (first, second) == (cli.EXIT_PROBLEMS, cli.EXIT_OK)
    assert "1 dead-lettered" in out
