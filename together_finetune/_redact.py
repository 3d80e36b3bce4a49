"""Keeping presigned URLs out of messages, logs and exception chains.

A presigned storage URL carries its signature in the query string: whoever
reads it can fetch or overwrite the object. requests quotes the URL in its
errors, so nothing of ours ever repeats a requests message as it came.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "describe_transport_error",
    "hide_credentials",
    "redact_url",
    "redact_urls",
    "redacted_copy",
]


def describe_transport_error(exc: BaseException) -> str:
    """A short account of a requests error that never quotes its URL (presigned URLs are secret)."""
    import requests
    import urllib3.exceptions

    reason: Any = exc.args[0] if exc.args else exc
    inner = getattr(reason, "reason", None)
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(inner, urllib3.exceptions.NewConnectionError):
        return "could not connect"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return "the connection was closed before an answer arrived"
    detail = redact_urls(str(inner if inner is not None else reason))
    return f"{type(exc).__name__}: {detail[:300]}"


_QUERY_STRING = re.compile(r"\?[^\s'\")]*")
_USERINFO = re.compile(r"(?<=//)[^/\s@'\"]+@")
#: Query parameters of presigned URLs that grant access (S3, GCS, Azure, CloudFront, ...).
_SECRET_PARAMETER = re.compile(
    r"signature|credential|token|secret|password|sig$|key|auth|policy", re.IGNORECASE
)


def redact_urls(text: str) -> str:
    """Drop query strings and proxy passwords from a message.

    Presigned URLs keep their signatures in the query string; a proxy URL may carry
    ``user:password@``.
    """
    return hide_credentials(_QUERY_STRING.sub("?...", text))


def hide_credentials(text: str) -> str:
    """Replace the ``user:password@`` of every URL in ``text`` with ``***@``."""
    return _USERINFO.sub("***@", text)


def redact_url(url: str) -> str:
    """``url`` with the values of its signature and credential parameters ``REDACTED``.

    The other parameters (``limit``, ``X-Amz-Expires``, ...) are kept, as is the path.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(hide_credentials(url))
    if not parts.query:
        return urlunsplit(parts)
    pairs = [
        (name, "REDACTED" if _SECRET_PARAMETER.search(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="/:")))


def redacted_copy(exc: BaseException) -> BaseException:
    """An exception of the same type whose message has no query strings, to chain from."""
    message = redact_urls(str(exc))
    try:
        return type(exc)(message)
    except Exception:  # an exception type with another constructor
        return RuntimeError(f"{type(exc).__name__}: {message}")
