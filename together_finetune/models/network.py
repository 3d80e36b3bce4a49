"""What the client tells an ``on_response`` hook about each HTTP attempt."""

from __future__ import annotations

from typing import Optional

import attrs

__all__ = ["ResponseInfo"]


@attrs.frozen
class ResponseInfo:
    """One HTTP attempt of the client, as ``Client(on_response=...)`` receives it.

    It never carries the API key, an ``Authorization`` header or a proxy password.

    :ivar method: the HTTP method, e.g. ``"GET"``.
    :ivar url: the URL requested; the signature and credential parameters of a
        presigned storage URL read ``REDACTED``.
    :ivar status_code: the status of the answer, ``None`` when no answer came.
    :ivar elapsed: seconds from sending the request until the answer's headers arrived
        (or until it failed).
    :ivar attempt: which attempt of its logical request this was, from 1 (a download
        counts each resume, a piece of a parallel download each of its own).
    :ivar request_id: the server's ``x-request-id``, or ``None``.
    :ivar error: the exception the attempt ended with, or ``None`` when it succeeded
        (a 2xx or a redirect).
    :ivar will_retry: whether the client will make another attempt after this one.
    """

    method: str
    url: str
    status_code: Optional[int]
    elapsed: float
    attempt: int
    request_id: Optional[str] = None
    error: Optional[BaseException] = attrs.field(default=None, eq=False)
    will_retry: bool = False
