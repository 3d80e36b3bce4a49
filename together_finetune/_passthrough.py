"""What a caller sends that this version does not know yet: ``extra_headers``,
``extra_query`` and ``extra_body``.

Every public method that sends a request takes them. They are checked once, before
anything is sent, and merged last into each request the method sends to the API
(never into a request to a presigned storage URL): an ``extra_body`` key replaces
the body's field of the same name, an ``extra_query`` key the query parameter. The
merge happens before the transport sees the request, so the retry rules judge the
request as it is sent, and a create is still never repeated after it may have
reached the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from ._checks import check_extra
from .transport import Timeout, Transport

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = ["Extras", "ExtrasTransport"]


class Extras:
    """A call's checked ``extra_headers``, ``extra_query`` and ``extra_body`` (copies)."""

    __slots__ = ("body", "headers", "query")

    def __init__(
        self,
        headers: Optional[Dict[str, str]] = None,
        query: Optional[Dict[str, Any]] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.headers = headers
        self.query = query
        self.body = body

    def __repr__(self) -> str:  # header values may be secrets: names only
        names = {
            k: sorted(v)
            for k, v in (("headers", self.headers), ("query", self.query), ("body", self.body))
            if v
        }
        return f"Extras({names})"

    @classmethod
    def of(
        cls,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
    ) -> Extras:
        """Check the three arguments; ``ValueError`` (nothing sent) when one is malformed."""
        return cls(
            check_extra(extra_headers, "extra_headers", header=True),
            check_extra(extra_query, "extra_query"),
            check_extra(extra_body, "extra_body"),
        )

    def __bool__(self) -> bool:
        return bool(self.headers or self.query or self.body)

    def merge_body(self, body: Any) -> Any:
        """A JSON object body with ``extra_body`` merged over it (other bodies as they are)."""
        if self.body and isinstance(body, dict):
            return {**body, **self.body}
        return body


class ExtrasTransport(Transport):
    """The same transport (one shared state: session, settings), adding a call's extras
    to each request it sends to the API."""

    # The instance dict is the wrapped transport's own, so the session, the retry
    # policy and whatever else it holds stay one; the extras live in a slot beside it.
    __slots__ = ("extras",)

    def __init__(self, transport: Transport, extras: Extras) -> None:
        # Deliberately not Transport.__init__: this is a view of ``transport``.
        self.__dict__ = transport.__dict__
        self.extras = extras

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        json_body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        **kwargs: Any,
    ) -> requests.Response:
        """:meth:`Transport.request` with the extras merged last."""
        extras = self.extras
        return super().request(
            method,
            path,
            params=_merged(params, extras.query),
            json_body=extras.merge_body(json_body),
            headers=_merged(headers, extras.headers),
            **kwargs,
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
        """:meth:`Transport.attempt` with the extras merged into a request to the API."""
        if authorized and url.startswith(self.base_url + "/"):
            params = _merged(params, self.extras.query)
            headers = _merged(headers, self.extras.headers) or {}
        return super().attempt(
            method,
            url,
            headers=headers,
            what=what,
            params=params,
            timeout=timeout,
            authorized=authorized,
        )


def _merged(
    given: Optional[Mapping[str, Any]], extra: Optional[Mapping[str, Any]]
) -> Optional[Dict[str, Any]]:
    if not extra:
        return None if given is None else dict(given)
    return {**(given or {}), **extra}
