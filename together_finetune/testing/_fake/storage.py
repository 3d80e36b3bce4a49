"""The second fake server, playing object storage behind presigned URLs (on 127.0.0.2)."""

from __future__ import annotations

import hashlib
import secrets
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.bodies import Body, BodyServer, DownloadSpec, pace
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.http import DropConnection, ServerThread, record

__all__ = ["StorageServer"]


def _xml(status: int, code: str) -> Response:
    return Response(
        f"<Error><Code>{code}</Code></Error>".encode(), status, mimetype="application/xml"
    )


class StorageServer:
    """A second fake server playing object storage (presigned URLs).

    It serves redirected model downloads (with ``Range`` support), accepts ``PUT`` of raw
    bytes at any path (stored in :attr:`objects`), checks no credentials and records every
    request in :attr:`requests`.
    """

    def __init__(self, bodies: BodyServer | None = None) -> None:
        """Create a storage server that sends download bodies through ``bodies``."""
        self._bodies = bodies if bodies is not None else BodyServer()
        #: every request received, in order
        self.requests: list[RecordedRequest] = []
        #: bodies uploaded with PUT, by path
        self.objects: dict[str, bytes] = {}
        self._downloads: dict[str, DownloadSpec] = {}
        self._faults: list[list[Any]] = []  # [method, status or None for a drop, times left]
        self._lock = threading.Lock()
        self._thread: ServerThread | None = None

    def fail_next(self, method: str, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``method`` with ``status`` (body read first)."""
        with self._lock:
            self._faults.append([method, status, times])

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection of the next ``times`` requests with ``method`` unanswered."""
        with self._lock:
            self._faults.append([method, None, times])

    def register(self, path: str, spec: DownloadSpec) -> None:
        """Serve ``spec`` at ``path`` (a redirected download)."""
        with self._lock:
            self._downloads[path] = spec

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``"http://127.0.0.2:PORT"``."""
        if self._thread is None:
            raise RuntimeError("the storage server is not started")
        return self._thread.url

    def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """Start serving on 127.0.0.2, over HTTPS with ``ssl_context``.

        Where 127.0.0.2 cannot be bound it serves on 127.0.0.1 under the name
        ``localhost``: either way its host differs from the API's, so ``NO_PROXY`` can
        tell them apart.
        """
        name = "fake-together-storage"
        try:
            self._thread = ServerThread("127.0.0.2", 0, self._wsgi, name, ssl_context=ssl_context)
        except OSError:
            self._thread = ServerThread(
                "127.0.0.1", 0, self._wsgi, name, ssl_context=ssl_context, url_host="localhost"
            )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._thread.stop()

    def _take_fault(self, method: str) -> tuple[bool, int | None]:
        with self._lock:
            for fault in self._faults:
                if fault[0] == method and fault[2] > 0:
                    fault[2] -= 1
                    return True, fault[1]
        return False, None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.monotonic()
        request = Request(environ)
        body = request.get_data()
        if request.method == "PUT":
            # The body has arrived whole: hold the answer as long as it would take at the cap.
            pace(self._bodies.throttle, started, len(body))
        with self._lock:
            self.requests.append(record(request, body, "storage"))
            spec = self._downloads.get(request.path)
            stored = self.objects.get(request.path)
        faulty, status = self._take_fault(request.method)
        if faulty and status is None:
            raise DropConnection()
        if faulty:
            response = _xml(int(status or 500), "InternalError")
        elif request.method == "PUT":
            with self._lock:
                self.objects[request.path] = body
            response = Response(b"", status=200)
            digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
            response.headers["ETag"] = f'"{digest}"'
        elif request.method in ("GET", "HEAD") and spec is not None:
            response = self._bodies.serve(request, spec)
        elif request.method in ("GET", "HEAD") and stored is not None:
            response = self._bodies.serve(request, DownloadSpec(Body(data=stored)))
        else:
            response = _xml(404, "NoSuchKey")
        response.headers["x-request-id"] = "req-" + secrets.token_hex(12)
        return response(environ, start_response)
