"""A real SFTP server for tests: asyncssh's, in a thread, on 127.0.0.1 with a random port,
a fresh host key, password authentication and a chroot folder."""

from __future__ import annotations

import asyncio
import secrets
import threading
from pathlib import Path
from typing import Any

import asyncssh


class _Auth(asyncssh.SSHServer):
    def __init__(self, owner: SftpServer) -> None:
        self.owner = owner

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.owner.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (self.owner.username, self.owner.password)


class SftpServer:
    """``start()`` listens (again on the same port after ``stop()``); ``stop()`` also drops
    every open connection, as a server that goes away does."""

    def __init__(self, root: Path, username: str = "shop") -> None:
        self.root = root
        self.username = username
        self.password = secrets.token_urlsafe(16)
        self.port = 0
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.connections: list[asyncssh.SSHServerConnection] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: Any = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> SftpServer:
        async def listen() -> Any:
            return await asyncssh.listen(
                "127.0.0.1", self.port, server_host_keys=[self.key],
                server_factory=lambda: _Auth(self),
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)))

        self._server = self._run(listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
            for conn in self.connections:
                conn.close()
            self.connections.clear()

        if self._server is not None:
            self._run(close())
            self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def known_hosts(self, path: Path) -> Path:
        """Write a known_hosts file that trusts this server's key (and no other)."""
        key = self.key.export_public_key().decode().split()[:2]
        path.write_text(f"[127.0.0.1]:{self.port} {' '.join(key)}\n")
        return path

    def url(self, folder: str) -> str:
        return f"sftp://{self.username}@127.0.0.1:{self.port}/{folder}"
