"""A merchant's own system can subscribe: a consumer written with pika alone (no shopbridge
import, see outside_consumer.py) reads a shop's events from a queue of its own, knowing only
``schemas/`` and the topology documented in docs/architecture.md, validates every event and
acknowledges it. The events are real: a CAO producer cycle publishes them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import quote

from kombu import Connection

from shopbridge import events as ev
from shopbridge import sample, topology
from shopbridge.publisher import OutMessage, Publisher
from tests.conftest import AMQP_URL, CAO_NAMES, REPO, fill_cao, settings_for, shop_entry, unique
from tests.contract import outside_consumer
from tests.helpers import produce

SCRIPT = Path(outside_consumer.__file__)
# What the outside program may import: the standard library's few, pika, jsonschema (and
# referencing, the registry jsonschema resolves $refs through).
ALLOWED_IMPORTS = {"__future__", "argparse", "collections", "json", "os", "pathlib", "sys",
                   "typing", "pika", "jsonschema", "referencing"}
CAO_CATALOGUE_NAMES = {**CAO_NAMES, "ARTIKEL_KAT": "artikel_kat",
                       "ARTIKEL_TO_KAT": "artikel_to_kat", "HERSTELLER": "hersteller",
                       "HERSTELLER_INFO": "hersteller_info", "ARTIKEL_PREIS": "artikel_preis"}


def _pika_url() -> str:
    """The test broker's URL as pika reads it (password and vhost spelled out)."""
    with Connection(AMQP_URL) as conn:
        info = conn.info()
    return (f"amqp://{quote(info['userid'], safe='')}:{quote(info['password'], safe='')}@"
            f"{info['hostname']}:{info['port']}/{quote(info['virtual_host'], safe='')}")


def _outside(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the outside program in a process where shopbridge cannot be imported at all."""
    blocked = tmp_path / "blocked"
    for package in ("shopbridge", "producers", "consumers"):
        (blocked / package).mkdir(parents=True, exist_ok=True)
        (blocked / package / "__init__.py").write_text(
            f"raise ImportError('an outside program must not import {package}')\n")
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=tmp_path,
                          env={"PYTHONPATH": str(blocked), "PATH": "/usr/bin:/bin",
                               "AMQP_URL": _pika_url()},
                          capture_output=True, text=True, timeout=120)


def _status_changed(shop: str, order_id: int) -> dict:
    return ev.make_event("order.status_changed", tenant="acme", source="cao:test",
                         entity_key=f"{shop}:{order_id}", version=1,
                         payload={"shop": shop, "order_id": order_id, "status_id": 3,
                                  "carrier": "DHL", "tracking_code": "00340434", "notify": True})


def test_the_outside_program_imports_nothing_of_shopbridge():
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS


def test_the_documented_routing_keys_are_the_ones_a_shop_queue_is_bound_with():
    """The outside program binds by what docs/architecture.md says; the docs say what
    topology.py does."""
    assert outside_consumer.shop_bindings("acme", "web") == topology.shop_bindings("acme", "web")
    docs = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for key in topology.shop_bindings("<tenant>", "<shop>"):
        assert f"`{key}`" in docs, key


def test_a_pika_only_consumer_reads_validates_and_acknowledges_a_shops_events(
        cao_db, namespace, tmp_path):
    """Given a shop's topology and an outside program's own queue bound by the documented
    routing keys, when a CAO producer cycle publishes the catalogue (packed several events per
    message) and two order status changes go to two shops, the program receives every event
    of its shop, all valid against schemas/, and acknowledges every message; the shop's own
    work queue still receives its copy."""
    rows = sample.articles(12, shop_ids=(1,))
    fill_cao(cao_db, rows, sample.translations(rows[:3]))
    with cao_db.engine.begin() as conn:
        sample.cao_catalogue(conn, CAO_CATALOGUE_NAMES, rows, specials=[], today=date.today())
    # No shopbridge consumer runs here: the shop's database is named for the configuration only.
    settings = settings_for(namespace, cao_db, [shop_entry("web", cao_db)], pack_size=5)
    queue = unique("merchant-erp")
    work = topology.work_queue(namespace, "acme", "web")
    try:
        bound = _outside(tmp_path, "bind", "--namespace", namespace,
                         "--tenant", "acme", "--shop", "web", "--queue", queue)
        assert bound.returncode == 0, bound.stderr

        report = produce(settings)           # declares the shop's topology and publishes
        with Connection(AMQP_URL) as conn:
            Publisher(conn).publish(
                OutMessage(exchange=namespace, body=json.dumps(_status_changed(s, 7)).encode(),
                           routing_key=topology.routing_key("acme", "order.status_changed", s))
                for s in ("web", "other"))  # one event alone in a body, as the contract allows
        consumed = _outside(tmp_path, "consume", "--queue", queue,
                            "--schemas", str(REPO / "schemas"))

        with Connection(AMQP_URL) as conn:
            channel = conn.channel()
            left = channel.queue_declare(queue, passive=True).message_count
            in_work = channel.queue_declare(work, passive=True).message_count
    finally:
        with Connection(AMQP_URL) as conn:
            conn.channel().queue_delete(queue)

    assert consumed.returncode == 0, consumed.stdout + consumed.stderr
    summary = json.loads(consumed.stdout.strip().splitlines()[-1])
    assert summary["invalid"] == []
    assert {"product.upserted", "category.upserted", "manufacturer.upserted"} <= \
        set(report.published)
    assert summary["events"] == {**report.published, "order.status_changed": 1}
    assert summary["messages"] == report.messages + 1
    assert summary["lists"] == report.messages and report.messages < report.events
    assert left == 0                          # every message acknowledged
    assert in_work == report.messages + 1     # shopbridge's own consumer loses nothing
