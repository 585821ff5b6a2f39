"""The embedded broker's own guarantees (B5), on the real MariaDB: several receivers never
hold the same message; a receiver that dies gives its messages back, counted as a delivery,
and past the delivery limit they are dead letters that ``dlq`` shows as such; routing follows
the topic bindings of the RabbitMQ topology."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shopbridge import dlq, embedded, topology
from shopbridge.config import BrokerConfig
from shopbridge.publisher import OutMessage

TARGET = topology.Target.for_erp("acme")


@pytest.fixture
def store(embedded_broker_url: str, namespace: str) -> Iterator[embedded.Store]:
    broker = BrokerConfig(url=embedded_broker_url, namespace=namespace, kind="embedded",
                          delivery_limit=2)
    made = embedded.Store(broker)
    made.declare([TARGET])
    yield made
    made.purge_namespace()
    made.close()


def _work(store: embedded.Store) -> str:
    return topology.work_queue(store.broker.namespace, TARGET.tenant, TARGET.name)


def _publish(store: embedded.Store, n: int, routing_key: str = "acme.order.placed") -> None:
    store.publish(OutMessage(exchange=store.broker.namespace, routing_key=routing_key,
                             body=b'[{"n": %d}]' % i) for i in range(n))


def test_topic_patterns_match_as_rabbitmq_does():
    assert embedded.topic_matches("acme.product.*", "acme.product.upserted")
    assert not embedded.topic_matches("acme.product.*", "acme.product.upserted.web")
    assert embedded.topic_matches("acme.product.*.web", "acme.product.upserted.web")
    assert not embedded.topic_matches("acme.order.placed", "acme.order.placedx")


def test_unroutable_messages_are_warned_about_and_bound_ones_arrive(store, caplog):
    caplog.set_level(logging.WARNING)
    _publish(store, 3)
    _publish(store, 1, routing_key="acme.product.upserted")     # the ERP is not bound to it
    assert store.depth(_work(store)) == 3
    assert "unroutable" in caplog.text
    assert store.depth("no.such.queue") is None


def test_four_receivers_racing_claim_each_message_exactly_once(store):
    n = 400
    _publish(store, n)
    taken: list[list[int]] = [[] for _ in range(4)]
    failures: list[BaseException] = []

    def take(mine: list[int]) -> None:
        receiver = embedded.Receiver(store, _work(store))
        try:
            while got := receiver.claim(7):
                mine += [d.id for d in got]
                got[-1].ack(multiple=True)
        except BaseException as err:   # reported below, not lost in the thread
            failures.append(err)
        finally:
            receiver.close()

    threads = [threading.Thread(target=take, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    every = [i for mine in taken for i in mine]
    assert len(every) == len(set(every)) == n
    assert sum(1 for mine in taken if mine) >= 2          # they really raced
    assert store.depth(_work(store)) == 0


def test_a_dead_receivers_messages_come_back_and_past_the_limit_are_dead_letters(store):
    """delivery_limit 2: the third receiver that dies holding the message is the last."""
    _publish(store, 1)
    for _ in range(3):
        dying = embedded.Receiver(store, _work(store))
        assert len(dying.claim(10)) == 1
        dying._connection().invalidate()    # the process died: the server frees its lock
        dying._conn = None
        survivor = embedded.Receiver(store, _work(store))
        survivor._last_recover = 0.0
        back = survivor.claim(10)
        survivor.close()                    # a clean close gives back without counting
        if back:
            assert len(back) == 1
    assert store.depth(_work(store)) == 0
    [letter] = dlq.list_dead(store.broker, TARGET)
    assert letter.error_class == "BrokerDeadLettered"
    assert "delivery_limit" in letter.error


def test_a_clean_close_gives_back_unacknowledged_messages(store):
    _publish(store, 5)
    first = embedded.Receiver(store, _work(store))
    got = first.claim(10)
    got[1].ack(multiple=True)
    first.close()
    second = embedded.Receiver(store, _work(store))
    try:
        assert [d.body for d in second.claim(10)] == [d.body for d in got[2:]]
    finally:
        second.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.sampled_from(["publish", "claim", "ack", "die", "close"]),
                                st.integers(0, 2), st.integers(1, 6)), max_size=30))
# CI, 2026-12-07: a message given back by a dead receiver and claimed after a higher id; the
# test acknowledged by id where the broker acknowledges in the order of claiming.
@example(steps=[("publish", 0, 1), ("publish", 0, 1), ("claim", 1, 1), ("claim", 2, 1),
                ("die", 1, 1), ("claim", 2, 1), ("ack", 2, 1)])
def test_at_least_once_whatever_receivers_do(store, steps):
    """R1 on the embedded broker: three receivers claim, acknowledge, die (connection lost)
    and close in any order; no message is ever held by two of them at once, an acknowledged
    one never comes back, and in the end every published message is acknowledged once."""
    work = _work(store)
    published: list[bytes] = []
    done: list[bytes] = []
    receivers: list[embedded.Receiver | None] = [None, None, None]
    held: list[list[embedded.Delivery]] = [[], [], []]

    def receiver(i: int) -> embedded.Receiver:
        if receivers[i] is None:
            receivers[i] = embedded.Receiver(store, work)
            receivers[i]._last_recover = -1e9
        return receivers[i]

    for action, i, n in steps:
        if action == "publish":
            bodies = [f"m{len(published) + k}".encode() for k in range(n)]
            store.publish(OutMessage(exchange="", routing_key=work, body=b) for b in bodies)
            published += bodies
        elif action == "claim":
            r = receiver(i)
            r._last_recover = -1e9
            held[i] += r.claim(n)
        elif action == "ack" and held[i]:
            # "Multiple" means claimed before, as AMQP's delivery tags: a message given back
            # by a dead receiver may come after one with a higher id (Receiver.ack).
            upto = min(n, len(held[i]))
            held[i][upto - 1].ack(multiple=True)
            done += [d.body for d in held[i][:upto]]
            held[i] = held[i][upto:]
        elif action in ("die", "close") and receivers[i] is not None:
            r = receivers[i]
            if action == "die":
                r._connection().invalidate()
                r._conn = None
            else:
                r.close()
            receivers[i], held[i] = None, []
        in_hand = [d.body for h in held for d in h]
        assert len(in_hand) == len(set(in_hand)), "a message held twice"
        assert not set(in_hand) & set(done), "an acknowledged message came back"

    for i in range(3):                       # drain: one receiver takes what is left
        if receivers[i] is not None:
            receivers[i].close()
    last = embedded.Receiver(store, work)
    try:
        last._last_recover = -1e9
        while got := last.claim(50):
            got[-1].ack(multiple=True)
            done += [d.body for d in got]
            last._last_recover = -1e9
    finally:
        last.close()
    assert sorted(done) == sorted(published)
    assert store.depth(work) == 0


def test_setup_creates_the_broker_tables_and_then_finds_them_up_to_date(make_db):
    from shopbridge import setup

    db = make_db("broker_setup")
    broker = BrokerConfig(url=db.url.render_as_string(hide_password=False), kind="embedded")
    first = setup._broker(broker, None)
    assert "shopbridge_broker_message created" in first and "embedded broker" in first
    assert "up to date" in setup._broker(broker, None)


@pytest.mark.parametrize("command", [["dlq", "list", "--shop", "web"], ["status"],
                                     ["dlq", "replay", "--shop", "web"]])
def test_an_unreachable_embedded_broker_is_exit_3_in_one_line_without_the_password(
        command, tmp_path, capsys):
    import socket

    from shopbridge import cli
    from tests.helpers import to_toml

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    secret = "pw-" + uuid.uuid4().hex
    path = tmp_path / "shopbridge.toml"
    path.write_text(to_toml({
        "broker": {"kind": "embedded", "url": f"mysql://sb@127.0.0.1:{closed}/broker",
                   "password_env": "SB_TEST_BROKER_DB_PW"},
        "tenants": [{"name": "acme", "erp": {"kind": "cao", "url": "mysql://x@127.0.0.1/x"},
                     "shops": [{"name": "web", "kind": "oscommerce",
                                "url": "mysql://x@127.0.0.1/x", "languages": ["de"],
                                "price_level": 1, "tax_classes": {"1": 2}}]}]}))
    os.environ["SB_TEST_BROKER_DB_PW"] = secret
    try:
        code = cli.main(["-c", str(path), *command])
    finally:
        del os.environ["SB_TEST_BROKER_DB_PW"]
    err = capsys.readouterr().err
    assert code == cli.EXIT_BROKER, err
    assert "embedded broker mysql+pymysql://sb:***@127.0.0.1" in err and secret not in err
    assert "Traceback" not in err


def test_check_names_the_broker_tables_a_dml_only_user_cannot_create(make_db):
    """``check`` with an embedded broker: tables missing and a user without CREATE is a
    PROBLEM naming them and ``shopbridge setup``; after setup, that user's DML grants do."""
    from shopbridge import check, setup
    from shopbridge.config import Settings
    from shopbridge.probes import CheckReport

    db = make_db("broker_grants")
    user, password = f"sb_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    db.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, "%", password))
    try:
        db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{db.name}`.* TO %s@%s",
                   (user, "%"))
        url = db.url.set(username=user, password=password).render_as_string(
            hide_password=False)
        settings = Settings(broker=BrokerConfig(url=url, kind="embedded"), tenants=())
        report = CheckReport()
        check._check_broker(settings, report)
        [problem] = report.problems
        assert "shopbridge_broker_message" in problem and "shopbridge setup" in problem

        admin = BrokerConfig(url=db.url.render_as_string(hide_password=False), kind="embedded")
        setup._broker(admin, None)
        report = CheckReport()
        check._check_broker(settings, report)
        assert report.problems == [] and "reachable" in report.ok[0]
    finally:
        db.execute("DROP USER IF EXISTS %s@%s", (user, "%"))


def test_consumers_starting_together_declare_without_failing_and_never_unbind(store):
    """Six processes' declares at once (own stores, as separate processes have); a target
    declared without bindings leaves the existing ones, as a RabbitMQ queue declare does."""
    failures: list[BaseException] = []

    def declare() -> None:
        own = embedded.Store(store.broker)
        try:
            own.declare([TARGET, topology.Target.for_erp("other")])
        except BaseException as err:   # reported below
            failures.append(err)
        finally:
            own.close()

    threads = [threading.Thread(target=declare) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    store.declare([topology.Target(TARGET.tenant, TARGET.name, bindings=())])
    _publish(store, 2)
    assert store.depth(_work(store)) == 2


def test_acknowledging_multiple_follows_the_order_of_claiming_not_the_ids(store):
    """A message given back by a dead consumer (a low id) is claimed after a newer one: an
    acknowledgement of it with ``multiple`` takes both, as AMQP's delivery tags would."""
    _publish(store, 2)
    dying = embedded.Receiver(store, _work(store))
    [old] = dying.claim(1)
    dying._connection().invalidate()
    dying._conn = None
    taker = embedded.Receiver(store, _work(store))
    try:
        taker._last_recover = time.monotonic()     # no look for dead owners yet
        [newer] = taker.claim(1)
        taker._last_recover = -1e9
        got = taker.claim(5)
        assert [d.id for d in got] == [old.id] and newer.id > old.id
        got[-1].ack(multiple=True)
        assert store.depth(_work(store)) == 0
    finally:
        taker.close()
