"""VirtueMart's configuration (``<prefix>virtuemart_configs`` row 1) and active languages.

Active languages come from config ``active_languages``; if it is empty, Joomla's site default
language (com_languages param ``site``), or Joomla's own default en-GB where that cannot be
read (NOTES 2).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy.engine import Connection

from shopbridge.errors import ConfigError

JOOMLA_DEFAULT_LANGUAGE = "en-GB"
# A Joomla language tag; it becomes part of table names (``Tables.lang``), so nothing else may.
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}-[A-Z]{2}")


def read_config(text: str | None) -> dict[str, Any]:
    """VirtueMart's ``key=<json>|key=<json>|`` config text -> dict (NOTES 1: split on '|',
    then on the first '=', then JSON; a value that is not JSON is kept as text)."""
    values: dict[str, Any] = {}
    for part in (text or "").split("|"):
        key, sep, raw = part.partition("=")
        if not sep or not key:
            continue
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw
    return values


def active_language_tags(conn: Connection, prefix: str) -> list[str]:
    """The shop's active language tags, in its configured order.

    Raises:
        ConfigError: naming ``active_languages`` where a tag is not like 'de-DE': tags become
            table names, so one that is not a tag is never put into SQL.
    """
    configs = f"{prefix}virtuemart_configs"
    text = conn.exec_driver_sql(
        f"SELECT config FROM {configs} WHERE virtuemart_config_id = 1").scalar()
    tags = read_config(text).get("active_languages") or []
    if isinstance(tags, str):
        tags = [tags]
    tags = [str(t) for t in tags if t] or [_joomla_site_language(conn, prefix)]
    for tag in tags:
        if not LANGUAGE_TAG.fullmatch(tag):
            raise ConfigError(f"active_languages: {tag!r} (VirtueMart's configuration in "
                              f"{configs}, else Joomla's site language) is not a "
                              "language tag like 'de-DE'")
    return tags


def _joomla_site_language(conn: Connection, prefix: str) -> str:
    row = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s", (f"{prefix}extensions",)).scalar()
    if not row:
        return JOOMLA_DEFAULT_LANGUAGE
    params = conn.exec_driver_sql(
        f"SELECT params FROM {prefix}extensions WHERE element = 'com_languages' "
        f"AND type = 'component'").scalar()
    try:
        site = json.loads(params or "{}").get("site")
    except ValueError:
        site = None
    return str(site) if site else JOOMLA_DEFAULT_LANGUAGE
