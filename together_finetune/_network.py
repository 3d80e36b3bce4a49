"""Where requests go and whom they trust: proxies per URL, the CA store, the HTTP adapter.

Part of the transport layer. :class:`ProxyChooser` picks the proxy of each request from
its own URL (``Client(proxies=...)``, else ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``
and ``NO_PROXY``), cached per scheme, host and port. :func:`resolve_trust` turns
``Client(verify=...)`` or the environment into what the adapter verifies with.
The adapter (``_adapter.py``) applies both to every request a session sends, redirects
included, so no caller has to remember either. :func:`certificate_failure` recognises a
failed certificate check and says how to trust a private certificate authority.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from ._redact import hide_credentials
from .errors import APIConnectionError, TogetherError

if TYPE_CHECKING:  # ssl and urllib.request load when a client is made, not at import
    import ssl

__all__ = [
    "TRUST_VARIABLES",
    "ProxyChooser",
    "Trust",
    "certificate_failure",
    "is_loopback",
    "nothing_was_sent",
    "resolve_trust",
]

#: What the adapter verifies servers with: a flag, a CA file or directory, or a context.
Trust = Union[bool, str, "ssl.SSLContext"]
#: The environment variables naming a CA bundle, the first that is set winning.
TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


# -- proxies -------------------------------------------------------------------------------


class _NoProxy:
    """The hosts ``NO_PROXY`` exempts: names and ``.domain`` suffixes, IPs, CIDR ranges,
    each optionally with a port."""

    def __init__(self, value: Optional[str]) -> None:
        self.everything = False
        self.names: List[Tuple[str, Optional[int]]] = []
        self.networks: List[Tuple[_Network, Optional[int]]] = []
        for entry in re.split(r"[,\s]+", value or ""):
            entry = entry.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                continue
            host, port = _split_port(entry)
            try:
                self.networks.append((ipaddress.ip_network(host, strict=False), port))
                continue
            except ValueError:
                pass
            name = host.lstrip("*").lstrip(".").rstrip(".")
            if name:
                self.names.append((name, port))

    def exempts(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        try:
            address: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]] = (
                ipaddress.ip_address(host)
            )
        except ValueError:
            address = None
        if address is not None:
            for network, wanted in self.networks:
                if address in network and wanted in (None, port):
                    return True
        for name, wanted in self.names:
            if (host == name or host.endswith("." + name)) and wanted in (None, port):
                return True
        return False


def _split_port(entry: str) -> Tuple[str, Optional[int]]:
    """``host:port``, ``[v6]:port``, a bare IPv6 address or CIDR range, or a host alone."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


class ProxyChooser:
    """The proxy of each URL, from ``Client(proxies=...)`` or else the environment.

    :param proxies: a mapping like requests' (keys ``"https"``, ``"http"``, ``"all"``,
        ``"https://host"``, ``"all://host"`` and ``"no_proxy"``); an empty mapping means
        no proxy at all. ``None``: the environment, read once, in upper or lower case.
    """

    def __init__(self, proxies: Optional[Mapping[str, str]] = None) -> None:
        if proxies is None:
            import urllib.request

            found = urllib.request.getproxies_environment()
            no_proxy = found.pop("no", None)
        else:
            found = dict(proxies)
            no_proxy = found.pop("no_proxy", None)
        self._mapping = {key.lower(): value for key, value in found.items() if value}
        self._no_proxy = _NoProxy(no_proxy)
        self._cache: Dict[Tuple[str, str, int], Optional[str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        shown = {key: hide_credentials(value) for key, value in self._mapping.items()}
        return f"ProxyChooser({shown!r})"

    def for_url(self, url: str) -> Optional[str]:
        """The proxy URL for a request to ``url``, or ``None`` to connect directly."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        except ValueError:
            port = 0
        key = (scheme, host, port)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        chosen: Optional[str] = None
        if self._mapping and not self._no_proxy.exempts(host, port):
            named = host if parts.port is None else f"{host}:{parts.port}"
            for candidate in (f"{scheme}://{named}", f"{scheme}://{host}", scheme):
                chosen = chosen or self._mapping.get(candidate)
            for candidate in (f"all://{named}", f"all://{host}", "all"):
                chosen = chosen or self._mapping.get(candidate)
        with self._lock:
            self._cache[key] = chosen
        return chosen


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def nothing_was_sent(exc: BaseException) -> bool:
    """True when a transport error happened before the request reached the server."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return isinstance(
            inner, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        )
    return False


# -- trust ---------------------------------------------------------------------------------


def resolve_trust(verify: object, environ: Mapping[str, str] = os.environ) -> Trust:
    """What to verify servers with, from ``Client(verify=...)`` or the environment.

    ``None`` reads :data:`TRUST_VARIABLES` in order (the first set one wins), else
    ``True`` (certifi's store).

    :raises ValueError: for a ``verify`` of the wrong type, or a path that does not exist.
    :raises TogetherError: for an environment variable naming a path that does not exist.
    """
    if verify is None:
        for name in TRUST_VARIABLES:
            value = environ.get(name, "").strip()
            if value:
                if not os.path.exists(value):
                    raise TogetherError(
                        f"{name} names {value}, which does not exist: point it at a CA "
                        "bundle file or directory, or unset it"
                    )
                return value
        return True
    import ssl

    if isinstance(verify, (bool, ssl.SSLContext)):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        path = os.fspath(verify)
        if not isinstance(path, str) or not os.path.exists(path):
            raise ValueError(f"verify names {path!r}, which is not a CA bundle file or directory")
        return path
    raise ValueError(
        "verify must be True, False, the path of a CA bundle file or directory, or an "
        f"ssl.SSLContext, got {type(verify).__name__}"
    )


def certificate_failure(exc: BaseException, url: str) -> Optional[APIConnectionError]:
    """The error for a server certificate that failed verification, else ``None``.

    It cannot heal by itself, so it is never retried; its message says how to trust a
    private certificate authority.
    """
    import ssl

    import requests

    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    seen: List[BaseException] = []
    pending: List[Any] = [exc]
    verified_error: Optional[BaseException] = None
    while pending and len(seen) < 20:
        item = pending.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        if isinstance(item, ssl.SSLCertVerificationError):
            verified_error = item
            break
        pending.extend(item.args)
        pending.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
    text = str(verified_error if verified_error is not None else exc)
    if verified_error is None and "CERTIFICATE_VERIFY_FAILED" not in text:
        return None
    reason = getattr(verified_error, "verify_message", None) or "certificate verify failed"
    # The pool that failed knows the host (a redirect target may not be ``url``'s).
    pool = getattr(exc.args[0] if exc.args else None, "pool", None)
    host = getattr(pool, "host", None) or urlsplit(url).hostname or "the server"
    return APIConnectionError(
        f"the server's certificate for {host} could not be verified ({reason}). If your "
        "network uses a private certificate authority, trust it: pass "
        "verify='/path/to/ca.pem' to Client, or set REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
        "to its file (command line: --ca-bundle PATH)"
    )
