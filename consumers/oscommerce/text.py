"""Text rules of the Phoenix storefront that several writers share (NOTES 1)."""

from __future__ import annotations


def plain_text(text: str) -> str:
    """Phoenix prints names unescaped: neutralise markup but keep the text readable."""
    return text.replace("<", "&lt;").replace(">", "&gt;").strip()
