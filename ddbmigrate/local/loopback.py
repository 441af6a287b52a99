"""A threaded HTTP proxy on a free loopback port, relaying to one local upstream.

The lifecycle both local proxies share: :class:`~ddbmigrate.local.faults.FaultProxy` (faults in
front of DynamoDB Local) and :class:`~ddbmigrate.local.recorder.RequestRecorder` (request counts in
front of moto's S3). ``stop`` closes every open connection, so a test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from ddbmigrate.errors import ConfigError, LocalStackError

__all__ = ["LoopbackProxy", "RelayHandler"]


class RelayHandler(BaseHTTPRequestHandler):
    """What a relaying handler shares: keep-alive, one upstream connection per client connection,
    no access log (tests read counts instead)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle on, the client's delayed ACK would add
    # ~40 ms to every answer.
    disable_nagle_algorithm = True
    upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: Any) -> None:
        return

    def finish(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        super().finish()


class LoopbackProxy:
    """Listens on 127.0.0.1 and hands each connection to :meth:`_handler_class`'s handler."""

    thread_name = "loopback-proxy"

    def __init__(self, upstream_url: str, *, what: str) -> None:
        parsed = urllib.parse.urlsplit(upstream_url)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise ConfigError(f"upstream_url: expected http://HOST:PORT ({what}), got {upstream_url!r}")
        self.upstream = (parsed.hostname, parsed.port)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _on_start(self) -> None:
        """Called just before the server starts serving (reset clocks here)."""

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise LocalStackError(f"the {self.thread_name} is not started; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        proxy = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def process_request(self, request: Any, client_address: Any) -> None:
                with proxy._lock:
                    proxy._connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request: Any) -> None:
                with proxy._lock:
                    proxy._connections.discard(request)
                super().shutdown_request(request)

        self._server = Server(("127.0.0.1", 0), self._handler_class())
        self._on_start()
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            open_connections = list(self._connections)
            self._connections.clear()
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
