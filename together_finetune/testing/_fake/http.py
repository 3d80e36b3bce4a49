"""HTTP plumbing: a threaded keep-alive HTTP/1.1 server that runs a WSGI app.

Built on the documented extension points of :mod:`http.server` and :mod:`socketserver`
(``do_<METHOD>``, ``send_response_only``, ``handle_error``), so the fake overrides no
werkzeug internals; werkzeug does the routing and ``Range`` handling inside the apps.
A fault drops a connection by raising :class:`DropConnection`, before or while sending.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.exchanges import RecordedRequest

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "CLOSE_AFTER",
    "DropConnection",
    "ServerThread",
    "json_response",
    "record",
]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], "Iterable[bytes]"]

#: environ key an app sets to have the connection closed after its response
CLOSE_AFTER = "fake.close_after"


class DropConnection(Exception):
    """Raised by an app, or by its body while it is sent, to shut the connection at once."""


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with ``status`` and extra ``headers``."""
    response = Response(json.dumps(body).encode(), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def record(request: Request, body: bytes, server: str) -> RecordedRequest:
    """The :class:`RecordedRequest` of ``request`` (whose body was ``body``)."""
    port = request.environ.get("REMOTE_PORT")
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query={key: values[-1] for key, values in request.args.lists()},
        headers=dict(request.headers.items()),
        body=body,
        server=server,
        client_port=int(port) if port else None,
    )


class _Gateway(BaseHTTPRequestHandler):
    """Runs the server's WSGI app for each request; keeps connections alive when it can."""

    protocol_version = "HTTP/1.1"
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]  # always our _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive exchange.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, open=False)

    def _run(self) -> None:
        environ = self._environ()
        pending: list[Any] = []
        sent = False

        def write(data: bytes) -> None:
            nonlocal sent
            if not sent:
                sent = True
                self._send_head(environ, *pending)
            if data:
                self.wfile.write(data)

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            pending[:] = [status, headers]
            return write

        try:
            body = self.server.app(environ, start_response)
            try:
                for chunk in body:
                    write(chunk)
                if not sent:
                    write(b"")
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            self.wfile.flush()
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        except Exception:  # a client that went away, or a bug: never a traceback
            self.close_connection = True
            if not sent:
                with contextlib.suppress(OSError):
                    self.send_response_only(500, "Internal Server Error")
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _run

    def _send_head(
        self, environ: dict[str, Any], status: str, headers: list[tuple[str, str]]
    ) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response_only(code, reason)
        names = {key.lower() for key, _ in headers}
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        self.send_header("Server", "fake-together")
        for key, value in headers:
            self.send_header(key, value)
        bodiless = code in (204, 304) or environ["REQUEST_METHOD"] == "HEAD"
        # Without a length the body ends when the connection does.
        if ("content-length" not in names and not bodiless) or environ.get(CLOSE_AFTER):
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _environ(self) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "iso-8859-1"),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ssl_context is not None else "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            name = key.upper().replace("-", "_")
            if name == "CONTENT_TYPE":
                environ[name] = value
            elif name not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                name = "HTTP_" + name
                environ[name] = f"{environ[name]},{value}" if name in environ else value
        return environ

    def _read_chunked(self) -> bytes:
        data = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return bytes(data)
            data += self.rfile.read(size)
            self.rfile.readline()

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded TCP server that knows its open connections (to close them on stop)."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections
    # (many threads starting at once), which then wait out TCP's 1 s retransmission.
    request_queue_size = 128

    def __init__(
        self, host: str, port: int, app: WSGIApp, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Gateway)
        self.app = app
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, connection: socket.socket, *, open: bool) -> None:
        with self._lock:
            if open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def shut_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection; over TLS, shake hands first, in the connection's thread."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)  # a client that never completes the handshake
        tls = self.ssl_context.wrap_socket(request, server_side=True)
        try:
            tls.settimeout(None)
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print nothing: a fake never shows tracebacks for clients that went away."""


class ServerThread:
    """A WSGI app served on ``host:port`` (0: any free port) from a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WSGIApp,
        name: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        url_host: str | None = None,
    ) -> None:
        """Bind now (raises :class:`OSError` if the address cannot be bound); serve on start.

        With ``ssl_context`` it serves HTTPS; ``url_host`` names the host in :attr:`url`
        (default: ``host``).
        """
        self._server = _Server(host, port, app, ssl_context)
        self.host = host
        self.url_host = url_host or host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=name
        )
        self._thread.daemon = True
        self._started = self._stopped = False

    @property
    def url(self) -> str:
        """``http://host:port`` (``https://`` over TLS)."""
        host = f"[{self.url_host}]" if ":" in self.url_host else self.url_host
        scheme = "https" if self._server.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        """Start serving."""
        self._started = True
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._started:  # shutdown() waits for a serve_forever that never ran otherwise
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self._server.shut_connections()
