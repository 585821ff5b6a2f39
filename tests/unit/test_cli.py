"""CLI conventions: ``--version`` from the package metadata, help text for every command and
option without internal feature IDs, exit codes documented in the help."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from shopbridge import cli

# Feature IDs of the product brief (O3, C9, P6, ...) and design-note references mean nothing
# to a user reading --help.
INTERNAL_ID = re.compile(r"\b(?:[BCKOPR]\d{1,2}|DESIGN \d+|NOTES \d+)\b")


def _parsers(parser: argparse.ArgumentParser, path: str = "shopbridge"
             ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_version_is_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])

    assert exited.value.code == cli.EXIT_OK
    assert capsys.readouterr().out.strip() == f"shopbridge {version('shopbridge')}"


def test_every_command_and_option_has_help_without_internal_ids():
    missing, internal = [], []
    for path, parser in _parsers(cli._parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                missing += [f"{path} {name}" for name in action.choices if not helps.get(name)]
                internal += [f"{path} {n}: {h}" for n, h in helps.items()
                             if h and INTERNAL_ID.search(h)]
                continue
            name = f"{path} {'/'.join(action.option_strings) or action.dest}"
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(name)
            elif INTERNAL_ID.search(action.help):
                internal.append(f"{name}: {action.help}")
        for text in (parser.description, parser.epilog):
            if text and INTERNAL_ID.search(text):
                internal.append(f"{path}: {text}")

    assert missing == []
    assert internal == []


def test_the_help_documents_the_exit_codes():
    helps = dict(_parsers(cli._parser()))

    top = helps["shopbridge"].format_help()
    for code in (cli.EXIT_OK, cli.EXIT_PROBLEMS, cli.EXIT_CONFIG, cli.EXIT_BROKER,
                 cli.EXIT_DATABASE):
        assert re.search(rf"^\s+{code}\s+\S", top, re.MULTILINE), top
    consume = " ".join(helps["shopbridge consume"].format_help().split())
    assert "0 nothing dead-lettered, 1 some events dead-lettered" in consume


def test_json_log_lines_carry_the_bound_fields(capsys):
    import logging

    import orjson

    from shopbridge import logs

    logs.setup("INFO", "json")
    try:
        with logs.bound(tenant="acme", shop="web"), logs.bound(
                event_type="product.upserted", entity_key="4711", event_id="e-1", attempt=2):
            logging.getLogger("consumers.runner").warning("dead-lettered: %s", "why")
    finally:
        logs.setup("INFO")
    line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "dead-lettered: why" and line["level"] == "WARNING"
    assert {k: line[k] for k in ("tenant", "shop", "event_type", "entity_key", "event_id",
                                 "attempt")} == {
        "tenant": "acme", "shop": "web", "event_type": "product.upserted",
        "entity_key": "4711", "event_id": "e-1", "attempt": 2}


def test_the_grafana_dashboard_reads_only_metrics_the_services_export():
    """docs/grafana-dashboard.json is built from shopbridge/metrics.py's families."""
    import json
    import re
    from pathlib import Path

    from shopbridge import metrics

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" /
                            "grafana-dashboard.json").read_text())
    exported = {m.name for family in (metrics.EVENTS, metrics.LAG, metrics.LAST_LAG,
                                      metrics.LAST_APPLIED, metrics.QUEUE_DEPTH,
                                      metrics.BATCH_EVENTS, metrics.BATCH_DB_SECONDS)
                for m in family.describe()}
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"shopbridge_[a-z_]+", target["expr"])}
    assert used
    for name in used:
        assert re.sub(r"_(total|bucket|sum|count)$", "", name) in exported, name
