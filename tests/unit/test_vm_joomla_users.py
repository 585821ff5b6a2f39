"""Joomla's rules for a synced account (consumers/virtuemart/joomla_users.py), as the site's
PHP applies them: the user check the password reset runs, and a password nothing verifies."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from consumers.virtuemart.customers import _vm_number
from consumers.virtuemart.joomla_users import (
    UNUSABLE_PASSWORD,
    display_name,
    is_email_address,
    is_username,
    usernames,
)


@pytest.mark.parametrize(("email", "ok"), [
    ("anna@example.org", True),
    ("anna.m+shop@sub.example.de", True),
    ("o'brien@example.ie", True),            # ' is allowed in the local part
    ("anna@müller.de", True),                 # punycode per domain label
    ("anna@192.168.0.1", True),
    ("anna", False),
    ("anna@", False),
    (".anna@example.org", False),
    ("anna.@example.org", False),
    ("an..na@example.org", False),
    ("anna@-example.org", False),
    ("anna@example..org", False),
    ("anna@exa_mple.org", False),
    ("a" * 65 + "@example.org", False),
])
def test_email_addresses_as_joomlas_mail_helper_takes_them(email, ok):
    assert is_email_address(email) is ok


@pytest.mark.parametrize(("name", "ok"), [
    ("anna@example.org", True), ("a", False), (" anna", False), ("o'brien", False),
    ("50%", False), ("a&b", False), ("x../y", False), ("a" * 151, False), ("a" * 150, True),
])
def test_usernames_as_joomlas_user_check_takes_them(name, ok):
    assert is_username(name) is ok


def test_the_username_is_the_email_then_numbered_then_the_erp_id():
    assert list(itertools.islice(usernames("anna@example.org", 7), 3)) == [
        "anna@example.org", "anna@example.org-2", "anna@example.org-3"]
    assert next(usernames("o'brien@example.ie", 7)) == "obrien@example.ie"
    tail = list(usernames("anna@example.org", 7))[98:101]
    assert tail == ["anna@example.org-99", "cao-7", "cao-7-2"]
    assert all(is_username(n) for n in itertools.islice(usernames("x" * 100 + "@e.de", 3), 3))


def test_the_unusable_password_is_no_hash_any_joomla_handler_matches():
    # Handler by prefix ($P$, $argon2, $2), else MD5: md5 hex digits never hold '!'.
    assert not UNUSABLE_PASSWORD.startswith(("$P$", "$argon2", "$2", "*0", "*1"))
    assert "!" in UNUSABLE_PASSWORD.split(":")[0] and len(UNUSABLE_PASSWORD) <= 100


def test_names_and_virtuemarts_own_customer_number():
    assert display_name("Anna", "Müller") == "Anna Müller"
    assert display_name(None, "Müller GmbH") == "Müller GmbH"
    digest = hashlib.md5(b"anna@example.org", usedforsecurity=False).hexdigest()[:7]
    assert _vm_number("anna@example.org") == "AN" + digest
