"""``shopbridge demo`` end to end, as the README's Quick start runs it, under names of its own.

The demo builds its databases from the project's table facts, not from the upstream SQL, so
this test runs on a clone without ../shared/reference too. It uses a unique prefix (databases,
broker namespace), checkout id and config file in tmp_path, so a user's own demo is left
alone; the runs through the command line get checkout folders of their own in tmp_path.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import amqp
import pytest
import sqlalchemy as sa
from kombu import Connection
from sqlalchemy.engine import make_url

from shopbridge import cli, demo, dlq, sample, topology
from shopbridge import config as cfg
from shopbridge.demo_names import MARKER_TABLE, checkout_lock, create_database
from shopbridge.errors import DemoConflict
from tests.conftest import AMQP_URL, MARIADB_URL, unique

ARTICLES = 40
REPO = Path(__file__).resolve().parents[2]


def _names(tmp_path: Path, checkout_id: str | None = None) -> demo.DemoNames:
    return demo.DemoNames(checkout_id=checkout_id or uuid.uuid4().hex[:12],
                          prefix=unique("sbtest_demo"), config_path=tmp_path / "demo.toml")


@pytest.fixture
def names(tmp_path: Path) -> Iterator[demo.DemoNames]:
    consumers_level = logging.getLogger("consumers").level   # the demo quietens it
    names = _names(tmp_path)
    yield names
    demo.remove(MARIADB_URL, AMQP_URL, names)
    logging.getLogger("consumers").setLevel(consumers_level)


def _rows(db: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(make_url(MARIADB_URL).set(database=db))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def _exists(db: str) -> bool:
    return bool(_rows("information_schema", "SELECT COUNT(*) FROM SCHEMATA WHERE SCHEMA_NAME = "
                      f"'{db}'")[0][0])


def test_demo_syncs_catalogue_passes_check_and_its_order_imports(names, capsys, caplog):
    caplog.set_level(logging.WARNING)
    assert demo.run_demo(articles=ARTICLES, db_url=MARIADB_URL, amqp_url=AMQP_URL,
                         names=names) == 0
    output = capsys.readouterr().out
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, "\n".join(errors)

    # Two syncs, three shops: every summary line says nothing was dead-lettered.
    summaries = [line for line in output.splitlines() if "dead-lettered" in line]
    assert len(summaries) == 6 and all("0 dead-lettered" in s for s in summaries), output
    settings = cfg.load(names.config_path)
    for shop in settings.tenants[0].shops:
        assert dlq.list_dead(settings.broker, shop) == []

    a, b, vm = (demo.shop_counts(shop) for shop in settings.tenants[0].shops)
    assert a["products"] + b["products"] == ARTICLES
    for counts in (a, b, vm):
        assert counts["visible"] == counts["products"] > 0
        assert counts["categories"] == 3                      # a tree: two top, one child
        assert counts["links"] == counts["products"]          # every article in a category
    assert a["specials"] == b["specials"] == 1
    assert (a["manufacturers"], b["manufacturers"]) == (2, 1)
    assert "shop-a (oscommerce): products " in output and "specials 1" in output

    # The VirtueMart shop sells CAO shop 1 as shop-a does: each product has its texts in
    # both active languages and a price for everyone.
    assert (vm["products"], vm["manufacturers"]) == (a["products"], a["manufacturers"])
    assert f"shop-vm (virtuemart): products {vm['products']}, " in output
    vm_db = names.shops[2][1]
    for language in ("de_de", "en_gb"):
        assert _rows(vm_db, f"SELECT COUNT(*), SUM(product_name <> '' AND slug <> '') FROM "
                            f"jos_virtuemart_products_{language}") == [
            (vm["products"], vm["products"])]
    assert vm["prices"] >= vm["products"]
    assert _rows(vm_db, "SELECT COUNT(DISTINCT virtuemart_product_id), MIN(product_price) > 0 "
                        "FROM jos_virtuemart_product_prices") == [(vm["products"], 1)]
    assert _rows(vm_db, "SELECT COUNT(*) FROM jos_virtuemart_products WHERE has_prices = 1 "
                        "AND published = 1") == [(vm["products"],)]

    capsys.readouterr()
    assert cli.main(["-c", str(names.config_path), "check"]) == cli.EXIT_OK
    report = capsys.readouterr().out
    assert "PROBLEM" not in report and report.rstrip().endswith("0 problem(s)"), report
    # Both shops import orders ([orders] in the demo's file): check looked at what CAO needs.
    assert "ok       shop shop-a: order import ready (1 recent order(s) checked)" in report
    assert "ok       shop shop-b: order import ready (0 recent order(s) checked)" in report

    # The demo's order goes into its CAO database: tables, number ranges, countries are there.
    assert "orders import --shop shop-a" in output
    assert cli.main(["-c", str(names.config_path), "orders", "import", "--shop",
                     "shop-a"]) == cli.EXIT_OK
    imported = capsys.readouterr().out
    assert "1 order(s)/account(s) imported" in imported and "0 dead-lettered" in imported
    total = next(line for line in output.splitlines() if line.startswith("4. "))
    journal = _rows(names.cao_db, "SELECT VRENUM, SHOP_ID, SHOP_ORDERID, BSUMME, KUN_NUM "
                                  "FROM JOURNAL")
    assert len(journal) == 1 and journal[0][:3] == ("RE-001001", 1, 1), journal
    assert f"{journal[0][3]} EUR" in total, (journal, total)
    assert journal[0][4] == "50001"       # a new customer number from CAO's range 99
    assert _rows(names.cao_db, "SELECT COUNT(*) FROM JOURNALPOS") == [(3,)]  # 2 lines + shipping
    assert cli.main(["-c", str(names.config_path), "consume", "--erp",
                     "--until-idle", "0.3"]) == cli.EXIT_OK

    # remove() takes everything: databases, and every queue, the ERP's included.
    queues = [q.name for t in demo._targets(settings) for q in topology.target_queues(
        settings.broker, t)]
    assert demo.remove(MARIADB_URL, AMQP_URL, names) == []
    assert not any(_exists(db) for db in names.databases)
    with Connection(AMQP_URL) as conn:
        for queue in queues:
            with pytest.raises(amqp.exceptions.NotFound):
                conn.channel().queue_declare(queue, passive=True)


def _demo_in(folder: Path) -> subprocess.Popen[str]:
    """``shopbridge demo`` as ``make demo`` runs it, in checkout folder ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "shopbridge", "demo", "--articles", "20", "--db-url", MARIADB_URL,
         "--amqp-url", AMQP_URL], cwd=folder, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _phoenix_products(names: demo.DemoNames) -> int:
    """The products of shop-a and shop-b (together they sell every article)."""
    shops = cfg.load(names.config_path).tenants[0].shops
    return sum(demo.shop_counts(shop)["products"] for shop in shops
               if shop.name in ("shop-a", "shop-b"))


