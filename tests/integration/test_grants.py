"""Least privilege (issue 9, points 8 and 9): the services run with DML grants only.

``shopbridge setup`` (run with root here) creates shopbridge's own tables; a database user
with SELECT, INSERT, UPDATE and DELETE then produces and consumes. Without setup that user is
told which table is missing; ``check`` names a missing grant; a consumer that lacks UPDATE on
``products`` pauses (nothing dead-lettered) and finishes once the grant is given.

Every test makes its own MariaDB user (unique name, random password) and drops it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers import ShopConsumer, make_applier
from shopbridge import cli, dlq, sample
from shopbridge import config as cfg
from shopbridge.owntables import OwnTable
from tests.conftest import MARIADB_URL, Database, config_data, fill_cao, shop_entry, unique
from tests.helpers import storefront, to_toml

DE = 2
PASSWORD_ENV = "SBTEST_DML_PASSWORD"


class User:
    """A MariaDB user of the test's own; ``grant`` runs as root."""

    def __init__(self, root: sa.Engine) -> None:
        self.root = root
        self.name = unique("sbtest_u")[:32]
        self.password = secrets.token_urlsafe(16)
        self.account = f"'{self.name}'@'%'"
        self._account = self.account.replace("%", "%%")   # the driver formats every statement
        self.execute(f"CREATE USER {self._account} IDENTIFIED BY %s", (self.password,))

    def execute(self, sql: str, params: Any = None) -> None:
        with self.root.begin() as conn:
            conn.exec_driver_sql(sql, params) if params else conn.exec_driver_sql(sql)

    def grant(self, privileges: str, on: str) -> None:
        self.execute(f"GRANT {privileges} ON {on} TO {self._account}")

    def grant_dml(self, db: Database, *, except_on: dict[str, str] | None = None) -> None:
        """DML on every table of ``db``: one database-level grant, or table by table where
        ``except_on`` (table -> privileges) narrows some tables."""
        if not except_on:
            self.grant("SELECT, INSERT, UPDATE, DELETE", f"`{db.name}`.*")
            return
        for (table,) in db.rows("SELECT TABLE_NAME FROM information_schema.TABLES "
                                "WHERE TABLE_SCHEMA = %s", (db.name,)):
            privileges = except_on.get(table, "SELECT, INSERT, UPDATE, DELETE")
            self.grant(privileges, f"`{db.name}`.`{table}`")

    def url(self, db: Database) -> str:
        return db.url.set(username=self.name, password=None).render_as_string(
            hide_password=False)


@pytest.fixture
def make_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], User]]:
    root = sa.create_engine(make_url(MARIADB_URL))
    made: list[User] = []

    def factory() -> User:
        user = User(root)
        made.append(user)
        monkeypatch.setenv(PASSWORD_ENV, user.password)
        return user

    yield factory
    for user in made:
        user.execute(f"DROP USER IF EXISTS {user._account}")
    root.dispose()


def _config(tmp_path: Any, namespace: str, cao: Database, shop: Database,
            user: User | None = None, name: str = "root") -> str:
    """A configuration file: as root, or as ``user`` (password from the environment)."""
    entry = shop_entry("web", shop)
    data = config_data(namespace, cao, [entry])
    if user is not None:
        data["tenants"][0]["erp"].update(url=user.url(cao), password_env=PASSWORD_ENV)
        entry.update(url=user.url(shop), password_env=PASSWORD_ENV)
    path = tmp_path / f"{name}.toml"
    path.write_text(to_toml(data))
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _last(err: str) -> str:
    """The command's closing line (log lines may come before it)."""
    return err.strip().splitlines()[-1]


def _problems(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("PROBLEM")]


