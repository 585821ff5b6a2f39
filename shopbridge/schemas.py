"""The JSON Schema files in ``schemas/``, compiled once, keyed by (type, schema_version).

fastjsonschema compiles each schema to Python (~35 us for a product.upserted v2 instead of
jsonschema's ~170 us, DESIGN 6). In front of it sits a yes/no check compiled from the same
file (schemacheck.py, ~2x faster): a valid event needs only that; fastjsonschema runs for the
rest and words the error. The files declare draft 2020-12 and use only what draft 7 also
means, so the validators agree; tests check the files with jsonschema's 2020-12 validator too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from .errors import InvalidEvent, UnknownEventType
from .schemacheck import Unsupported, compile_check

_FILE_RE = re.compile(r"^(?P<type>[a-z_]+\.[a-z_]+)\.v(?P<version>[0-9]+)\.json$")
_BASE_URI = "https://schemas.shopbridge.example/"


def schema_dir() -> Path:
    """``schemas/`` of a source checkout, or the copy a wheel carries inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "schemas", here / "_schemas"):
        if (candidate / "envelope.v1.json").is_file():
            return candidate
    raise FileNotFoundError("schemas/envelope.v1.json not found beside the shopbridge package")


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(schema_dir().glob("*.json"))}


def documents() -> Mapping[str, dict[str, Any]]:
    """File name -> parsed schema document."""
    return _documents()


def _resolve(uri: str) -> dict[str, Any]:
    name = uri.removeprefix(_BASE_URI).split("#", 1)[0]
    return _documents()[name]


def _pointer(document: dict[str, Any], fragment: str) -> Any:
    node: Any = document
    for part in fragment.strip("/").split("/") if fragment.strip("/") else []:
        node = node[part]
    return node


def _inline(node: Any) -> Any:
    """Replace every cross-file ``$ref`` by the definition it points to.

    fastjsonschema compiles a ``$ref`` into a call that builds error-message strings even for
    valid data: inlined, validation costs half (measured by bench/sync_bench.py). The files
    keep their refs: they are the contract other programs read.
    """
    if isinstance(node, list):
        return [_inline(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        file_name, _, fragment = ref.partition("#")
        target = _pointer(_documents()[file_name.removeprefix(_BASE_URI)], fragment)
        target = {k: v for k, v in target.items() if k not in ("$id", "$schema", "$defs")}
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **rest}) if not rest else {"allOf": [_inline(target)],
                                                              **_inline(rest)}
    return {k: _inline(v) for k, v in node.items()}


def _never(_: Any) -> bool:
    return False


@cache
def _validators() -> dict[tuple[str, int], tuple[Callable[[Any], bool], Callable[[Any], Any]]]:
    """(type, version) -> (fast yes/no check, fastjsonschema validator), both from one file."""
    compiled = {}
    for name, document in _documents().items():
        match = _FILE_RE.match(name)
        if not match or match["type"] == "envelope.v1":
            continue
        key = (match["type"], int(match["version"]))
        flat = _inline({k: v for k, v in document.items() if k != "$id"})
        try:
            check = compile_check(flat)
        except Unsupported:     # a keyword schemacheck does not know: fastjsonschema alone
            check = _never
        compiled[key] = (check, fastjsonschema.compile(flat, handlers={"https": _resolve}))
    return compiled


def event_types() -> list[tuple[str, int]]:
    return sorted(_validators())


def fast_checked() -> list[tuple[str, int]]:
    """The (type, version)s whose valid events skip fastjsonschema (all, today; tests say so)."""
    return sorted(key for key, (check, _) in _validators().items() if check is not _never)


def validate(event: Any, *, fast: bool = True) -> None:
    """Check one decoded event against the schema its type and schema_version name.

    ``fast=False`` skips the yes/no check (fastjsonschema alone, as before it existed): for
    bench/validate_bench.py's "before" only.

    Raises:
        UnknownEventType: no schema for that type/version.
        InvalidEvent: the first violation, naming the field (e.g. ``payload.texts.de.name``).
    """
    if not isinstance(event, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(event).__name__}")
    key = (event.get("type"), event.get("schema_version"))
    pair = _validators().get(key)  # type: ignore[arg-type]
    if pair is None:
        raise UnknownEventType(f"unknown event type {key[0]!r} schema_version {key[1]!r}")
    check, validator = pair
    if fast and check(event):
        return
    try:
        validator(event)
    except fastjsonschema.JsonSchemaValueException as err:
        field = str(err.name).removeprefix("data.").removeprefix("data")
        raise InvalidEvent(f"{describe(event)}: field {field or '(event)'}: "
                           f"{err.message.removeprefix(str(err.name) + ' ')}") from None


def describe(event: Mapping[str, Any]) -> str:
    """'product.upserted 4711 (SKU AB-1)': how errors name the entity."""
    payload = event.get("payload")
    sku = payload.get("sku") if isinstance(payload, Mapping) else None
    text = f"{event.get('type', '?')} {event.get('entity_key', '?')}"
    return f"{text} (SKU {sku})" if sku else text
