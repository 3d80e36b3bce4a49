"""What every sub-app of the API server shares: rules that name handlers, and JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Union

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.errors import JSON, APIError, bad_request
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.http import json_response

__all__ = ["Answer", "Routes", "json_object"]

#: what a handler returns: a ready response, or ``(status, JSON payload)``
Answer = Union[Response, tuple[int, Any]]


class Routes:
    """A sub-app: its werkzeug :meth:`rules` name endpoints handled by ``_route_<endpoint>``."""

    def rules(self) -> list[Rule]:
        """The rules of this sub-app's endpoints (endpoint names are unique across sub-apps)."""
        raise NotImplementedError

    def dispatch(
        self, endpoint: str, request: Request, recorded: RecordedRequest, args: Mapping[str, Any]
    ) -> Response:
        """Answer a request routed to ``endpoint``; an :class:`APIError` becomes its answer."""
        try:
            answer: Answer = getattr(self, "_route_" + endpoint)(request, recorded, **args)
        except APIError as error:
            return json_response(error.status, error.body, error.headers)
        if isinstance(answer, Response):
            return answer
        status, payload = answer
        return json_response(status, payload)


def json_object(recorded: RecordedRequest, *, required: bool = True) -> JSON:
    """The request body as a JSON object (``{}`` when empty and not ``required``)."""
    if not recorded.body.strip():
        if required:
            raise bad_request("Request body must be a JSON object")
        return {}
    try:
        body = json.loads(recorded.body)
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body
