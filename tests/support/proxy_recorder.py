"""A proxy.py plugin that writes one line per request the proxy receives (loaded by proxy.py).

Each line is ``METHOD host:port`` (``CONNECT host:port`` for a tunnel), appended to the
file named by ``PROXY_RECORD`` when the request arrives, before the proxy forwards it:
by the time the client has its answer, the line is on disk.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from proxy.http.proxy import HttpProxyBasePlugin


class Recorder(HttpProxyBasePlugin):  # type: ignore[misc]
    """Record each request: the first of a connection and every one after it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first: Optional[Any] = None  # kept alive: compared by identity

    def before_upstream_connection(self, request: Any) -> Optional[Any]:
        self._first = request  # the connection's first request
        self._record(request)
        return request

    def handle_client_request(self, request: Any) -> Optional[Any]:
        if request is not self._first:  # proxy.py hands the first one here too
            self._record(request)
        return request

    def _record(self, request: Any) -> None:
        method = (request.method or b"?").decode()
        host = (request.host or b"?").decode()
        with open(os.environ["PROXY_RECORD"], "a", encoding="utf-8") as record:
            record.write(f"{method} {host}:{request.port}\n")
