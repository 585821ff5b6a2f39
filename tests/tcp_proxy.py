"""A small threaded TCP proxy for fault tests: put it between a client and a server, then
``close()`` it to simulate an outage (nothing listens, every live connection is cut) and
``reopen()`` it to end the outage on the same port.

    proxy = TcpProxy(3306)          # listens on 127.0.0.1:<ephemeral>, forwards to :3306
    url = db.url.set(port=proxy.port)
    proxy.close(); time.sleep(20); proxy.reopen()
    proxy.close()                   # for good; TcpProxy is also a context manager

Sockets are only ever shut down from a foreign thread; each is closed by the thread that
owns it, so a file descriptor cannot be reused under a thread still blocked on it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CHUNK = 65536
ACCEPT_POLL_S = 0.05


class _Pair:
    """One proxied connection: the client's socket and ours to the server."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.sockets = (client, upstream)
        self._running = 2
        self._lock = threading.Lock()

    def cut(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def pump_done(self) -> None:
        """Called by each of the two pumps on exit; the last one closes both sockets."""
        self.cut()
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            for sock in self.sockets:
                sock.close()


class TcpProxy:
    """Forwards connections from 127.0.0.1:``port`` to ``target_host``:``target_port``.

    Args:
        target_port: where to forward to.
        target_host: the server's address (default 127.0.0.1).
        port: the port to listen on; 0 picks a free one, which every ``reopen()`` reuses.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.accepted = 0               # connections accepted so far, all openings together
        self.cut = 0                    # live connections cut by close()
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._open = threading.Event()
        self._acceptor: threading.Thread | None = None
        self.reopen()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    @property
    def live(self) -> int:
        """Connections being forwarded right now."""
        with self._lock:
            return len(self._pairs)

    def reopen(self) -> None:
        """Listen (again) on the same port; a no-op while open."""
        with self._lock:
            if self._open.is_set():
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind(("127.0.0.1", self.port))
            except OSError:
                listener.close()
                raise
            listener.listen(128)
            listener.settimeout(ACCEPT_POLL_S)
            self.port = listener.getsockname()[1]
            self._open.set()
            self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,),
                                              name=f"tcp-proxy-{self.port}", daemon=True)
            self._acceptor.start()

    def close(self) -> None:
        """Stop listening (new connections are refused) and cut every live connection."""
        with self._lock:
            self._open.clear()
            acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.join(timeout=5)     # it closes the listening socket on its way out
        with self._lock:
            pairs, self._pairs = self._pairs, set()
            self.cut += len(pairs)
        for pair in pairs:
            pair.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        try:
            while self._open.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                self._forward(client)
        finally:
            listener.close()

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(client, upstream)
        with self._lock:
            self._pairs.add(pair)
            self.accepted += 1
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True,
                             name=f"tcp-proxy-{self.port}-pump").start()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            pair.pump_done()