def test_setup_as_root_then_dml_grants_are_enough_to_produce_consume_and_check(
        cao_db, phoenix_db, namespace, make_user, tmp_path, capsys):
    """Given setup run once as root, a user with SELECT/INSERT/UPDATE/DELETE only produces and
    consumes, and check finds nothing missing; a second setup finds everything up to date."""
    fill_cao(cao_db, sample.articles(3), [])
    user = make_user()
    user.grant_dml(cao_db)
    user.grant_dml(phoenix_db)
    root = _config(tmp_path, namespace, cao_db, phoenix_db)
    dml = _config(tmp_path, namespace, cao_db, phoenix_db, user, name="dml")

    code, out, err = _run(capsys, "-c", root, "setup")
    assert code == cli.EXIT_OK, err
    assert "shopbridge_snapshot created" in out and "shopbridge_order_import created" in out
    assert "shopbridge_link created" in out and "shopbridge_order_out created" in out
    assert out.splitlines()[-1].startswith("setup done")

    assert _run(capsys, "-c", dml, "produce")[0] == cli.EXIT_OK
    code, out, err = _run(capsys, "-c", dml, "consume", "--shop", "web", "--until-idle", "0.5")
    assert code == cli.EXIT_OK, err
    assert "3 applied" in out and "0 dead-lettered" in out
    assert len(storefront(phoenix_db, DE)) == 3
    code, out, _ = _run(capsys, "-c", dml, "check")
    assert (code, _problems(out)) == (cli.EXIT_OK, [])

    code, out, _ = _run(capsys, "-c", root, "setup")
    assert code == cli.EXIT_OK and "created" not in out and "up to date" in out


def test_setup_can_log_in_as_another_user_named_on_the_command_line(
        cao_db, phoenix_db, namespace, make_user, tmp_path, capsys, monkeypatch):
    """The services' configuration (DML user) with --db-user / --db-password-env: setup runs
    as the administrator without a second configuration file."""
    service, admin = make_user(), make_user()
    for db in (cao_db, phoenix_db):
        service.grant_dml(db)
        admin.grant("ALL PRIVILEGES", f"`{db.name}`.*")
    monkeypatch.setenv(PASSWORD_ENV, service.password)
    monkeypatch.setenv("SBTEST_ADMIN_PASSWORD", admin.password)
    dml = _config(tmp_path, namespace, cao_db, phoenix_db, service)

    code, out, err = _run(capsys, "-c", dml, "setup")
    assert code == cli.EXIT_CONFIG and "shopbridge_snapshot is missing" in _last(err)

    code, out, err = _run(capsys, "-c", dml, "setup", "--db-user", admin.name,
                          "--db-password-env", "SBTEST_ADMIN_PASSWORD")
    assert code == cli.EXIT_OK, err
    assert "shopbridge_link created" in out
    assert all(p not in out + err for p in (admin.password, service.password))


def test_without_setup_a_dml_only_user_is_told_which_table_is_missing(
        cao_db, phoenix_db, namespace, make_user, tmp_path, capsys):
    """No traceback, no 1142: one line naming the table and the setup command, exit 2; and
    check says the same before anything is started."""
    fill_cao(cao_db, sample.articles(2), [])
    user = make_user()
    user.grant_dml(cao_db)
    user.grant_dml(phoenix_db)
    dml = _config(tmp_path, namespace, cao_db, phoenix_db, user)

    code, out, err = _run(capsys, "-c", dml, "produce")
    assert code == cli.EXIT_CONFIG and "Traceback" not in err
    assert "table shopbridge_snapshot is missing" in _last(err)
    assert "run 'shopbridge setup' once" in _last(err)

    code, out, err = _run(capsys, "-c", dml, "consume", "--shop", "web", "--until-idle", "0.5")
    assert code == cli.EXIT_CONFIG and "Traceback" not in err
    assert "table shopbridge_link is missing" in _last(err)

    code, out, _ = _run(capsys, "-c", dml, "check")
    problems = "\n".join(_problems(out))
    assert code == cli.EXIT_PROBLEMS
    assert "tenant acme: tables shopbridge_snapshot, shopbridge_resync are missing and the " \
           "database user may not create them (produce needs them): run 'shopbridge setup'" \
        in problems, problems
    assert "shop web: tables shopbridge_link, shopbridge_history, shopbridge_special are " \
           "missing" in problems, problems