@pytest.fixture
def checkouts(tmp_path: Path) -> Iterator[list[Path]]:
    """Two checkout folders; whatever their demos made is removed afterwards."""
    folders = [tmp_path / "checkout-a", tmp_path / "checkout-b"]
    yield folders
    for folder in folders:
        if (folder / ".demo" / "checkout-id").is_file():
            demo.remove(MARIADB_URL, AMQP_URL, demo.DemoNames.for_checkout(folder / ".demo"))


def test_two_checkouts_run_the_demo_at_the_same_time_without_touching_each_other(checkouts,
                                                                                 capsys):
    runs = [_demo_in(folder) for folder in checkouts]
    results = [run.communicate(timeout=120) for run in runs]

    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, out + err
        assert "Traceback" not in err and out.count("0 dead-lettered") == 6, out + err
    a, b = (demo.DemoNames.for_checkout(folder / ".demo") for folder in checkouts)
    assert a.checkout_id != b.checkout_id and a.namespace != b.namespace
    assert not set(a.databases) & set(b.databases)
    for names in (a, b):   # each ends with its own, complete databases, marked as its own
        for db in names.databases:
            assert _rows(db, f"SELECT checkout_id FROM {MARKER_TABLE}") == [(names.checkout_id,)]
        assert _phoenix_products(names) == 20
        assert cli.main(["-c", str(names.config_path), "check"]) == cli.EXIT_OK, \
            capsys.readouterr().out

    # Running it again in checkout a replaces a's databases and leaves b's alone.
    again = _demo_in(checkouts[0])
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, out + err
    assert demo.DemoNames.for_checkout(checkouts[0] / ".demo") == a
    assert _phoenix_products(b) == 20


@pytest.mark.parametrize("foreign", ["no marker", "another checkout's marker"])
def test_a_database_of_the_demos_name_that_is_not_its_own_is_never_dropped(
        names, tmp_path, foreign):
    db = names.shops[1][1]            # the CAO and shop-a databases are built before it
    if foreign == "no marker":
        sample.create_database(MARIADB_URL, db)
    else:
        create_database(MARIADB_URL, db, _names(tmp_path / "other"), charset="utf8mb4")
    try:
        engine = sa.create_engine(make_url(MARIADB_URL).set(database=db))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE precious (id INT PRIMARY KEY)")
            conn.exec_driver_sql("INSERT INTO precious VALUES (42)")
        engine.dispose()

        with pytest.raises(DemoConflict, match=rf"database {db} exists and belongs to .*: "
                                               "left alone, nothing dropped"):
            demo.run_demo(articles=5, db_url=MARIADB_URL, amqp_url=AMQP_URL, names=names)

        assert _rows(db, "SELECT id FROM precious") == [(42,)]
        assert demo.remove(MARIADB_URL, AMQP_URL, names) == [db]      # ours go, theirs stays
        assert _rows(db, "SELECT id FROM precious") == [(42,)]
        assert not _exists(names.cao_db) and not _exists(names.shops[0][1])
    finally:
        sample.drop_database(MARIADB_URL, db)          # the test made it


