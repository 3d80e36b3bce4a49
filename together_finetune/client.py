"""The :class:`Client`: configuration, the transport, and the resource namespaces."""

from __future__ import annotations

import os
import threading
import time
from collections import abc
from types import TracebackType
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Union
from urllib.parse import urlsplit

import attrs

from ._checks import check_flag
from ._hooks import ResponseHook
from .errors import TogetherError
from .transport import DEFAULT_TIMEOUT, RetryPolicy, Timeout, Transport, configure_logging_from_env

if TYPE_CHECKING:  # the namespaces load on first use, keeping `import` fast for CLIs
    import ssl

    from .files import Files
    from .fine_tunes import FineTunes

__all__ = ["DEFAULT_BASE_URL", "Client"]

DEFAULT_BASE_URL = "https://api.together.ai/v1"


def _resolve_base_url(base_url: Optional[str]) -> str:
    url = (base_url or os.environ.get("TOGETHER_BASE_URL") or DEFAULT_BASE_URL).strip()
    if urlsplit(url).path.strip("/") == "":
        # Other Together SDKs take the bare host; the API lives under /v1.
        url = url.rstrip("/") + "/v1"
    return url.rstrip("/")


def _check_options(
    *,
    api_key: object,
    base_url: object,
    retry: object,
    default_headers: object,
    sleep: object,
    clock: object,
    pool_maxsize: object,
    allow_insecure_http: object,
    proxies: object,
    on_response: object,
) -> None:
    """Raise ``ValueError`` for a client option of the wrong type (the key never shown)."""
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError(f"api_key must be a string, got {type(api_key).__name__}")
    if base_url is not None and not isinstance(base_url, str):
        raise ValueError(f"base_url must be a string, got {base_url!r}")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValueError(f"retry must be a RetryPolicy, got {retry!r}")
    if default_headers is not None:
        # Header values may hold credentials: only the names are shown.
        if not isinstance(default_headers, abc.Mapping):
            kind = type(default_headers).__name__
            raise ValueError(f"default_headers must be a mapping, got {kind}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in default_headers.items()):
            names = list(default_headers)
            raise ValueError(f"default_headers must map strings to strings, got {names!r}")
    for name, value in (("sleep", sleep), ("clock", clock)):
        if not callable(value):
            raise ValueError(f"{name} must be a callable, got {value!r}")
    if not isinstance(pool_maxsize, int) or isinstance(pool_maxsize, bool) or pool_maxsize < 1:
        raise ValueError(f"pool_maxsize must be an integer >= 1, got {pool_maxsize!r}")
    check_flag(allow_insecure_http, "allow_insecure_http")
    if proxies is not None:
        # Proxy URLs may hold passwords: only the keys are shown.
        if not isinstance(proxies, abc.Mapping):
            raise ValueError(f"proxies must be a mapping, got {type(proxies).__name__}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in proxies.items()):
            names = list(proxies)
            raise ValueError(f"proxies must map strings to strings, got keys {names!r}")
    if on_response is not None and not callable(on_response):
        raise ValueError(f"on_response must be a callable, got {type(on_response).__name__}")


class Client:
    """A client for Together's fine-tuning API.

    :param api_key: the API key; defaults to ``TOGETHER_API_KEY``.
    :param base_url: defaults to ``TOGETHER_BASE_URL``, else ``https://api.together.ai/v1``.
        A URL without a path gets ``/v1`` appended.
    :param timeout: seconds, or a ``(connect, read)`` pair; default ``(5, 60)``.
        Every method also takes ``timeout=``.
    :param max_retries: retries after a failed attempt (default 2); shorthand for
        ``retry=RetryPolicy(max_retries=...)``.
    :param retry: the full :class:`RetryPolicy`.
    :param default_headers: extra headers sent with every request.
    :param sleep: the function used to wait between retries and polls (tests
        pass one that does not really sleep).
    :param clock: a monotonic clock in seconds, used by ``wait`` and
        ``files.wait_until_processed`` for their timeouts.
    :param pool_maxsize: connections kept per host; size it to your thread count.
    :param allow_insecure_http: allow sending the key over ``http://`` to a
        non-loopback host.
    :param proxies: the proxies to use, a mapping like requests' (``{"https":
        "http://proxy:3128", "no_proxy": "internal.example"}``); an empty mapping means
        no proxy. By default ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and
        ``NO_PROXY`` are read (upper or lower case). Each request, storage and
        redirects included, picks the proxy for its own URL.
    :param verify: how servers' certificates are checked: ``True`` (certifi's store),
        ``False`` (not at all: logs a warning), the path of a CA bundle file or
        directory, or an :class:`ssl.SSLContext` (e.g. ``truststore.SSLContext`` for the
        operating system's store). By default the first set of ``REQUESTS_CA_BUNDLE``,
        ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, else ``True``.
    :param on_response: called with a :class:`~together_finetune.ResponseInfo` after
        every HTTP attempt (retries, storage uploads and download pieces included), in
        the thread that made it. An exception it raises is logged once and ignored.

    One client may be shared by every thread of a process, and survives a
    ``fork`` (the child opens its own connections). Use it as a context manager,
    or call :meth:`close`, to release its connections::

        with Client() as client:
            job = client.fine_tunes.retrieve("ft-...")
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: Optional[int] = None,
        retry: Optional[RetryPolicy] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pool_maxsize: int = 32,
        allow_insecure_http: bool = False,
        proxies: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str, os.PathLike[str], ssl.SSLContext, None] = None,
        on_response: Optional[ResponseHook] = None,
    ) -> None:
        _check_options(
            api_key=api_key,
            base_url=base_url,
            retry=retry,
            default_headers=default_headers,
            sleep=sleep,
            clock=clock,
            pool_maxsize=pool_maxsize,
            allow_insecure_http=allow_insecure_http,
            proxies=proxies,
            on_response=on_response,
        )
        key = api_key if api_key is not None else os.environ.get("TOGETHER_API_KEY")
        if not key or not key.strip():
            raise TogetherError(
                "no API key: pass api_key=... or set the TOGETHER_API_KEY environment variable"
            )
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=max_retries)
        configure_logging_from_env()
        self.clock = clock
        self._transport = Transport(
            api_key=key.strip(),
            base_url=_resolve_base_url(base_url),
            timeout=timeout,
            retry=policy,
            default_headers=default_headers,
            sleep=sleep,
            pool_maxsize=pool_maxsize,
            allow_insecure_http=allow_insecure_http,
            proxies=proxies,
            verify=verify,
            on_response=on_response,
        )
        self._namespaces_lock = threading.Lock()
        self._fine_tunes: Optional[FineTunes] = None
        self._files: Optional[Files] = None

    @property
    def fine_tunes(self) -> FineTunes:
        """Fine-tuning jobs: create, list, retrieve, cancel, events, download, wait, ..."""
        if self._fine_tunes is None:
            from .fine_tunes import FineTunes

            with self._namespaces_lock:
                if self._fine_tunes is None:
                    self._fine_tunes = FineTunes(self._transport, clock=self.clock)
        return self._fine_tunes

    @property
    def files(self) -> Files:
        """Training data: upload, list, retrieve, delete, content."""
        if self._files is None:
            from .files import Files

            with self._namespaces_lock:
                if self._files is None:
                    self._files = Files(self._transport, clock=self.clock)
        return self._files

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._transport.base_url

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._transport.retry

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"
