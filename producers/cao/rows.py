"""Rows of the sources' textual queries, as plain dicts by column name."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Result


def dicts(result: Result[Any]) -> list[dict[str, Any]]:
    """Every row of ``result`` as a dict (mutable: a source may add its own keys)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]  # 1/3 of dict(RowMapping)


def grouped_by(result: Result[Any], column: str) -> dict[int, list[dict[str, Any]]]:
    """The rows of ``result`` by the integer in ``column``, each group in query order."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in dicts(result):
        groups.setdefault(int(row[column]), []).append(row)
    return groups

