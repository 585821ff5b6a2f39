"""A folder of files behind a file-system URL, through fsspec: a local path or sftp:// (C9).

SFTP goes through ``sshfs`` (asyncssh), not fsspec's built-in paramiko implementation: that
one accepts any host key on first contact and loads no known_hosts, while asyncssh checks
the server's key against a known_hosts file (``images_known_hosts``, else
~/.ssh/known_hosts). The connection is opened lazily, kept, and dropped after an error so
the next use reconnects.

Replacing a file is a write to a hidden temporary name in the same directory and a rename
(POSIX rename locally, the ``posix-rename@openssh.com`` extension over SFTP): the web server
never serves a half-written image.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from shopbridge.config import FolderConfig
from shopbridge.errors import ShopbridgeError

CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 10

FileStat = tuple[int, int]        # size in bytes, mtime in microseconds since the epoch


class Folder:
    """One configured folder; names are relative to it, with '/' between parts."""

    def __init__(self, config: FolderConfig) -> None:
        self.config = config
        parts = urlsplit(config.url)
        self.root = (unquote(parts.path) or "/").rstrip("/") or "/"
        self._fs: AbstractFileSystem | None = None
        self._dirs: set[str] = set()

    @property
    def safe(self) -> str:
        """How logs name the folder (the URL holds no password: config refuses one)."""
        return self.config.url

    @property
    def fs(self) -> AbstractFileSystem:
        if self._fs is None:
            self._fs = self._connect()
        return self._fs

    def _connect(self) -> AbstractFileSystem:
        if self.config.scheme == "file":
            return LocalFileSystem()
        with warnings.catch_warnings():
            # asyncssh still names DSA key types, which cryptography (>= 46) deprecates at
            # import: a library's notice, not something the merchant can act on.
            warnings.filterwarnings("ignore", message="DSA is deprecated")
            from sshfs import SSHFileSystem  # only where SFTP is configured

        parts = urlsplit(self.config.url)
        options: dict[str, Any] = {
            "port": parts.port or 22,
            # () is asyncssh's "the user's ~/.ssh/known_hosts"; None would trust any key.
            "known_hosts": self.config.known_hosts or (),
            "connect_timeout": CONNECT_TIMEOUT_S, "timeout": 3 * CONNECT_TIMEOUT_S,
            "skip_instance_cache": True,
        }
        if parts.username:
            options["username"] = unquote(parts.username)
        if self.config.password is not None:
            options["password"] = self.config.password
        return SSHFileSystem(parts.hostname, **options)

    def reset(self) -> None:
        """Forget the connection (after an error): the next call connects again."""
        self._fs = None
        self._dirs.clear()

    def path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def stat(self, name: str) -> FileStat:
        """Raises FileNotFoundError if the file is not there."""
        return _stat(self.fs.info(self.path(name)))

    def listing(self) -> dict[str, FileStat]:
        """Every file below the folder, in one call: name -> (size, mtime)."""
        prefix = self.root.rstrip("/") + "/"
        found = self.fs.find(self.root, detail=True, withdirs=False)
        return {path[len(prefix):]: _stat(info) for path, info in found.items()
                if path.startswith(prefix) and info.get("type") == "file"}

    def chunks(self, name: str) -> Iterator[bytes]:
        with self.fs.open(self.path(name), "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(name):
            digest.update(chunk)
        return digest.hexdigest()

    def replace(self, name: str, chunks: Iterator[bytes]) -> tuple[str, int]:
        """Write ``name`` from ``chunks`` through a temporary file and a rename.

        Returns:
            (sha256 of the bytes written, their number).
        """
        final = self.path(name)
        parent, _, base = final.rpartition("/")
        temp = f"{parent}/.{base}.shopbridge-{uuid.uuid4().hex[:12]}.tmp"
        fs = self.fs
        if parent not in self._dirs:          # a round trip or more per file over SFTP
            fs.makedirs(parent or "/", exist_ok=True)
            self._dirs.add(parent)
        digest, size = hashlib.sha256(), 0
        try:
            with fs.open(temp, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            fs.mv(temp, final)
        except BaseException:
            self._dirs.discard(parent)         # it may have been removed meanwhile
            with contextlib.suppress(Exception):   # the original error is the one to raise
                fs.rm_file(temp)
            raise
        return digest.hexdigest(), size

    def probe(self) -> bool:
        """For ``shopbridge check``. Raises: ShopbridgeError or the file system's error."""
        if self.fs.info(self.root).get("type") != "directory":
            raise ShopbridgeError("not a folder")    # check's line names the folder
        return True

    def reachable(self) -> bool:
        """Whether the folder answers, on a new connection if the kept one broke."""
        for _ in range(2):
            try:
                self.fs.info(self.root)
                return True
            except Exception:
                self.reset()
        return False


def _stat(info: dict[str, Any]) -> FileStat:
    mtime = info.get("mtime")
    if isinstance(mtime, datetime):
        mtime = mtime.timestamp()
    return int(info.get("size") or 0), round(float(mtime or 0) * 1_000_000)