def test_setup_upgrades_an_own_table_a_dml_only_user_cannot(
        cao_db, phoenix_db, namespace, make_user, tmp_path, capsys):
    """A link table from before the `shown` column: the DML-only consumer names the column
    and stops; setup (root) adds it; then the consumer runs."""
    from consumers.binder import DDL

    root = _config(tmp_path, namespace, cao_db, phoenix_db)
    assert _run(capsys, "-c", root, "setup")[0] == cli.EXIT_OK
    phoenix_db.execute("DROP TABLE shopbridge_link")
    phoenix_db.execute(DDL.replace("  shown TINYINT NULL,\n", ""))
    user = make_user()
    user.grant_dml(phoenix_db)
    dml = _config(tmp_path, namespace, cao_db, phoenix_db, user, name="dml")

    code, _, err = _run(capsys, "-c", dml, "consume", "--shop", "web", "--until-idle", "0.2")
    assert code == cli.EXIT_CONFIG
    assert "table shopbridge_link lacks column(s) shown" in _last(err)
    assert "may not alter it" in _last(err)

    code, out, _ = _run(capsys, "-c", root, "setup", "--shop", "web")
    assert code == cli.EXIT_OK and "shopbridge_link: added column(s) shown" in out
    code, _, err = _run(capsys, "-c", dml, "consume", "--shop", "web", "--until-idle", "0.2")
    assert code == cli.EXIT_OK, err


def test_check_names_a_missing_grant(cao_db, phoenix_db, namespace, make_user, tmp_path,
                                     capsys):
    """Everything set up, but the shop user may not UPDATE products: one PROBLEM line names
    the privilege, the table, the service and the GRANT that fixes it."""
    fill_cao(cao_db, sample.articles(2), [])
    assert _run(capsys, "-c", _config(tmp_path, namespace, cao_db, phoenix_db), "setup")[0] == 0
    user = make_user()
    user.grant_dml(cao_db)
    user.grant_dml(phoenix_db, except_on={"products": "SELECT, INSERT, DELETE"})

    code, out, _ = _run(capsys, "-c", _config(tmp_path, namespace, cao_db, phoenix_db, user),
                        "check")

    assert code == cli.EXIT_PROBLEMS
    assert _problems(out) == [
        f"PROBLEM  shop web: database user {user.account} lacks UPDATE on products "
        f"(consume --shop web needs it): GRANT UPDATE ON `{phoenix_db.name}`.`products` "
        f"TO {user.account}"]


def test_check_names_what_the_order_import_lacks_in_cao(cao_db, phoenix_db, namespace,
                                                        make_user, tmp_path, capsys):
    """A shop that imports orders: the CAO user's grants for consume --erp (writes into
    JOURNAL, its own table) and orders produce (the shop's published-orders table)."""
    from tests.integration.test_check_orders import ORDERS, add_order, erp

    erp(cao_db)
    add_order(phoenix_db)
    user = make_user()
    user.grant_dml(cao_db, except_on={"journal": "SELECT, INSERT"})
    user.grant_dml(phoenix_db)
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db, orders=ORDERS)])
    entry = data["tenants"][0]["shops"][0]
    data["tenants"][0]["erp"].update(url=user.url(cao_db), password_env=PASSWORD_ENV)
    entry.update(url=user.url(phoenix_db), password_env=PASSWORD_ENV)
    path = tmp_path / "dml.toml"
    path.write_text(to_toml(data))

    code, out, _ = _run(capsys, "-c", str(path), "check")

    problems = _problems(out)
    assert code == cli.EXIT_PROBLEMS
    assert (f"PROBLEM  shop web: CAO database: database user {user.account} lacks DELETE on "
            f"journal (consume --erp needs it): GRANT DELETE ON `{cao_db.name}`.`journal` TO "
            f"{user.account}") in problems
    assert any("table shopbridge_order_import is missing" in p for p in problems)
    assert any("tables shopbridge_order_out, shopbridge_customer_out are missing" in p and
               "orders produce --shop web"
               in p for p in problems)


