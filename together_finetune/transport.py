"""HTTP transport: the session, auth, retries, timeouts, logging and error mapping.

Everything that talks to the API goes through :class:`Transport`. The retry
rules live here: :class:`RetryPolicy` (how often and how long to wait),
:data:`RETRYABLE_STATUSES` and :meth:`Transport._status_failure` (what may be
repeated); the upload PUT and the download resume loop (``_transfer/``) reuse
them. Keeping presigned URLs out of messages is :mod:`together_finetune._redact`'s job;
proxies and trust are :mod:`together_finetune._network`'s. Every HTTP request goes
through :meth:`Transport.send`, which reports it to the ``on_response`` hook.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import random
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

import attrs

from ._body import parse_json as parse_json
from ._body import paused_for, read_body
from ._checks import check_seconds
from ._hooks import AttemptReporter, ResponseHook
from ._network import (
    ProxyChooser,
    certificate_failure,
    is_loopback,
    nothing_was_sent,
    resolve_trust,
)
from ._redact import describe_transport_error, redacted_copy
from ._redact import redact_urls as redact_urls  # importable from here as before
from ._retry import Failure
from ._retry import call as retry_call
from ._timeouts import DEFAULT_TIMEOUT, Timeout, normalize_timeout
from ._version import __version__
from .errors import (
    APIConnectionError,
    APITimeoutError,
    RateLimitError,
    TogetherError,
    error_class_for_status,
)

if TYPE_CHECKING:  # requests and tenacity load with the first request, not at import
    import ssl

    import requests

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "Timeout",
    "Transport",
    "configure_logging_from_env",
    "logger",
    "normalize_timeout",
    "parse_retry_after",
]

logger = logging.getLogger("together_finetune")


#: Statuses after which a repeatable request is worth another try.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses after which the server certainly did not act on a non-idempotent request.
_NOT_ACTED_STATUSES = frozenset({429, 503})


def _count(_policy: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0, got {value!r}")


def _seconds(_policy: object, attribute: attrs.Attribute[float], value: object) -> None:
    check_seconds(value, attribute.name)


def _fraction(_policy: object, attribute: attrs.Attribute[float], value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be a number from 0 to 1, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How requests are retried.

    :param max_retries: retries after the first attempt (0 disables retrying).
    :param initial_delay: first backoff, in seconds; doubled on each retry.
    :param max_delay: largest backoff, in seconds.
    :param jitter: fraction of each backoff removed at random (0 to 1).
    :param max_retry_after: the longest ``Retry-After`` the client waits; a
        longer one raises at once, with the value on the error.
    :param download_resume_attempts: resume attempts without progress before a
        download gives up (reset whenever new bytes arrive).
    """

    max_retries: int = attrs.field(default=2, validator=_count)
    initial_delay: float = attrs.field(default=0.5, validator=_seconds)
    max_delay: float = attrs.field(default=8.0, validator=_seconds)
    jitter: float = attrs.field(default=0.25, validator=_fraction)
    max_retry_after: float = attrs.field(default=60.0, validator=_seconds)
    download_resume_attempts: int = attrs.field(default=5, validator=_count)

    def backoff(self, retry_number: int, rand: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based), with jitter."""
        exponent = min(max(retry_number - 1, 0), 64)  # 2**64 already exceeds any max_delay
        base = min(self.initial_delay * 2.0**exponent, self.max_delay)
        draw = random.random() if rand is None else rand
        return base * (1 - self.jitter * draw)

    def wait(
        self, retry_number: int, retry_after: Optional[float], rand: Optional[float] = None
    ) -> float:
        """Seconds to wait: the server's ``Retry-After`` when usable, else the backoff."""
        if retry_after is not None and 0 < retry_after <= self.max_retry_after:
            return float(retry_after)
        return self.backoff(retry_number, rand)


