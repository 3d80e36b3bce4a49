"""Error answers of the fake: the API-wide ``ErrorData`` body and the exception routes raise."""

from __future__ import annotations

from typing import Any

__all__ = ["JSON", "APIError", "bad_request", "error_body"]

JSON = dict[str, Any]


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JSON:
    """Return an ``ErrorData`` wire object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class APIError(Exception):
    """Raised by a route to answer with a JSON error instead of its normal answer."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with the JSON ``body`` and extra ``headers``."""
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message: str, param: str | None = None) -> APIError:
    """A 400 ``invalid_request_error`` naming ``param``."""
    return APIError(400, error_body(message, param=param))
