"""The fast yes/no schema check agrees with fastjsonschema on every schema file.

Instances are drawn from the schema files themselves (a small schema-to-hypothesis generator:
regex patterns via ``from_regex``), then broken at a random place; the fast check must say
"valid" exactly when fastjsonschema does. "Valid" from the fast check alone would let a bad
event through, so this is the test that keeps the shortcut honest.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbridge import schemas
from shopbridge.schemacheck import Unsupported, compile_check

_DOLLAR = re.compile(r"(?<!\\)\$")


def instances(schema: Any, root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid-looking instances of ``schema`` (enough for differential testing, not a spec)."""
    if schema is True or schema == {}:
        return st.one_of(st.none(), st.integers(), st.text(max_size=5))
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return instances(target, root, depth + 1)
    if "allOf" in schema:   # the files use allOf for the envelope + a $ref'd decimal
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in schema["allOf"]:
            merged = _merge(sub, merged)
        return instances(merged, root, depth + 1)
    if "anyOf" in schema:
        return st.one_of([instances(s, root, depth + 1) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", "object")
    types = [types] if isinstance(types, str) else types
    return st.one_of([_typed(t, schema, root, depth) for t in types])


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, **{k: v for k, v in b.items() if k not in ("properties", "required")}}
    out["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
    out["required"] = list(dict.fromkeys([*a.get("required", []), *b.get("required", [])]))
    return out


def _typed(kind: str, schema: dict[str, Any], root: dict[str, Any], depth: int
           ) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        return st.integers(min_value=schema.get("minimum", -10**6),
                           max_value=schema.get("maximum", 10**6))
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(_DOLLAR.sub(r"\\Z", schema["pattern"]), fullmatch=True)
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=min(schema.get("maxLength", 12), low + 12))
    if kind == "array":
        return st.lists(instances(schema.get("items", True), root, depth + 1),
                        min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 3), 3) if depth < 6 else 0)
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    fixed = {k: instances(properties.get(k, True), root, depth + 1) for k in required}
    optional = {k: instances(s, root, depth + 1) for k, s in properties.items()
                if k not in required}
    base = st.fixed_dictionaries(fixed, optional=optional)
    extra = schema.get("additionalProperties", True)
    if isinstance(extra, dict) and depth < 6:
        names = schema.get("propertyNames", {})
        keys = instances({"type": "string", **names}, root, depth + 1)
        more = st.dictionaries(keys, instances(extra, root, depth + 1),
                               min_size=schema.get("minProperties", 0), max_size=3)
        return st.builds(lambda b, m: {**m, **b}, base, more)
    return base


BROKEN = [None, True, 0, -1, 2**70, 2.5, "", "x" * 300, "10,00", "12\n", [], [1], {},
          {"unexpected": 1}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _break(value: Any, path: tuple[Any, ...], how: int) -> Any:
    broken = copy.deepcopy(value)
    if not path:
        return BROKEN[how % len(BROKEN)]
    parent = broken
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == len(BROKEN) and isinstance(parent, dict):
        del parent[last]
    elif how == len(BROKEN) + 1 and isinstance(parent, dict):
        parent["unexpected_key"] = 1
    else:
        parent[last] = BROKEN[how % len(BROKEN)]
    return broken


def _compiled(file_name: str) -> tuple[dict[str, Any], Any, Any]:
    document = schemas.documents()[file_name]
    flat = schemas._inline({k: v for k, v in document.items() if k != "$id"})
    slow = fastjsonschema.compile(flat)
    return flat, compile_check(flat), slow


def _slow_says(slow: Any, value: Any) -> bool:
    try:
        slow(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


FILES = [name for name in sorted(schemas.documents()) if name != "envelope.v1.json"]


@pytest.mark.parametrize("file_name", FILES)
def test_the_fast_check_says_valid_exactly_when_fastjsonschema_does(file_name: str) -> None:
    flat, check, slow = _compiled(file_name)

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(instances(flat, flat), st.data())
    def run(value: Any, data: st.DataObject) -> None:
        assert check(value) == _slow_says(slow, value)
        paths = _paths(value)
        for _ in range(4):
            path = data.draw(st.sampled_from(paths))
            broken = _break(value, path, data.draw(st.integers(0, len(BROKEN) + 1)))
            assert check(broken) == _slow_says(slow, broken), (path, broken)

    run()


def test_every_event_type_has_the_fast_check() -> None:
    assert schemas.fast_checked() == schemas.event_types()


def test_an_unknown_keyword_is_refused_not_skipped() -> None:
    with pytest.raises(Unsupported):
        compile_check({"type": "string", "format": "email"})
    with pytest.raises(Unsupported):
        compile_check({"oneOf": [{"type": "string"}, {"type": "integer"}]})


def test_edge_cases_are_as_strict_as_fastjsonschema() -> None:
    decimal = compile_check({"type": "string", "pattern": "^-?[0-9]{1,12}(\\.[0-9]{1,6})?$"})
    assert decimal("10.50") and not decimal("12\n") and not decimal("10,5")
    nullable_enum = compile_check({"type": ["string", "null"], "enum": ["a", "b"]})
    assert nullable_enum("a") and not nullable_enum(None) and not nullable_enum(["a"])
    integer = compile_check({"type": "integer", "minimum": 0})
    assert integer(3) and not integer(True) and not integer(-1)
    assert not integer(2.0)      # fastjsonschema takes 2.0; schemas.validate asks it then
    closed = compile_check({"type": "object", "required": ["a"], "additionalProperties": False,
                            "properties": {"a": {"type": "integer"}}})
    assert closed({"a": 1}) and not closed({}) and not closed({"a": 1, "b": 2})


def test_an_event_the_fast_check_doubts_is_still_accepted_when_valid() -> None:
    from shopbridge import events as ev

    raw = ev.make_event("stock.changed", tenant="acme", source="cao:t", entity_key="1",
                        version=1, payload={"erp_id": 1, "sku": "A-1", "stock": "2"})
    raw["version"] = 5.0          # an integral float: valid JSON Schema "integer"
    schemas.validate(raw)