def test_the_command_says_in_one_line_why_it_left_a_database_alone(tmp_path):
    checkout_id = "t" + uuid.uuid4().hex[:10]
    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "checkout-id").write_text(checkout_id + "\n")
    db = f"shopbridge_demo_{checkout_id}_cao"
    sample.create_database(MARIADB_URL, db)
    try:
        run = _demo_in(tmp_path)
        out, err = run.communicate(timeout=60)
        assert run.returncode == cli.EXIT_PROBLEMS, out + err
        assert err.strip() == (
            f"error: database {db} exists and belongs to something else (it has no "
            f"{MARKER_TABLE} table): left alone, nothing dropped. Drop it yourself if nobody "
            "needs it, or delete .demo/checkout-id to give this checkout's demo new names")
        assert _exists(db)
    finally:
        sample.drop_database(MARIADB_URL, db)


def test_a_second_run_of_the_same_checkout_waits_for_nothing_and_drops_nothing(names):
    with checkout_lock(MARIADB_URL, names), pytest.raises(
            DemoConflict, match=r"another 'shopbridge demo' of this checkout .* is running "
                                r"\(MariaDB connection \d+\)"):
        demo.run_demo(articles=5, db_url=MARIADB_URL, amqp_url=AMQP_URL, names=names)
    assert not any(_exists(db) for db in names.databases)


def test_the_same_checkout_replaces_its_own_database(names):
    create_database(MARIADB_URL, names.cao_db, names, charset="latin1")
    engine = sa.create_engine(make_url(MARIADB_URL).set(database=names.cao_db))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE leftover (id INT)")
    engine.dispose()
    create_database(MARIADB_URL, names.cao_db, names, charset="latin1")
    assert _rows(names.cao_db, "SHOW TABLES") == [(MARKER_TABLE,)]


def test_a_checkout_keeps_its_id_and_two_checkouts_get_two(tmp_path):
    first = demo.DemoNames.for_checkout(tmp_path / "a" / ".demo")
    assert demo.DemoNames.for_checkout(tmp_path / "a" / ".demo") == first
    other = demo.DemoNames.for_checkout(tmp_path / "b" / ".demo")
    assert other.checkout_id != first.checkout_id and other.prefix != first.prefix
    assert first.prefix == f"shopbridge_demo_{first.checkout_id}"


def test_without_a_reachable_rabbitmq_the_demo_runs_on_the_embedded_broker_and_says_so(
        names, capsys):
    """B5: RabbitMQ on a port nothing listens on; the demo says it falls back, syncs all three
    shops through the embedded broker in a database of its own, and the commands on its
    config file (dlq, status) work on it; remove() drops that database too."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    nowhere = f"amqp://guest@127.0.0.1:{closed}//"
    assert demo.run_demo(articles=ARTICLES, db_url=MARIADB_URL, amqp_url=nowhere,
                         names=names) == 0
    output = capsys.readouterr().out
    assert "RabbitMQ is not reachable" in output and "using the embedded broker" in output
    assert f"Full sync through the embedded broker (MariaDB database {names.broker_db})" \
        in output
    summaries = [line for line in output.splitlines() if "dead-lettered" in line]
    assert len(summaries) == 6 and all("0 dead-lettered" in s for s in summaries), output
    settings = cfg.load(names.config_path)
    assert settings.broker.embedded
    a, b, vm = (demo.shop_counts(shop) for shop in settings.tenants[0].shops)
    assert a["products"] + b["products"] == ARTICLES and vm["products"] == a["products"]
    for shop in settings.tenants[0].shops:
        assert dlq.list_dead(settings.broker, shop) == []
    assert cli.main(["-c", str(names.config_path), "status"]) == cli.EXIT_OK
    assert cli.main(["-c", str(names.config_path), "orders", "import", "--shop",
                     "shop-a"]) == cli.EXIT_OK
    assert "1 order(s)/account(s) imported" in capsys.readouterr().out

    assert _exists(names.broker_db)
    assert demo.remove(MARIADB_URL, nowhere, names) == []
    assert not any(_exists(db) for db in names.every_database)
