"""The exceptions this library raises: one tree rooted in :class:`TogetherError`.

Every error that comes from an HTTP exchange carries the ``request_id`` the
server gave it (``x-request-id``) and the number of attempts made, so a report
to Together's support can name the exact request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    import requests

    from .models import DatasetReport, FileObject, FineTune

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DatasetError",
    "DownloadError",
    "FineTuneFailedError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TogetherError",
    "UnprocessableEntityError",
    "UploadError",
    "WaitTimeoutError",
]


class TogetherError(Exception):
    """Base class of every error raised by ``together_finetune``."""

    def __init__(
        self, message: str, *, request_id: Optional[str] = None, attempts: Optional[int] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The server's ``x-request-id`` for the failing request, when there was one.
        self.request_id = request_id
        #: How many attempts were made before giving up (``None`` when not an HTTP call).
        self.attempts = attempts

    def __str__(self) -> str:
        text = self.message
        extras: list[str] = []
        if self.request_id:
            extras.append(f"request id {self.request_id}")
        if self.attempts and self.attempts > 1:
            extras.append(f"after {self.attempts} attempts")
        if extras:
            text = f"{text} ({', '.join(extras)})"
        return text


class APIStatusError(TogetherError):
    """The API answered with an error status (4xx or 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        response: Optional[requests.Response] = None,
        request_id: Optional[str] = None,
        attempts: Optional[int] = None,
    ) -> None:
        super().__init__(message, request_id=request_id, attempts=attempts)
        #: The HTTP status of the answer.
        self.status_code = status_code
        #: The decoded JSON body, or the text of a body that is not JSON.
        self.body = body
        #: The :class:`requests.Response` (its body already read and the connection released).
        self.response = response

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {super().__str__()}"


class BadRequestError(APIStatusError):
    """HTTP 400: the API rejected the request's parameters."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key is valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such job, file or model."""


class ConflictError(APIStatusError):
    """HTTP 409: the request conflicts with the current state."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: the request was well formed but could not be processed."""


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests.

    ``retry_after`` holds the seconds the server asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: Seconds the server asked the client to wait (``Retry-After``), if given.
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """HTTP 5xx: the API failed on its side."""


class APIConnectionError(TogetherError):
    """The request did not get an answer: the connection failed or was dropped."""


class APITimeoutError(APIConnectionError):
    """The connection or a read timed out."""


class APIResponseValidationError(TogetherError):
    """The API answered 2xx, but the body does not have the documented shape."""

    def __init__(self, message: str, *, body: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: The decoded JSON body that did not fit.
        self.body = body


class DownloadError(TogetherError):
    """A download could not be completed; nothing was placed at the target path."""


class UploadError(TogetherError):
    """An upload failed between the API's steps (the storage PUT, a malformed answer)."""


class DatasetError(TogetherError, ValueError):
    """A data set was refused.

    Either by the local checks (:attr:`report` says why; nothing was sent), or by
    the server's check after the upload (:attr:`file` is the file object, whose
    ``validation_report`` says why; the message is the server's ``error``).
    """

    def __init__(
        self,
        report: Optional[DatasetReport] = None,
        *,
        message: Optional[str] = None,
        file: Optional[FileObject] = None,
    ) -> None:
        if message is None:
            message = report.summary() if report is not None else "the data set was refused"
        super().__init__(message)
        #: The :class:`~together_finetune.models.DatasetReport` of the local check
        #: (``None`` when the server refused the file).
        self.report = report
        #: The :class:`~together_finetune.models.FileObject` the server refused
        #: (``None`` for a local check).
        self.file = file


class FineTuneFailedError(TogetherError):
    """A waited-for job ended as ``error``, ``user_error`` or ``cancelled``."""

    def __init__(self, message: str, *, job: FineTune) -> None:
        super().__init__(message)
        #: The job as last seen.
        self.job = job


class WaitTimeoutError(TogetherError, TimeoutError):
    """``wait`` gave up before the job reached a terminal status (or
    ``files.wait_until_processed`` before the file was checked; ``job`` is then ``None``)."""

    def __init__(self, message: str, *, job: Optional[FineTune]) -> None:
        super().__init__(message)
        #: The job as last seen (``None`` if it was never fetched).
        self.job = job


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[APIStatusError]:
    """Return the :class:`APIStatusError` subclass for an HTTP status."""
    if status >= 500:
        return InternalServerError
    return _STATUS_ERRORS.get(status, APIStatusError)


class AttemptFailed(Exception):
    """Internal (never reaches a caller): one failed attempt of a retried operation.

    Carries the error to raise when retrying stops, and whether a retry may help.

    :param error: raised to the caller when the engine gives up.
    :param retryable: whether repeating the attempt is safe and may help.
    :param retry_after: the server's ``Retry-After`` in seconds, if it sent a usable one.
    :param what: names the operation in the log line of a retry.
    """

    def __init__(
        self,
        error: TogetherError,
        *,
        retryable: bool,
        retry_after: Optional[float] = None,
        what: str = "request",
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.what = what
        self.retryable = retryable
        self.retry_after = retry_after
