"""Joomla's rules for a ``#__users`` row, as the site's own PHP applies them. Pure: no I/O.

A synced account must pass Joomla's ``Table\\User::check`` (libraries/src/Table/User.php),
because the password reset saves the user (``ResetModel::processResetRequest`` ->
``$user->save(true)``): an account that fails the check cannot reset its password. So:

- the username is at most 150 characters, at least 2, trimmed, without ``< > " ' % ; ( ) &
  \\`` or ``../``; it is unique (the column's collation ignores case);
- the e-mail passes ``MailHelper::isEmailAddress`` and is at most 100 characters; no other
  user has it (compared lower-cased);
- the name is not empty.

The username is what the customer types in the reset confirmation form (``processResetConfirm``
finds the user by username and token), so it is their e-mail where Joomla allows that.

The password is ``UNUSABLE_PASSWORD``: no password verifies against it. Joomla picks the
handler by the hash's prefix (``UserHelper::verifyPassword``): none of ``$P$``, ``$argon2``,
``$2`` matches ``!``, so the chained handler tries each: bcrypt and argon2 reject a value that
is not their hash, PHPass's fallback ``crypt()`` returns ``*0``/``*1`` for a salt it cannot
read, and the MD5 handler compares with ``md5(...)`` hex digits, which never contain ``!``.
The shop's own reset path sets a real password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

USERNAME_MAX = 150                    # #__users.username varchar(150)
EMAIL_MAX = 100                       # #__users.email varchar(100)
NAME_MAX = 400                        # #__users.name varchar(400)
UNUSABLE_PASSWORD = "!shopbridge:no-password-set"   # noqa: S105 (a hash nothing matches)
_USERNAME_FORBIDDEN = re.compile(r"""[<>"'%;()&\\]|\.\./""")
_LOCAL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-][.a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{0,63}$")
_DOMAIN_PART = re.compile(r"^[a-zA-Z0-9-]+$")


def is_email_address(email: str) -> bool:
    """Whether Joomla's ``MailHelper::isEmailAddress`` accepts ``email``."""
    local, at, domain = email.rpartition("@")
    if not at:
        return False
    if not 1 <= len(domain) <= 255:
        return False
    if not _LOCAL.match(local) or local[:1] == "." or local.endswith(".") or ".." in local:
        return False
    if re.fullmatch(r"[0-9.]+", domain):
        return True
    for part in domain.split("."):
        try:
            part = part.encode("idna").decode("ascii") if part else ""
        except UnicodeError:
            return False
        if not part or not _DOMAIN_PART.match(part) or part[0] == "-" or part[-1] == "-":
            return False
    return True


def is_username(name: str) -> bool:
    """Whether Joomla's user check accepts ``name`` as a username."""
    return (2 <= len(name) <= USERNAME_MAX and name == name.strip()
            and not _USERNAME_FORBIDDEN.search(name))


def usernames(email: str, erp_id: int) -> Iterator[str]:
    """Usernames to try, best first: the e-mail (what the customer knows), then the e-mail
    with a number, then one made of the ERP id; each one Joomla accepts."""
    base = _USERNAME_FORBIDDEN.sub("", email.strip())[:USERNAME_MAX - 4]
    if is_username(base):
        yield base
        for n in range(2, 100):
            yield f"{base}-{n}"
    yield f"cao-{erp_id}"
    for n in range(2, 1000):
        yield f"cao-{erp_id}-{n}"


def display_name(firstname: str | None, lastname: str) -> str:
    """Joomla's ``name``: first and last name, as VirtueMart's registration joins them."""
    return " ".join(part for part in ((firstname or "").strip(), lastname.strip()) if part)
