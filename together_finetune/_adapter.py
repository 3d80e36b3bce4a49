"""The HTTP adapter every session of the client mounts: proxy per URL, the client's trust.

Loaded with requests, at the first request (``_network.py`` holds what ``Client()``
checks at once).
"""

from __future__ import annotations

import ssl
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import requests
import requests.adapters

from ._network import ProxyChooser, Trust

__all__ = ["NetworkAdapter"]


class NetworkAdapter(requests.adapters.HTTPAdapter):
    """An adapter that picks each request's proxy from its URL and verifies with ``trust``.

    Whatever a caller passes as ``proxies`` or ``verify`` is ignored: every request the
    session sends, each redirect included, goes the way the client was configured. An
    :class:`ssl.SSLContext` is handed to urllib3's pool managers as it is.
    """

    def __init__(self, *, chooser: ProxyChooser, trust: Trust, **kwargs: Any) -> None:
        self.chooser = chooser
        self.trust = trust
        self._context = trust if isinstance(trust, ssl.SSLContext) else None
        super().__init__(**kwargs)  # builds the pool manager: the context must be known

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._context is not None:
            kwargs["ssl_context"] = self._context
        # typed in newer types-requests only (the Python 3.9 check uses an older one)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[no-untyped-call,unused-ignore]

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        if self._context is not None:
            proxy_kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **proxy_kwargs)  # type: ignore[no-untyped-call,unused-ignore]

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self._context is None:  # a context carries its own store: load no other
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Optional[Mapping[str, str]] = None,
    ) -> requests.Response:
        url = request.url or ""
        proxy = self.chooser.for_url(url)
        chosen = {urlsplit(url).scheme.lower(): proxy} if proxy else {}
        verify = True if self._context is not None else self.trust
        return super().send(request, stream, timeout, verify, cert, chosen)
