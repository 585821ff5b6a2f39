"""VirtueMart's forced file caches, cleared after catalogue changes (NOTES 10).

``VmConfig::getCache`` (helpers/config.php) caches with ``caching = true`` whatever Joomla's
setting, in ``<cache_path>/<group>/`` with the file handler; VirtueMart clears the groups
below when a category is saved (models/category.php ``clearCategoryRelatedCaches``, plus
``com_virtuemart_orderby``). A database writer must do the same, or the front end shows the
old category tree, menus and product modules until the cache expires.

Only those group folders are removed, each by renaming it to a hidden name first (Joomla
makes a new one on its next write, never into a half-deleted one) and then deleting it;
a group folder that is a symbolic link is left alone (what it points at is not the cache's),
and ``shutil.rmtree`` does not follow links inside. The rows are committed already, so a
failure is a warning, once until the clearing works again, and never fails the batch.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Set as AbstractSet
from pathlib import Path

log = logging.getLogger(__name__)

GROUPS = ("com_virtuemart_cats", "com_virtuemart_cats_route", "com_virtuemart_cats_dropdown",
          "mod_virtuemart_product", "mod_virtuemart_category", "com_virtuemart_orderby_manus",
          "com_virtuemart_orderby")
# The entity types whose changes the cached lists show: the category tree and routes,
# the product modules, the manufacturers of the order-by list.
SHOWN = frozenset({"category", "product", "manufacturer"})


class CacheCleaner:
    """Args:
        cache_path: Joomla's cache folder (``cache_path`` in configuration.php).
    """

    def __init__(self, cache_path: str) -> None:
        self.root = Path(cache_path)
        self._problem: str | None = None

    def after_commit(self, changed: AbstractSet[str]) -> None:
        """The core's after-commit hook: clear the groups when the catalogue changed."""
        if changed & SHOWN:
            self.clear()

    def clear(self) -> None:
        """Remove the group folders. Never raises."""
        problems = []
        if not self.root.is_dir():
            problems.append("cache_path is not a folder")
        for group in GROUPS if not problems else ():
            try:
                self._remove(self.root / group)
            except OSError as err:
                problems.append(f"{group}: {type(err).__name__}: {err.strerror or err}")
        problem = "; ".join(problems) or None
        if problem and problem != self._problem:
            log.warning("VirtueMart caches under %s not cleared (%s): the shop may show "
                        "old categories and product lists until they expire", self.root,
                        problem)
        elif problem is None and self._problem is not None:
            log.info("VirtueMart caches under %s cleared again", self.root)
        self._problem = problem

    @staticmethod
    def _remove(folder: Path) -> None:
        if folder.is_symlink():
            raise OSError(0, "a symbolic link, left alone", str(folder))
        if not folder.exists():
            return
        doomed = folder.with_name(f".{folder.name}.shopbridge-{uuid.uuid4().hex[:12]}")
        os.rename(folder, doomed)
        shutil.rmtree(doomed)
