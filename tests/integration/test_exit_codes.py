"""The README's exit codes hold for every command: with the broker and with the databases each
unreachable (a closed port) and each refusing a wrong password (the real servers), a command
that needs that server ends with one stderr line naming it (password masked) and the cause,
exit 3 (broker) or 4 (database), quickly and without a traceback; a command that does not need
it is not disturbed."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from kombu import Connection

from shopbridge import cli, sample, topology
from shopbridge import config as cfg
from tests.conftest import (
    AMQP_URL,
    CAO_NAMES,
    CAO_SQL,
    MARIADB_URL,
    PHOENIX_SQL,
    REPO,
    require_reference,
    unique,
)
from tests.helpers import to_toml

BROKER, DATABASE = "broker", "database"
CASES = ("broker-unreachable", "broker-wrong-password", "database-unreachable",
         "database-wrong-password")
# Every command in its one-shot form, and the servers it needs.
COMMANDS: dict[str, tuple[list[str], set[str]]] = {
    "check": (["check"], {BROKER, DATABASE}),
    "produce": (["produce"], {BROKER, DATABASE}),
    "consume-shop": (["consume", "--shop", "web", "--until-idle", "0.5"], {BROKER, DATABASE}),
    "consume-erp": (["consume", "--erp", "--until-idle", "0.5"], {BROKER, DATABASE}),
    "dlq-list": (["dlq", "list", "--shop", "web"], {BROKER}),
    "dlq-replay": (["dlq", "replay", "--shop", "web"], {BROKER}),
    "dlq-export": (["dlq", "export", "--shop", "web"], {BROKER}),
    "dlq-purge": (["dlq", "purge", "--shop", "web", "--yes"], {BROKER}),
    "status": (["status"], {BROKER, DATABASE}),
    "erp-indexes": (["erp-indexes"], {DATABASE}),
    "drift": (["drift", "--shop", "web"], {DATABASE}),     # no broker without --repair
    "capture": (["capture"], {DATABASE}),
    "orders-count": (["orders", "count", "--shop", "web"], {DATABASE}),
    "orders-produce": (["orders", "produce", "--shop", "web"], {BROKER, DATABASE}),
    "orders-import": (["orders", "import", "--shop", "web"], {BROKER, DATABASE}),
    "demo": ([], {BROKER, DATABASE}),     # its servers come as options, not from the file
}
SECRET = "wrong-" + secrets.token_hex(8)
SLOW_S = 8.0   # far below the 13 s of kombu's default retries; a refused port takes ~1 s


def _closed_port() -> int:
    """A port nothing listens on: bound once by the OS, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_port(url: str, port: int) -> str:
    """The same URL, pointing at another port of its host."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    """A CAO and a Phoenix database from the upstream SQL, and a broker namespace."""
    cao_sql, phoenix_sql = require_reference(CAO_SQL), require_reference(PHOENIX_SQL)
    cao, shop = unique("sbtest_exit_cao"), unique("sbtest_exit_shop")
    namespace = unique("sbtest-exit").replace("_", "-")
    try:
        cao_url = sample.create_database(MARIADB_URL, cao, charset="latin1")
        sample.run_sql_file(cao_url, cao_sql)
        shop_url = sample.create_database(MARIADB_URL, shop)
        sample.run_sql_file(shop_url, phoenix_sql)
        for url, fill in ((cao_url, lambda c: sample.cao_reference_data(c, CAO_NAMES)),
                          (shop_url, sample.phoenix_reference_data)):
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                fill(conn)
            engine.dispose()
        yield {"cao": cao_url.render_as_string(hide_password=False),
               "shop": shop_url.render_as_string(hide_password=False),
               "namespace": namespace}
    finally:
        sample.drop_database(MARIADB_URL, cao)
        sample.drop_database(MARIADB_URL, shop)
        _delete_topology(namespace)


def _delete_topology(namespace: str) -> None:
    """The queues the child processes may have declared (they are not recorded here)."""
    broker = cfg.BrokerConfig(url=AMQP_URL, namespace=namespace)
    targets = [topology.Target("acme", "web", ()), topology.Target.for_erp("acme")]
    with Connection(AMQP_URL) as conn:
        channel = conn.default_channel
        for target in targets:
            for queue in topology.target_queues(broker, target):
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue.name)
        with contextlib.suppress(Exception):
            channel.exchange_delete(namespace)


def _setup(case: str, servers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The configuration, environment and demo options of one failure case."""
    broker: dict[str, Any] = {"url": AMQP_URL, "namespace": servers["namespace"]}
    cao, shop = {"url": servers["cao"]}, {"url": servers["shop"]}
    env: dict[str, str] = {}
    demo_db, demo_amqp = MARIADB_URL, AMQP_URL
    if case == "broker-unreachable":
        broker["url"] = demo_amqp = _with_port(AMQP_URL, _closed_port())
        demo_db = _with_port(MARIADB_URL, _closed_port())   # proves the broker comes first
    elif case == "broker-wrong-password":
        broker["password_env"] = "SB_TEST_BROKER_PW"
        env["SB_TEST_BROKER_PW"] = SECRET
        demo_amqp = AMQP_URL.replace("guest@", f"guest:{SECRET}@")
        demo_db = _with_port(MARIADB_URL, _closed_port())
    elif case == "database-unreachable":
        port = _closed_port()
        cao["url"], shop["url"] = _with_port(cao["url"], port), _with_port(shop["url"], port)
        demo_db = _with_port(MARIADB_URL, port)
    else:
        cao["password_env"] = shop["password_env"] = "SB_TEST_DB_PW"
        env["SB_TEST_DB_PW"] = SECRET
        demo_db = MARIADB_URL.replace("root@", f"root:{SECRET}@")
    data = {
        "broker": broker,
        "tenants": [{"name": "acme", "erp": {"kind": "cao", **cao}, "shops": [{
            "name": "web", "kind": "oscommerce", **shop, "languages": ["de", "en"],
            "price_level": 1, "tax_classes": {"1": 2, "2": 1}, "filter": {"cao_shop_id": 1},
        }]}],
    }
    # RabbitMQ or nothing: "auto" would fall back to the embedded broker (test_demo).
    return data, env, ["--db-url", demo_db, "--amqp-url", demo_amqp, "--broker", "rabbitmq"]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    seconds: float


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> Outcome:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "shopbridge", *argv], cwd=cwd, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), **env})
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def outcomes(servers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
             ) -> Callable[[str], dict[str, Outcome]]:
    """Per case, every command run once, all at the same time (the waits overlap)."""
    done: dict[str, dict[str, Outcome]] = {}

    def of(case: str) -> dict[str, Outcome]:
        if case not in done:
            tmp = tmp_path_factory.mktemp(case)
            data, env, demo_options = _setup(case, servers)
            config = tmp / "shopbridge.toml"
            config.write_text(to_toml(data), encoding="utf-8")
            argvs = {name: ["demo", *demo_options] if name == "demo" else
                     ["-c", str(config), *args] for name, (args, _) in COMMANDS.items()}
            # Several at once so the waits overlap, not all: 16 Python start-ups on two cores
            # would make each command look slow.
            with ThreadPoolExecutor(max_workers=min(len(argvs), 6)) as pool:
                futures = {name: pool.submit(_run, argv, env, tmp)
                           for name, argv in argvs.items()}
                done[case] = {name: future.result() for name, future in futures.items()}
        return done[case]

    return of


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", CASES)
def test_exit_code_and_one_line_when_a_server_is_down_or_refuses_the_login(
        case, command, outcomes):
    result = outcomes(case)[command]

    server = case.split("-")[0]
    needs = COMMANDS[command][1]
    expected = ({BROKER: cli.EXIT_BROKER, DATABASE: cli.EXIT_DATABASE}[server]
                if server in needs else cli.EXIT_OK)
    output = result.out + result.err
    assert "Traceback" not in output, result.err
    assert SECRET not in output
    assert result.code == expected, f"exit {result.code}, expected {expected}:\n{output}"
    assert result.seconds < SLOW_S
    if expected == cli.EXIT_OK:
        return
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    if server == BROKER:
        assert line.startswith("broker unavailable: amqp://guest"), line
        assert "127.0.0.1:" in line
        assert ("Connection refused" in line) if case.endswith("unreachable") else \
            ("login refused" in line and re.search(r"guest:\*+@", line)), line
    else:
        assert line.startswith("database unavailable: "), line
        assert "127.0.0.1:" in line, line
        assert ("MySQL error 2003" in line) if case.endswith("unreachable") else \
            ("MySQL error 1045" in line and ":***@" in line), line