def parse_retry_after(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Read ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date) in seconds.

    Returns ``None`` when absent or unusable (zero, negative, inf, nan, garbage).
    """
    value: Optional[float] = None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
        except ValueError:
            value = None
    raw = headers.get("retry-after")
    if value is None and raw:
        try:
            value = float(raw)
        except ValueError:
            import email.utils

            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                value = when.timestamp() - (time.time() if now is None else now)
    if value is None or math.isnan(value) or math.isinf(value) or value <= 0:
        return None
    return value


def _message_from_body(body: Any, status: int, text: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    import requests.status_codes

    snippet = " ".join(text.split())[:200]
    reason = requests.status_codes._codes.get(status, ("error",))[0].replace("_", " ")  # type: ignore[attr-defined]
    return f"{reason} ({snippet})" if snippet else reason


class Transport:
    """Sends requests to the API: one per call, retried as the policy says.

    Safe to share between threads; after ``fork`` the child process opens its
    own connections (a new :class:`requests.Session`).
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        default_headers: Optional[Mapping[str, str]] = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_maxsize: int = 32,
        allow_insecure_http: bool = False,
        proxies: Optional[Mapping[str, str]] = None,
        verify: Union[bool, str, os.PathLike[str], ssl.SSLContext, None] = None,
        on_response: Optional[ResponseHook] = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TogetherError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
        if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
            raise TogetherError(
                f"refusing to send the API key over plain http to {parts.hostname}: use https, "
                "or pass allow_insecure_http=True if this network is trusted"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = normalize_timeout(timeout)
        self.retry = retry
        self.sleep = sleep
        self.pool_maxsize = pool_maxsize
        self._auth_header = f"Bearer {api_key}"
        self._default_headers = dict(default_headers or {})
        self._headers: Dict[str, str] = {}  # filled with the first session
        self._session_lock = threading.Lock()
        self._session: Optional[requests.Session] = None
        self._session_pid = 0
        self.proxies = ProxyChooser(proxies)
        self.trust = resolve_trust(verify)
        if self.trust is False:
            logger.warning(
                "verify=False: server certificates are not checked, so anyone on the network "
                "path can read and change this client's traffic, the API key included"
            )
        self._hooks = AttemptReporter(on_response) if on_response is not None else None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    # -- session ---------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The process's :class:`requests.Session` (recreated in a child after ``fork``)."""
        pid = os.getpid()
        session = self._session
        if session is None or self._session_pid != pid:
            with self._session_lock:
                if self._session is None or self._session_pid != pid:
                    self._session = self._new_session()
                    self._session_pid = pid
                session = self._session
        return session

    def _new_session(self) -> requests.Session:
        import requests

        from ._adapter import NetworkAdapter

        if not self._headers:
            self._headers = {
                "User-Agent": (
                    f"together-finetune/{__version__} python/{platform.python_version()} "
                    f"requests/{requests.__version__}"
                ),
                "Accept": "application/json",
                **self._default_headers,
            }
        session = requests.Session()
        # The adapter picks each request's proxy from its own URL and verifies with the
        # client's trust, redirects included.
        adapter = NetworkAdapter(
            chooser=self.proxies,
            trust=self.trust,
            pool_connections=4,
            pool_maxsize=self.pool_maxsize,
            max_retries=0,
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.clear()
        # The environment was read once, when the client was made; never let a ~/.netrc
        # entry replace the bearer token with basic auth.
        session.trust_env = False
        return session

    def close(self) -> None:
        """Close pooled connections (a later request opens new ones)."""
        with self._session_lock:
            if self._session is not None and self._session_pid == os.getpid():
                self._session.close()
            self._session = None

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/fine-tunes``."""
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json_body: Any = None,
        idempotent: Optional[bool] = None,
        timeout: Optional[Timeout] = None,
        stream: bool = False,
        headers: Optional[Mapping[str, str]] = None,
        uncertain_hint: str = "",
        content: Optional[bytes] = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send a request, retrying as the policy allows; return a 2xx response.

        :param idempotent: whether repeating the request is harmless (default:
            True for GET, HEAD and DELETE). Non-idempotent requests are retried
            only where the server certainly did not act.
        :param uncertain_hint: appended to the error when a non-idempotent request
            failed in a way that leaves its effect unknown.
        :param content: a raw body sent as is, instead of ``json_body`` (give its
            ``Content-Type`` in ``headers``).
        :param allow_redirects: follow redirects; with ``False`` a 3xx answer is
            returned like a 2xx one.
        :raises APIStatusError: for an error status, after any retries.
        :raises APIConnectionError: when no answer came, after any retries.
        """
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "DELETE")
        send_timeout = normalize_timeout(timeout) if timeout is not None else self.timeout
        body = None
        send_headers = dict(self._headers_for_api())
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            send_headers["Content-Type"] = "application/json"
        elif content is not None:
            body = content
        if headers:
            send_headers.update(headers)
        session = self.session
        attempts = 0

        def attempt() -> requests.Response:
            nonlocal attempts
            attempts += 1
            return self._attempt(
                session,
                method,
                self.url(path),
                params,
                body,
                send_headers,
                send_timeout,
                stream,
                idempotent,
                uncertain_hint,
                attempts,
                allow_redirects,
                what=f"{method} {path}",
            )

        return retry_call(
            attempt, policy=self.retry, sleep=self.sleep, budget=self.retry.max_retries
        )

    def attempt(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        what: str,
        params: Optional[Mapping[str, Any]] = None,
        timeout: Optional[Timeout] = None,
        authorized: bool = True,
    ) -> requests.Response:
        """One streamed, idempotent request to ``url``, not retried (for the transfer engines).

        Redirects are not followed: a 3xx comes back like a 2xx. ``authorized=False``
        sends no ``Authorization`` (a presigned storage URL).

        :raises Failure: classified as :meth:`request` would (the caller retries it).
        """
        send_timeout = normalize_timeout(timeout) if timeout is not None else self.timeout
        send_headers = dict(self._headers_for_api())
        if not authorized:
            del send_headers["Authorization"]
        send_headers.update(headers)
        return self._attempt(
            self.session,
            "GET",
            url,
            params,
            None,
            send_headers,
            send_timeout,
            True,
            True,
            "",
            1,
            False,
            what=what,
            auth=None if authorized else _strip_auth,
        )

    def send(
        self,
        method: str,
        url: str,
        *,
        session: Optional[requests.Session] = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One HTTP request through the session, reported to the ``on_response`` hook.

        ``kwargs`` go to :meth:`requests.Session.request`; its exceptions pass through. A
        failure (no answer, or a status of 400 or more) is reported once the retry engine
        running the attempt has decided whether to retry it.
        """
        if session is None:
            session = self.session
        if self._hooks is None:
            return session.request(method, url, **kwargs)
        return self._hooks.send(session, method, url, kwargs)

    def _headers_for_api(self) -> Dict[str, str]:
        self.session  # noqa: B018 - the first session fills the default headers
        return {**self._headers, "Authorization": self._auth_header}

    def request_json(
        self,
        method: str,
        path: str,
        *,
        then: Optional[Callable[[Any], Any]] = None,
        **kwargs: Any,
    ) -> Any:
        """Like :meth:`request`, returning the decoded JSON body, or ``then(body)``.

        A large body is parsed, given to ``then`` and freed with the cyclic collector
        paused (see :func:`parse_json`): between the parse and the decode a
        collection would scan the whole body and find nothing to free.
        """
        response = self.request(method, path, **kwargs)
        with paused_for(response):
            try:
                body = response.json()
            except ValueError as exc:
                from .errors import APIResponseValidationError

                raise APIResponseValidationError(
                    f"{method} {path} answered {response.status_code} with a body that is not JSON",
                    body=response.text[:200],
                    request_id=response.headers.get("x-request-id"),
                ) from exc
            if then is None:
                return body
            result = then(body)
            del body  # freed before the collector resumes
            return result

    def _attempt(
        self,
        session: requests.Session,
        method: str,
        url: str,
        params: Optional[Mapping[str, Any]],
        body: Optional[bytes],
        headers: Dict[str, str],
        timeout: Tuple[float, float],
        stream: bool,
        idempotent: bool,
        uncertain_hint: str,
        attempt: int,
        allow_redirects: bool = True,
        *,
        what: str,
        auth: Any = None,
    ) -> requests.Response:
        import requests

        started = time.perf_counter()
        failure: Optional[requests.RequestException] = None
        response: Optional[requests.Response] = None
        try:
            response = self.send(
                method,
                url,
                session=session,
                params=params,
                data=body,
                headers=headers,
                timeout=timeout,
                stream=True,
                allow_redirects=allow_redirects,
                auth=auth,
            )
            if not stream:
                read_body(response)
        except requests.RequestException as exc:
            failure = exc
        if failure is not None:
            # Raised outside the except block, with a redacted copy as its cause: the
            # original's message may quote a presigned storage URL (a redirected download).
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug(
                "%s failed after %.1f ms: %s (attempt %d)",
                what,
                elapsed,
                type(failure).__name__,
                attempt,
            )
            untrusted = certificate_failure(failure, url)
            if untrusted is not None:  # it cannot heal by itself: never retried
                raise Failure(untrusted, retryable=False, what=what) from redacted_copy(failure)
            # A redirect loop does not fix itself: never worth another attempt.
            loop = isinstance(failure, requests.TooManyRedirects)
            safe = not loop and (idempotent or nothing_was_sent(failure))
            timed_out = isinstance(failure, requests.Timeout)
            error_cls = APITimeoutError if timed_out else APIConnectionError
            verb = "timed out" if timed_out else "failed"
            message = f"{what} {verb}: {describe_transport_error(failure)}"
            if not safe and uncertain_hint:
                message = f"{message}. {uncertain_hint}"
            raise Failure(
                error_cls(message), retryable=safe, retry_after=None, what=what
            ) from redacted_copy(failure)
        assert response is not None  # session.request() returned it
        elapsed = (time.perf_counter() - started) * 1000
        request_id = response.headers.get("x-request-id")
        logger.debug(
            "%s -> %d in %.1f ms (request id %s, attempt %d)",
            what,
            response.status_code,
            elapsed,
            request_id,
            attempt,
        )
        if response.status_code < 400:
            return response
        raise self._status_failure(response, what, idempotent, uncertain_hint)

    def _status_failure(
        self,
        response: requests.Response,
        what: str,
        idempotent: bool,
        uncertain_hint: str,
    ) -> Failure:
        status = response.status_code
        try:
            text = response.text
        finally:
            response.close()
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text[:2000]
        retry_after = parse_retry_after(response.headers)
        should = response.headers.get("x-should-retry", "").lower()
        if should == "false" or (should == "true" and idempotent):
            # The server may forbid any retry, but it cannot make a request that may
            # have acted (a create after a 500) safe to send twice.
            retryable = should == "true"
        elif idempotent:
            retryable = status in RETRYABLE_STATUSES
        else:
            retryable = status in _NOT_ACTED_STATUSES
        raw_retry_after = retry_after
        if retryable and retry_after is not None and retry_after > self.retry.max_retry_after:
            retryable = False  # not worth waiting out: tell the caller now
        message = _message_from_body(body, status, text)
        if not retryable and not idempotent and status >= 500 and uncertain_hint:
            message = f"{message}. {uncertain_hint}"
        error_cls = error_class_for_status(status)
        kwargs: Dict[str, Any] = {
            "status_code": status,
            "body": body,
            "response": response,
            "request_id": response.headers.get("x-request-id"),
        }
        if error_cls is RateLimitError:
            kwargs["retry_after"] = raw_retry_after
        error = error_cls(f"{what}: {message}", **kwargs)
        return Failure(error, retryable=retryable, retry_after=retry_after, what=what)


def _strip_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Auth hook for storage requests: never send credentials (not even from ``.netrc``)."""
    request.headers.pop("Authorization", None)
    return request


def configure_logging_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """Attach a stderr handler when ``TOGETHER_LOG`` is ``debug`` or ``info`` (once)."""
    level_name = environ.get("TOGETHER_LOG", "").strip().lower()
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(level_name)
    if level is None:
        return
    logger.setLevel(level)
    if not any(getattr(h, "_together_env", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler._together_env = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
