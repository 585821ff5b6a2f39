"""VirtueMart's params strings: ``key=<json>|key=<json>|`` (NOTES §1).

VirtueMart keeps the settings of a row in one text column (``product_params``,
``custom_params``, ``customfield_params``, ``calc_params``, the shop config, ...). This module
reads and writes that format the way VirtueMart 4.4.0 does, so a string written here reads
back in the shop exactly as meant, and a string the shop wrote reads back here unchanged.

Reading mirrors ``VmTable::bindParameterable`` (administrator/components/com_virtuemart/
helpers/vmtable.php): split on every ``|``, skip empty pieces, split each piece on its first
``=``, decode the rest with ``vmJsApi::safe_json_decode`` (helpers/vmjsapi.php), which returns
the raw text when it is not JSON (``key=abc`` -> ``"abc"``, ``key=`` -> ``""``). A piece
without ``=`` is skipped (VirtueMart logs an error and keeps nothing for it); a repeated key
keeps its last value, as PHP's assignment does.

Writing mirrors ``VmTable::storeParams``: ``key=`` + ``vmJsApi::safe_json_encode(value)`` +
``|`` per key, in the given order. ``safe_json_encode`` is PHP's ``json_encode`` with
``JSON_PRETTY_PRINT | JSON_PRESERVE_ZERO_FRACTION``: four-space indents, ``": "`` between key
and value, ``\\/`` for ``/`` and ``\\uXXXX`` for everything outside ASCII. One addition:
VirtueMart splits on every ``|`` before decoding, even inside a JSON string, so a ``|`` in a
value would cut it in two; it is written as ``\\u007c``, which PHP's ``json_decode`` reads
back as ``|``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SEPARATOR = "|"


def parse_params(text: str | None) -> dict[str, Any]:
    """The settings in a params string, in their order (None or '' -> {}).

    Values are what PHP's ``json_decode`` gives (objects as dicts, arrays as lists); text
    that is not JSON is kept as text, as VirtueMart keeps it.
    """
    params: dict[str, Any] = {}
    for piece in (text or "").split(SEPARATOR):
        if not piece:
            continue
        key, equals, raw = piece.partition("=")
        if not equals:
            continue
        params[key] = decode_value(raw)
    return params


def decode_value(raw: str) -> Any:
    """One value as ``vmJsApi::safe_json_decode`` reads it: JSON, else the raw text."""
    if raw == "":
        return ""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def format_params(params: Mapping[str, Any], *, compact: bool = False) -> str:
    """The params string for ``params``, keys in the mapping's order.

    Args:
        compact: JSON without VirtueMart's pretty-printing (same meaning, fewer bytes), for
            a value that would not fit its column otherwise.
    Raises:
        ValueError: a key that is empty or holds ``=`` or ``|`` (it would not read back).
        TypeError: a value JSON cannot express.
    """
    pieces = []
    for key, value in params.items():
        if not key or "=" in key or SEPARATOR in key:
            raise ValueError(f"params key {key!r} cannot be written: it must be non-empty "
                             "and hold neither '=' nor '|'")
        pieces.append(f"{key}={encode_value(value, compact=compact)}{SEPARATOR}")
    return "".join(pieces)


def encode_value(value: Any, *, compact: bool = False) -> str:
    """One value as PHP's ``json_encode(JSON_PRETTY_PRINT | JSON_PRESERVE_ZERO_FRACTION)``
    writes it, with ``|`` escaped (see the module docstring)."""
    if compact:
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    else:
        text = json.dumps(value, ensure_ascii=True, indent=4, allow_nan=False)
    # '/' and '|' occur in JSON text only inside strings, so replacing them everywhere is
    # exact: PHP escapes '/' unless JSON_UNESCAPED_SLASHES is given (VirtueMart does not).
    return text.replace("/", "\\/").replace(SEPARATOR, "\\u007c")
