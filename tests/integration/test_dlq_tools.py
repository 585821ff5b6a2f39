"""The operator's dead-letter tools (P6): ``dlq show``, ``export``, ``replay`` and ``purge``
select letters by type, key, error text and time; replay leaves letters a newer applied
version supersedes (and says how many); purge removes only what was confirmed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from shopbridge import cli, dlq
from shopbridge import config as cfg
from tests.conftest import config_data, shop_entry
from tests.helpers import TAX_OK, TAX_UNMAPPED, consume, product_event, publish_events, to_toml

UNMAPPED, MAPPED = TAX_UNMAPPED, TAX_OK
# R4's tools on both broker kinds (B5).
pytestmark = pytest.mark.usefixtures("broker_kind")


def _event(key: int, version: int, tax: dict[str, Any] = TAX_OK) -> dict[str, Any]:
    return product_event(key, version, tax, sku_prefix="D")


def _publish(settings: cfg.Settings, events: list[dict[str, Any]]) -> None:
    publish_events(settings, events)


@pytest.fixture
def dead(cao_db, phoenix_db, namespace, tmp_path) -> dict[str, Any]:
    """Three dead letters in shop "web" (keys 1, 2, 3, each v1 with an unmapped tax code),
    then key 1 applied at v2: its letter is superseded, the others are current."""
    path = tmp_path / "shopbridge.toml"
    data = config_data(namespace, cao_db, [shop_entry("web", phoenix_db)])
    path.write_text(to_toml(data))
    settings = cfg.load(path)
    consume(settings, "web", idle_s=0.1)               # declares the queues
    _publish(settings, [_event(key, 1, UNMAPPED) for key in (1, 2, 3)])
    assert consume(settings, "web", idle_s=0.3).dead == 3
    _publish(settings, [_event(1, 2, MAPPED)])
    assert consume(settings, "web", idle_s=0.3).applied == 1
    return {"path": path, "data": data, "settings": settings,
            "shop": settings.tenants[0].shop("web"), "db": phoenix_db}


def _run(dead: dict[str, Any], *args: str) -> int:
    return cli.main(["-c", str(dead["path"]), "dlq", *args, "--shop", "web"])


def _keys(dead: dict[str, Any]) -> list[str]:
    return sorted(d.entity_key for d in dlq.list_dead(dead["settings"].broker, dead["shop"]))


def test_replay_skips_a_superseded_letter_and_applies_a_current_one(dead, capsys):
    assert _run(dead, "replay", "--key", "1") == cli.EXIT_OK
    assert "replayed 0 dead letter(s)" in capsys.readouterr().out

    dead["data"]["tenants"][0]["shops"][0]["tax_classes"]["3"] = 1    # the operator's fix
    dead["path"].write_text(to_toml(dead["data"]))
    assert _run(dead, "replay") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "replayed 2 dead letter(s)" in out
    assert "1 skipped: superseded by a newer applied version" in out
    stats = consume(cfg.load(dead["path"]), "web", idle_s=0.3)

    assert (stats.applied, stats.dead) == (2, 0)
    assert _keys(dead) == ["1"]                       # the superseded one stays, for purge
    models = {r[0] for r in dead["db"].rows("SELECT products_model FROM products")}
    assert models == {"D-1", "D-2", "D-3"}


def test_filters_select_by_type_key_error_text_and_time(dead, capsys):
    broker, shop = dead["settings"].broker, dead["shop"]

    def keys(**selection: Any) -> list[str]:
        return sorted(d.entity_key for d in dlq.list_dead(broker, shop, dlq.Filter(**selection)))

    assert keys() == ["1", "2", "3"]
    assert keys(entity_key="2") == ["2"]
    assert keys(event_type="stock.changed") == []
    assert keys(error="CAO TAX CODE 3") == ["1", "2", "3"]      # case-insensitive
    assert keys(error="no such text") == []
    assert keys(since=cli.dlq_cli.moment("1h")) == ["1", "2", "3"]
    assert keys(until=cli.dlq_cli.moment("2000-01-01")) == []

    assert _run(dead, "list", "--error", "tax code", "--since", "10m") == cli.EXIT_OK
    assert "3 dead letter(s) in acme/web" in capsys.readouterr().out


def test_show_prints_one_letter_with_its_event_error_and_attempts(dead, capsys):
    letter = next(d for d in dlq.list_dead(dead["settings"].broker, dead["shop"])
                  if d.entity_key == "2")
    assert _run(dead, "show", letter.event_id) == cli.EXIT_OK
    out = capsys.readouterr().out
    for text in (letter.event_id, "MappingError", "attempts: 1", "first_failure",
                 "last_failure", '"sku": "D-2"'):
        assert text in out
    assert _run(dead, "show", "no-such-id") == cli.EXIT_PROBLEMS


def test_export_writes_the_selected_letters_as_json_lines_and_keeps_them(dead, tmp_path: Path):
    out = tmp_path / "dead.jsonl"
    assert _run(dead, "export", "--key", "3", "-o", str(out)) == cli.EXIT_OK
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]

    assert [(x["entity_key"], x["error_class"]) for x in lines] == [("3", "MappingError")]
    assert lines[0]["event"]["payload"]["sku"] == "D-3"
    assert _keys(dead) == ["1", "2", "3"]


def test_purge_removes_only_the_confirmed_letters(dead, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))    # not a terminal: --yes is needed
    assert _run(dead, "purge", "--key", "2") == cli.EXIT_CONFIG
    assert "--yes" in capsys.readouterr().err
    assert _keys(dead) == ["1", "2", "3"]

    assert _run(dead, "purge", "--key", "2", "--yes") == cli.EXIT_OK
    assert "purged 1 dead letter(s)" in capsys.readouterr().out
    assert _keys(dead) == ["1", "3"]


def test_purge_asks_on_a_terminal_and_does_nothing_without_yes(dead, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert _run(dead, "purge") == cli.EXIT_OK
    assert "not confirmed" in capsys.readouterr().out
    assert _keys(dead) == ["1", "2", "3"]
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert _run(dead, "purge", "--error", "tax") == cli.EXIT_OK
    assert _keys(dead) == []


@pytest.mark.parametrize("broker_kind", ["rabbitmq"], indirect=True)  # never reaches a broker
def test_the_erp_judges_an_imported_order_superseded_and_a_new_one_current(erp, namespace):
    """``dlq replay --erp`` leaves a dead letter of an order CAO has completely: replaying it
    would only find it "already imported"."""
    from tests.conftest import add_cao_articles
    from tests.integration.test_order_import import applier_for, order, settings

    add_cao_articles(erp)
    applier = applier_for(settings(namespace, erp), erp)
    imported, new = order(17), order(18)
    assert applier.apply([imported]).applied == 1

    assert applier.superseded([imported, new]) == [imported.event_id]
    assert applier.superseded([]) == []


def test_status_shows_waiting_dead_and_the_last_applied_event(dead, capsys):
    assert cli.main(["-c", str(dead["path"]), "status"]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TARGET", "WAITING", "DEAD", "LAST", "APPLIED", "AGO", "NOTE"]
    web = next(line for line in lines if line.startswith("acme/web "))
    assert web.split()[1:3] == ["0", "3"]
    assert "product 1 (event " in web                 # key 1 v2 was the last one applied
    erp = next(line for line in lines if line.startswith("acme/erp "))
    assert "no consumer has run yet" in erp
