"""A loopback pass-through proxy that records every request: method, path, and the signing key id.

moto's server keeps no request log, yet some guarantees are only visible on the wire — "each data
file is read once per pass", "dead letters are stored with the job's own credentials". Put a
:class:`RequestRecorder` in front of the local S3 and point a profile's S3 endpoint at it
(:func:`ddbmigrate.local.stack.extra_profile`)::

    with RequestRecorder(stack.s3) as recorder, extra_profile(stack, "counted", like="target",
                                                               endpoints={"s3": recorder.endpoint}):
        ...
        recorder.count("GET", "/bucket/key")

Requests and answers pass unchanged (bodies are read whole: local test traffic only). The access
key id comes from the SigV4 ``Authorization`` header; nothing else of it (no signature, no secret)
is kept. At most ``max_entries`` distinct (method, path, key) entries are kept; later new ones
are only counted in :attr:`RequestRecorder.overflow`.
"""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from ddbmigrate.local.loopback import LoopbackProxy, RelayHandler

__all__ = ["RecordedRequest", "RequestRecorder"]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
                         "host", "content-length"})


@dataclass(frozen=True)
class RecordedRequest:
    """One kind of request seen: its method, its path (query string aside) and who signed it."""

    method: str
    path: str
    access_key: str | None


class RequestRecorder(LoopbackProxy):
    """Relays every request to ``upstream_url`` and counts it (module docstring)."""

    thread_name = "request-recorder"

    def __init__(self, upstream_url: str, *, max_entries: int = 10_000) -> None:
        super().__init__(upstream_url, what="the local S3")
        self.max_entries = max_entries
        self.overflow = 0
        self._seen: Counter[RecordedRequest] = Counter()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    def _record(self, method: str, raw_path: str, authorization: str | None) -> None:
        match = _CREDENTIAL.search(authorization or "")
        entry = RecordedRequest(method, urllib.parse.unquote(raw_path.split("?", 1)[0]), match.group(1) if match else None)
        with self._lock:
            if entry in self._seen or len(self._seen) < self.max_entries:
                self._seen[entry] += 1
            else:
                self.overflow += 1

    def requests(self) -> dict[RecordedRequest, int]:
        """A snapshot: each kind of request and how many times it came."""
        with self._lock:
            return dict(self._seen)

    def count(self, method: str, path: str) -> int:
        """How many ``method`` requests reached ``path`` (any signer)."""
        return sum(n for r, n in self.requests().items() if r.method == method and r.path == path)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
            self.overflow = 0


def _handler_class(recorder: RequestRecorder) -> type[BaseHTTPRequestHandler]:
    class Handler(RelayHandler):
        def do_GET(self) -> None:
            self._relay()

        do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _relay(self) -> None:
            body = self._body()
            recorder._record(self.command, self.path, self.headers.get("Authorization"))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Host"] = self.headers.get("Host", "")
            headers["Content-Length"] = str(len(body))
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*recorder.upstream, timeout=60)
            try:
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                response = self.upstream.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                self.upstream.close()
                self.upstream = None
                self.close_connection = True
                self.send_error(502, "request recorder: the upstream did not answer")
                return
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            head_length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", head_length or str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)
            self.wfile.flush()

    return Handler
