"""docs/virtuemart.md names a test for each VirtueMart trap: every name must exist, or the
page claims a guard that is gone."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PAGE = TESTS.parent / "docs" / "virtuemart.md"
SHORT = {"traps": "integration/test_virtuemart_traps.py",
         "pitfalls": "integration/test_vm_pitfalls.py",
         "catalogue": "integration/test_virtuemart_catalogue.py",
         "check": "integration/test_check_virtuemart.py",
         "storefront": "integration/test_vm_storefront.py",
         "customers": "integration/test_vm_customers.py"}


def _file(short: str) -> Path:
    if short in SHORT:
        return TESTS / SHORT[short]
    return TESTS / (f"{short}.py" if "/" in short else f"integration/{short}.py")


def test_every_test_the_virtuemart_page_names_exists() -> None:
    cited = re.findall(r"`([\w/]+)::(test_[\w…]+)`", PAGE.read_text(encoding="utf-8"))
    assert len(cited) > 40
    missing = []
    for short, name in cited:
        defined = re.findall(r"^def (test_\w+)", _file(short).read_text(encoding="utf-8"),
                             re.M)
        # "…" abbreviates the middle of a long name; the rest must match one test.
        head, _, tail = name.partition("…")
        if not any(d.startswith(head) and d.endswith(tail) for d in defined):
            missing.append(f"{short}::{name}")
    assert not missing
