"""A yes/no check compiled from a JSON Schema: the fast path in front of fastjsonschema.

fastjsonschema's code walks every key with set bookkeeping, a ``try`` per property name and an
error message ready for each keyword; a valid product.upserted v2 costs ~35 us. Nearly every
event is valid, and a valid one only needs a yes. This module turns the same schema document
into one plain function that answers ``True`` (valid) or ``False`` ("ask fastjsonschema"):
required keys read directly (a missing one ends in ``KeyError`` -> False), a closed object
tested by its length (all keys required) or one ``allowed.issuperset(x)``, exact ``type() is``
tests, no message building; about half the time (bench/validate_bench.py).
``schemas.validate`` calls it first and runs fastjsonschema only for a ``False``, so the error
text of an invalid event is fastjsonschema's, as before.

Safety rule: ``True`` must imply fastjsonschema's "valid", so every test here is as strict or
stricter (``type(x) is int`` refuses a float 2.0 that fastjsonschema takes as an integer:
that event just takes the slow path and is accepted there). A keyword this compiler does not
know raises :class:`Unsupported` at compile time, and that schema keeps fastjsonschema alone:
a new keyword in a schema file can never be skipped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# fastjsonschema turns every unescaped '$' of a pattern into '\Z' (draft04.DOLLAR_FINDER):
# with Python's '$' "12\n" would match '^[0-9]+$'. The same rewrite keeps both equally strict.
_DOLLAR = re.compile(r"(?<!\\)\$")

# Keywords that do not constrain a value.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "definitions", "$comment", "title",
                          "description", "default", "examples", "deprecated", "readOnly",
                          "writeOnly"})
_TYPE_TESTS = {
    "object": "type({v}) is dict",
    "array": "type({v}) is list",
    "string": "type({v}) is str",
    "integer": "type({v}) is int",
    "number": "type({v}) is int or type({v}) is float",
    "boolean": "type({v}) is bool",
    "null": "{v} is None",
}
# Keywords that apply only to values of one JSON type, with the (loose) test fastjsonschema
# guards them by when the schema does not pin the type.
_STRING_KW = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KW = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_OBJECT_KW = frozenset({"required", "properties", "additionalProperties", "propertyNames",
                        "minProperties", "maxProperties"})
_ARRAY_KW = frozenset({"items", "minItems", "maxItems"})
_GUARDS = {
    "string": (_STRING_KW, "isinstance({v}, str)"),
    "number": (_NUMBER_KW, "isinstance({v}, (int, float)) and not isinstance({v}, bool)"),
    "object": (_OBJECT_KW, "isinstance({v}, dict)"),
    "array": (_ARRAY_KW, "isinstance({v}, (list, tuple))"),
}
_KIND = {"object": "object", "array": "array", "string": "string", "integer": "number",
         "number": "number"}
_KNOWN = (_ANNOTATIONS | _STRING_KW | _NUMBER_KW | _OBJECT_KW | _ARRAY_KW
          | {"type", "const", "enum", "allOf", "anyOf", "$ref"})
_MAX_DEPTH = 40     # a $ref cycle would recurse forever: refuse it instead


class Unsupported(Exception):
    """The schema uses something this compiler does not check; use fastjsonschema alone."""


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.consts: dict[str, Any] = {}
        self.helpers: list[str] = []
        self.counter = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any) -> str:
        name = self.name("K")
        self.consts[name] = value
        return name

    def function(self, schema: Any) -> str:
        """Compile ``schema`` into a module-level ``def Fn(x) -> bool``; returns its name."""
        name = self.name("F")
        body: list[str] = []
        self.node(schema, "x", body, 2, 0)
        # Required properties are read as x["key"]: a missing one ends here (no set test).
        # A pattern applied to a value that is no string raises TypeError: also a no.
        self.helpers.append("\n".join([f"def {name}(x):", "    try:", *body,
                                       "    except (KeyError, TypeError):",
                                       "        return False", "    return True"]))
        return name

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r} is not inlined")
        node: Any = self.root
        for part in ref[1:].strip("/").split("/") if ref.strip("#/") else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise Unsupported(f"$ref {ref!r} points nowhere")
            node = node[part]
        return node

    def node(self, schema: Any, v: str, out: list[str], indent: int, depth: int,
             known: str | None = None) -> str | None:
        """Append statements that ``return False`` unless value ``v`` satisfies ``schema``.

        ``known``: the JSON type the caller already proved ``v`` has (exactly), or None.
        Returns the type ``v`` is proved to have after these statements (or None).
        """
        if depth > _MAX_DEPTH:
            raise Unsupported("schema nested too deep (a $ref cycle?)")
        pad = "    " * indent
        if schema is True or schema == {}:
            return known
        if schema is False:
            out.append(f"{pad}return False")
            return known
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - _KNOWN
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        types = schema.get("type")
        if types is not None:
            types = [types] if isinstance(types, str) else list(types)
            if not types or any(t not in _TYPE_TESTS for t in types):
                raise Unsupported(f"type {types!r}")
            if known is not None:
                if known not in types and not (known == "integer" and "number" in types):
                    out.append(f"{pad}return False")
                    return known
            else:
                other = [t for t in types if t != "null"]
                plain = not {"const", "enum", "allOf", "anyOf", "$ref"} & set(schema)
                # A pattern is tested first and raises TypeError for anything but a string
                # (the caller's no), so it is the type test as well.
                by_pattern = plain and other == ["string"] and "pattern" in schema
                if len(types) == 2 and len(other) == 1 and plain:
                    # ["string", "null"]: None is done, anything else is the one type
                    out.append(f"{pad}if {v} is not None:")
                    if not by_pattern:
                        out.append(f"{pad}    if not ({_TYPE_TESTS[other[0]].format(v=v)}): "
                                   f"return False")
                    self.typed(schema, v, out, indent + 1, depth, other[0])
                    return None
                if not (by_pattern and len(types) == 1):
                    test = " or ".join(_TYPE_TESTS[t].format(v=v) for t in types)
                    out.append(f"{pad}if not ({test}): return False")
                if len(types) == 1:
                    known = types[0]
        # (the envelope comes as allOf: its "type": "object" then spares the guards here)
        if "$ref" in schema:
            known = self.node(self.resolve(schema["$ref"]), v, out, indent, depth + 1, known)
        for sub in schema.get("allOf", ()):
            known = self.node(sub, v, out, indent, depth + 1, known)
        if "anyOf" in schema:
            names = [self.function(sub) for sub in schema["anyOf"]]
            out.append(f"{pad}if not ({' or '.join(f'{n}({v})' for n in names)}): return False")
        if "const" in schema:
            self.values(schema["const"])
            k = self.const(schema["const"])
            const_type = type(schema["const"])
            same = known is not None and _TYPE_TESTS[known].format(v="c") == (
                f"type(c) is {const_type.__name__}")      # e.g. known "string", const "a"
            test = "" if same else f"type({v}) is {self.const(const_type)} and "
            out.append(f"{pad}if not ({test}{v} == {k}): return False")
        if "enum" in schema:
            enum = list(schema["enum"])
            for value in enum:
                self.values(value)
            if all(type(e) is str for e in enum):
                # Only a string equals a string; an unhashable value raises TypeError: a no.
                out.append(f"{pad}if {v} not in {self.const(frozenset(enum))}: return False")
            else:
                kinds = self.const(frozenset(type(e) for e in enum))   # hashable: test first
                allowed = self.const(frozenset((type(e), e) for e in enum))
                out.append(f"{pad}if type({v}) not in {kinds} or (type({v}), {v}) not in "
                           f"{allowed}: return False")
        self.typed(schema, v, out, indent, depth, known)
        return known

    def typed(self, schema: dict[str, Any], v: str, out: list[str], indent: int, depth: int,
              known: str | None) -> None:
        """The keywords of one JSON type: as is where ``known``, behind a guard where not."""
        pad = "    " * indent
        kind_known = _KIND.get(known) if known is not None else None
        for kind, (keywords, loose) in _GUARDS.items():
            if not keywords & set(schema):
                continue
            if known is None:
                out.append(f"{pad}if {loose.format(v=v)}:")
                getattr(self, kind)(schema, v, out, indent + 1, depth)
            elif kind == kind_known:
                getattr(self, kind)(schema, v, out, indent, depth)
            # else: keywords of another type do not apply to this value

    @staticmethod
    def values(value: Any) -> None:
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise Unsupported(f"const/enum value {value!r}")

    def string(self, schema: dict[str, Any], v: str, out: list[str], indent: int,
               depth: int) -> None:
        pad = "    " * indent
        if "pattern" in schema:     # first: it is the type test too (``node``)
            pattern = re.compile(_DOLLAR.sub(r"\\Z", schema["pattern"]))
            # An anchored pattern: match, not search, as strict and a quarter faster (where
            # '^' only starts one branch, match is stricter: a no asks fastjsonschema).
            k = self.const(pattern.match if pattern.pattern.startswith("^") else pattern.search)
            out.append(f"{pad}if {k}({v}) is None: return False")
        if "minLength" in schema or "maxLength" in schema:
            low, high = schema.get("minLength"), schema.get("maxLength")
            test = " <= ".join([*([str(int(low))] if low is not None else []), f"len({v})",
                                *([str(int(high))] if high is not None else [])])
            out.append(f"{pad}if not {test}: return False")

    def number(self, schema: dict[str, Any], v: str, out: list[str], indent: int,
               depth: int) -> None:
        pad = "    " * indent
        for keyword, op in (("minimum", "<"), ("maximum", ">"), ("exclusiveMinimum", "<="),
                            ("exclusiveMaximum", ">=")):
            if keyword in schema:
                bound = schema[keyword]
                if not isinstance(bound, (int, float)) or isinstance(bound, bool):
                    raise Unsupported(f"{keyword} {bound!r}")
                out.append(f"{pad}if {v} {op} {bound!r}: return False")

    def object(self, schema: dict[str, Any], v: str, out: list[str], indent: int,
               depth: int) -> None:
        pad = "    " * indent
        properties: dict[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        if "minProperties" in schema:
            out.append(f"{pad}if len({v}) < {int(schema['minProperties'])}: return False")
        if "maxProperties" in schema:
            out.append(f"{pad}if len({v}) > {int(schema['maxProperties'])}: return False")
        if extra is False:
            if set(properties) <= set(required):
                # every key required and read below: the right count means no other key
                out.append(f"{pad}if len({v}) != {len(set(properties))}: return False")
            else:
                out.append(f"{pad}if not {self.const(frozenset(properties))}.issuperset({v}): "
                           f"return False")
        for key in required:
            if key not in properties or properties[key] in (True, {}):
                out.append(f"{pad}{v}[{key!r}]")               # KeyError: missing
        for key, sub in properties.items():
            if sub is True or sub == {}:
                continue
            item = self.name("p")
            if key in required:
                out.append(f"{pad}{item} = {v}[{key!r}]")     # KeyError: missing
                self.node(sub, item, out, indent, depth + 1)
            else:
                out.append(f"{pad}if {key!r} in {v}:")
                out.append(f"{pad}    {item} = {v}[{key!r}]")
                self.node(sub, item, out, indent + 1, depth + 1)
        names = schema.get("propertyNames", True)
        extra_schema = extra not in (True, False, {})
        if not extra_schema and names in (True, {}):
            return
        key_var, val_var = self.name("k"), self.name("w")
        out.append(f"{pad}for {key_var}, {val_var} in {v}.items():")
        self.node(names, key_var, out, indent + 1, depth + 1)
        if extra_schema:
            if properties:
                out.append(f"{pad}    if {key_var} not in {self.const(frozenset(properties))}:")
                self.node(extra, val_var, out, indent + 2, depth + 1)
            else:
                self.node(extra, val_var, out, indent + 1, depth + 1)
        out.append(f"{pad}    pass")

    def array(self, schema: dict[str, Any], v: str, out: list[str], indent: int,
              depth: int) -> None:
        pad = "    " * indent
        if "minItems" in schema:
            out.append(f"{pad}if len({v}) < {int(schema['minItems'])}: return False")
        if "maxItems" in schema:
            out.append(f"{pad}if len({v}) > {int(schema['maxItems'])}: return False")
        items = schema.get("items", True)
        if items in (True, {}):
            return
        if not isinstance(items, dict):
            raise Unsupported(f"items {items!r}")
        item = self.name("i")
        out.append(f"{pad}for {item} in {v}:")
        self.node(items, item, out, indent + 1, depth + 1)
        out.append(f"{pad}    pass")


def compile_check(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """``check(value)``: True only if ``value`` is valid against ``schema``.

    False means "not proven valid here": ask the full validator, which gives the error.

    Raises:
        Unsupported: the schema uses a keyword (or form of one) this compiler does not check.
    """
    compiler = _Compiler(schema)
    entry = compiler.function(schema)
    namespace: dict[str, Any] = dict(compiler.consts)
    source = "\n\n".join(compiler.helpers)
    # The source holds only generated statements: names as repr() literals, numbers via
    # int()/repr(), patterns and sets as constants in the namespace (as fastjsonschema does).
    code = compile(source, f"<schemacheck {schema.get('$id', entry)}>", "exec")
    exec(code, namespace)  # noqa: S102
    check: Callable[[Any], bool] = namespace[entry]
    return check
