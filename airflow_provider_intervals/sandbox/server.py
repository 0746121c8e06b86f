"""HTTP/1.1 transport for the sandbox: keep-alive, always a Content-Length, loopback by default.

Faults that concern the wire happen here: a *dropped* request is fully processed (a POST
has created its object) and then the connection is closed with no response; a *truncated*
response (``truncate_mode="wire"``) announces its full Content-Length but sends half the
body, then closes; a *short* one (``truncate_mode="short"``, 2xx only) sends half the body
with a Content-Length that matches it and keeps the connection alive: valid HTTP, invalid JSON.
What http.server itself rejects (a bad request line, oversized headers, a method with no
handler) is answered in the API's error envelope too, not with its HTML page.
Out-of-process control lives under ``/_sandbox/`` (no API key; not an API path):
``GET /_sandbox/stats``, ``POST /_sandbox/reset-stats``, ``GET /_sandbox/faults`` and
``POST /_sandbox/faults`` (a JSON object of
:meth:`~airflow_provider_intervals.sandbox.app.Sandbox.set_faults` keyword arguments).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_intervals.sandbox.faults import cut_short
from airflow_provider_intervals.sandbox.replies import Reply, error

CONTROL_PREFIX = "/_sandbox/"

# (method, target, headers, body) -> the reply: the API's answer.
#: Answers an API request: method, path with query, headers, body.
Handle = Callable[[str, str, Mapping[str, str], bytes], Reply]
# (method, name after /_sandbox/, body) -> the reply: the control endpoints' answer.
#: Answers a ``/_sandbox/`` control request: method, path, body.
Control = Callable[[str, str, bytes], Reply]


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections so ``stop`` can close them.

    :param address: ``(host, port)`` to bind; port 0 picks a free one.
    :param handle: answers an API request (the sandbox's
        :class:`~airflow_provider_intervals.sandbox.service.Service`).
    :param control: answers a ``/_sandbox/`` control request.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handle: Handle, control: Control) -> None:
        self.handle = handle
        self.control = control
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, SandboxRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then serve it in its own thread."""
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection and close it."""
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection (their threads then exit)."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Read a request, let the server's handler answer it, write (or sabotage) the reply."""

    protocol_version = "HTTP/1.1"
    server_version = "IntervalsSandbox/1.0"
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the sandbox keeps counters instead of access logs."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """Serve a PUT (always 404 or 405)."""
        self._serve("PUT")

    def do_PATCH(self) -> None:
        """Serve a PATCH (always 404 or 405)."""
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        """Serve a DELETE (always 404 or 405)."""
        self._serve("DELETE")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer what http.server itself rejects in the API's error envelope, then close.

        A bad request line, oversized headers or a method with no handler would otherwise
        get http.server's HTML page.

        :param code: the HTTP status.
        :param message: http.server's reason, sent as the error's message.
        :param explain: http.server's longer explanation (not sent: the message says enough).
        """
        status = HTTPStatus(code)
        # Until it has read a version, http.server assumes HTTP/0.9 and would send no status line.
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self.close_connection = True
        reply = error(code, status.name, message or status.phrase)
        reply.headers.append(("Connection", "close"))
        if self.command == "HEAD":
            reply.body = b""
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return None
        length = self.headers.get("Content-Length")
        try:
            n = int(length) if length else 0
        except ValueError:
            return None
        return self.rfile.read(n) if n > 0 else b""

    def _serve(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(error(400, "BAD_REQUEST", "Send a body with a valid Content-Length"))
            return
        if self.path.startswith(CONTROL_PREFIX):
            self._send(self.server.control(method, self.path[len(CONTROL_PREFIX) :], body))
            return
        reply = self.server.handle(method, self.path, self.headers, body)
        if reply.fault == "drop":
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        # A short body is cut before its length is announced: the framing stays right.
        body = cut_short(reply.body) if reply.fault == "truncate_short" else reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.fault == "truncate":  # a wire cut: less than announced, then the connection ends
            self.send_header("Connection", "close")
            self.close_connection = True
            body = cut_short(body)
        # Headers and body in one write: two small writes would meet Nagle/delayed-ACK stalls.
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()
