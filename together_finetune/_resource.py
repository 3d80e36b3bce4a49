"""What every resource namespace shares: the transport, ID checks and decoding."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, TypeVar
from urllib.parse import quote

from .converter import decode
from .errors import APIResponseValidationError

if TYPE_CHECKING:  # pragma: no cover - the ID checks load without the transport
    from ._passthrough import Extras
    from .transport import Transport

T = TypeVar("T")

_FORBIDDEN_IN_ID = frozenset("/?#%\\")


def check_id(value: Any, *, prefix: str, what: str) -> str:
    """Return ``value`` if it looks like an ID with ``prefix``; raise ``ValueError`` otherwise.

    Runs before any request, so a malformed ID never reaches the network.
    """
    if isinstance(value, os.PathLike):
        raise ValueError(
            f"{what} must be an ID starting with {prefix!r}, not a path ({os.fspath(value)!r})"
        )
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string starting with {prefix!r}, got {value!r}")
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be a non-empty ID without whitespace, got {value!r}")
    if any(c in _FORBIDDEN_IN_ID for c in value):
        raise ValueError(f"{what} must not contain '/', '?', '#', '%' or '\\', got {value!r}")
    if not value.startswith(prefix) or len(value) == len(prefix):
        raise ValueError(f"{what} must start with {prefix!r}, got {value!r}")
    return value


FILE_ID_PREFIX = "file-"
JOB_ID_PREFIX = "ft-"


def check_job_id(job_id: Any) -> str:
    """Validate a job ID (``ft-...``) before it goes into a URL."""
    return check_id(job_id, prefix=JOB_ID_PREFIX, what="fine-tune job ID")


def check_file_id(value: Any, what: str = "file ID") -> str:
    """Validate a file ID (``file-...``); a path gets advice to upload it first."""
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and not value.startswith(FILE_ID_PREFIX) and Path(value).suffix
    ):
        raise ValueError(
            f"{what} must be a file ID (file-...), not a path: upload the file first with "
            "client.files.upload(path) and pass the returned .id"
        )
    return check_id(value, prefix=FILE_ID_PREFIX, what=what)


def path_segment(value: str) -> str:
    """Percent-encode an ID for use as one path segment."""
    return quote(value, safe="")


def job_path(job_id: Any, suffix: str = "") -> str:
    """``/fine-tunes/{id}{suffix}`` for a checked, percent-encoded job ID."""
    return f"/fine-tunes/{path_segment(check_job_id(job_id))}{suffix}"


class Resource:
    """Base of the resource namespaces (``client.fine_tunes``, ...).

    Every public method that sends a request takes ``extra_headers=`` and
    ``extra_query=`` (and ``extra_body=`` where the request has a JSON body): checked
    by :meth:`_extras`, merged last by the transport :meth:`_sender` gives (see
    :mod:`together_finetune._passthrough`).
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @staticmethod
    def _extras(
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
    ) -> Extras:
        """The checked extras of a call (``ValueError`` before anything is sent)."""
        from ._passthrough import Extras

        return Extras.of(extra_headers, extra_query, extra_body)

    def _sender(self, extras: Optional[Extras]) -> Transport:
        """The transport that sends a call's requests: with its extras merged, if any."""
        if not extras:
            return self._transport
        from ._passthrough import ExtrasTransport

        return ExtrasTransport(self._transport, extras)

    def _get(
        self,
        path: str,
        cls: Any,
        *,
        key: Optional[str] = None,
        extras: Optional[Extras] = None,
        **kwargs: Any,
    ) -> Any:
        return self._call("GET", path, cls, key=key, extras=extras, **kwargs)

    def _call(
        self,
        method: str,
        path: str,
        cls: Any,
        *,
        key: Optional[str] = None,
        extras: Optional[Extras] = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request and decode its JSON body (or the member ``key`` of it) into ``cls``."""

        def decoded(body: Any) -> Any:
            if key is not None:
                if not isinstance(body, dict) or key not in body:
                    raise APIResponseValidationError(
                        f"{method} {path}: expected an object with {key!r}, got {str(body)[:100]}",
                        body=body,
                    )
                body = body[key]
            return decode(body, cls, consume=True)  # parsed for this call alone

        # Decoded where it is parsed: a long body is freed before the collector resumes.
        return self._sender(extras).request_json(method, path, then=decoded, **kwargs)
