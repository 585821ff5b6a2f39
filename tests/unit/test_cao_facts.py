"""CAO's shared facts (systems/cao/): one table-name rule for every reader, one home that
producers and consumers import instead of each other."""

from __future__ import annotations

import ast
from pathlib import Path

from shopbridge.config import DatabaseConfig, ErpConfig
from shopbridge.db import TableNames
from systems.cao import DEFAULT_VAT, REGISTRY_NAMES, candidates, resolve

ROOT = Path(__file__).resolve().parents[2]


def _erp(registry_table: str | None = None) -> ErpConfig:
    return ErpConfig(kind="cao", db=DatabaseConfig("mysql://u@h/cao"),
                     registry_table=registry_table)


def test_the_registry_is_registry_or_registery_unless_the_operator_names_it():
    assert candidates("REGISTRY", _erp()) == REGISTRY_NAMES == ("REGISTRY", "REGISTERY")
    assert candidates("REGISTRY", _erp("MY_REG")) == ("MY_REG",)
    assert candidates("JOURNAL", _erp("MY_REG")) == ("JOURNAL",)


def test_resolve_finds_each_table_whatever_its_case_and_names_what_it_looked_for():
    names = TableNames(["artikel", "REGISTERY", "journal", "JOURNAL"])
    found, missing = resolve(names, ("ARTIKEL", "REGISTRY", "JOURNAL", "LAND"), _erp())
    assert found == {"ARTIKEL": "artikel", "REGISTRY": "REGISTERY", "JOURNAL": "JOURNAL"}
    assert missing == {"LAND": ("LAND",)}
    found, missing = resolve(names, ("REGISTRY",), _erp("MY_REG"))
    assert (found, missing) == ({}, {"REGISTRY": ("MY_REG",)})


def test_cao_default_vat_rates_are_those_of_cao_itself():
    assert {code: str(rate) for code, rate in DEFAULT_VAT.items()} == {
        0: "0", 1: "7", 2: "19", 3: "0"}


def _imported(folder: Path) -> set[str]:
    """Every module a file under ``folder`` imports, lazily inside a function too."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


def _under(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


def test_the_cao_producers_and_the_cao_importer_share_facts_not_each_other():
    assert not _under(_imported(ROOT / "consumers" / "cao"), "producers")
    assert not _under(_imported(ROOT / "producers" / "cao"), "consumers")
    facts = _imported(ROOT / "systems")
    assert not _under(facts, "producers") | _under(facts, "consumers")
