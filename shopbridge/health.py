"""The service's HTTP endpoint (P7): ``/metrics`` (Prometheus), ``/healthz`` (the broker and
the databases reachable) and ``/readyz`` (healthy, and keeping up: lag under a threshold).

Checks run when asked, each with a time limit, so a probe answers within about two seconds
even when a database hangs; an orchestrator that probes every few seconds sees an outage
within one probe of it and the recovery likewise. The server runs in a daemon thread and never
touches the consume loop's connections.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.pool import NullPool

from . import brokers
from .config import BrokerConfig, DatabaseConfig
from .db import create_engine, translated
from .errors import ConfigError, ShopbridgeError

log = logging.getLogger(__name__)

# A check returns None when all is well, else why not (one line, no secret).
Check = Callable[[], str | None]
CHECK_TIMEOUT_S = 2.0


def reachable(broker: BrokerConfig, databases: Mapping[str, DatabaseConfig]
              ) -> dict[str, Check]:
    """Checks for a service that holds no long-lived connection of its own to show (the
    producers): each probe opens one to the broker and to each database and closes it."""
    def broker_check() -> str | None:
        try:
            brokers.probe(broker, retries=0)
        except ShopbridgeError as err:
            return str(err)
        return None

    def database_check(what: str, db: DatabaseConfig) -> Check:
        def check() -> str | None:
            engine = create_engine(db, poolclass=NullPool)
            try:
                with translated(what), engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            except ShopbridgeError as err:
                return str(err)
            finally:
                engine.dispose()
            return None
        return check

    checks: dict[str, Check] = {"broker": broker_check}
    checks.update({name: database_check(name, db) for name, db in databases.items()})
    return checks


def ready_always() -> str | None:
    return None


class HealthServer:
    """Args:
        port: where to listen (0: any free port, see ``port`` after ``start``).
        checks: name -> check, all of which must pass for /healthz.
        ready: the extra check of /readyz.
    """

    def __init__(self, *, port: int, checks: Mapping[str, Check], ready: Check,
                 host: str = "0.0.0.0") -> None:  # noqa: S104 - probes come from outside
        self.checks = dict(checks)
        self.ready = ready
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health-check")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/readyz"):
                    results = server.run_checks(ready=path == "/readyz")
                    ok = all(v == "ok" for v in results.values())
                    body = orjson.dumps({"status": "ok" if ok else "unhealthy",
                                         "checks": results}) + b"\n"
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass        # probes every few seconds would drown the service's own lines

        try:
            self._httpd = ThreadingHTTPServer((host, port), Handler)
        except OSError as err:
            raise ConfigError(f"metrics and health port {port}: {err.strerror or err}") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="health-http",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def run_checks(self, *, ready: bool) -> dict[str, str]:
        checks = dict(self.checks)
        if ready:
            checks["ready"] = self.ready
        futures = {name: self._pool.submit(check) for name, check in checks.items()}
        results = {}
        for name, future in futures.items():
            try:
                problem = future.result(timeout=CHECK_TIMEOUT_S)
            except FutureTimeout:
                problem = f"no answer within {CHECK_TIMEOUT_S:g} s"
            except Exception as err:   # a check must never take the endpoint down
                problem = f"{type(err).__name__}: {err}"
            results[name] = "ok" if problem is None else problem
        return results

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("metrics and health on port %d (/metrics, /healthz, /readyz)", self.port)
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
