"""What several ``shopbridge`` subcommands' modules share (cli.py, dlq_cli.py, history_cli.py):
the ``--tenant`` help and the confirmation of a command that deletes something."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from .errors import ConfigError

TENANT_HELP = "the tenant (needed when the configuration has several)"


def confirmed(*, yes: bool, action: str, question: str, listing: Iterable[str] = ()) -> bool:
    """Whether to go ahead: ``--yes``, or y/yes typed on the terminal after ``listing`` is
    shown (end of input is a no).

    Raises:
        ConfigError: not on a terminal and no ``--yes`` (``action`` says what would happen).
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(f"{action}: confirm with --yes when not on a terminal")
    for line in listing:
        print(line)
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False