def test_a_consumer_without_update_on_products_pauses_and_finishes_once_granted(
        cao_db, phoenix_db, namespace, make_user, tmp_path, capsys, caplog):
    """A missing grant is not the events' fault: the consumer holds the batch, says once which
    grant is missing, and applies it when the grant arrives; nothing is dead-lettered."""
    fill_cao(cao_db, sample.articles(3), [])
    root = _config(tmp_path, namespace, cao_db, phoenix_db)
    assert _run(capsys, "-c", root, "setup")[0] == 0
    assert _run(capsys, "-c", root, "produce")[0] == 0
    assert _run(capsys, "-c", root, "consume", "--shop", "web", "--until-idle", "0.5")[0] == 0
    cao_db.execute("UPDATE artikel SET VK1 = 42.5000")
    assert _run(capsys, "-c", root, "produce")[0] == 0

    user = make_user()
    user.grant_dml(phoenix_db, except_on={"products": "SELECT, INSERT, DELETE"})
    settings = cfg.load(_config(tmp_path, namespace, cao_db, phoenix_db, user, name="dml"))
    shop = settings.tenants[0].shop("web")
    applier = make_applier(shop)
    consumer = ShopConsumer(broker=settings.broker, shop=shop, applier=applier)
    logging.getLogger().addHandler(caplog.handler)    # cli.main replaced the root handlers
    caplog.set_level(logging.INFO, logger="consumers.runner")
    thread = threading.Thread(target=consumer.run, kwargs={"idle_exit_s": 0.5}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while consumer.stats.outage_pauses < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert consumer.stats.outage_pauses >= 3, "the consumer did not pause"
        assert consumer.stats.dead == 0 and consumer.stats.retried == 0

        user.grant("UPDATE", f"`{phoenix_db.name}`.`products`")
        thread.join(timeout=30)
        assert not thread.is_alive(), "the consumer did not finish after the grant"
    finally:
        consumer.stop_event.set()
        thread.join(timeout=10)
        applier.close()

    assert (consumer.stats.dead, consumer.stats.retried) == (0, 0)
    assert {row[1] for row in storefront(phoenix_db, DE).values()} == {Decimal("42.5000")}
    assert dlq.list_dead(settings.broker, settings.tenants[0].shop("web")) == []
    pauses = [r.getMessage() for r in caplog.records if r.getMessage().startswith("paused")]
    assert len(pauses) == 1, pauses
    assert f"a grant is missing: UPDATE on `{phoenix_db.name}`.`products`" in pauses[0]


def test_each_own_table_has_the_columns_its_ddl_declares(make_db):
    """What ``ensure`` and ``check`` compare (OwnTable.columns, read from the DDL) is what the
    server creates, for every own table."""
    from consumers.binder import TABLE as LINKS
    from consumers.cao.importer import TABLE as IMPORTS
    from consumers.imagefiles import OWN_TABLE as IMAGES
    from consumers.mailer import TABLE as OUTBOX
    from consumers.oscommerce.specials import TABLE as SPECIALS
    from producers.cao.snapshot import TABLE as SNAPSHOT
    from producers.cao.variants import TABLE as VARIANTS
    from producers.oscommerce import customers, orders

    own: list[OwnTable] = [LINKS, IMPORTS, IMAGES, OUTBOX, SPECIALS, SNAPSHOT, VARIANTS,
                           orders.PUBLISHED.own, customers.PUBLISHED.own]
    db = make_db("own")
    for table in own:
        db.execute(table.ddl)
        created = [r[0] for r in db.rows(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (db.name, table.name))]
        assert list(table.columns) == created, table.name
