"""The API server's WSGI app: records each request, applies faults, checks the key, routes
to the sub-apps, stamps a request id and hands each answer to the exchange observers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.catalog import WHOAMI_PATH
from together_finetune.testing._fake.context import FakeContext
from together_finetune.testing._fake.errors import APIError, error_body
from together_finetune.testing._fake.exchanges import ExchangeLog, RecordedRequest
from together_finetune.testing._fake.faults import Fault, Faults
from together_finetune.testing._fake.http import json_response, record
from together_finetune.testing._fake.jobs import JobStore
from together_finetune.testing._fake.routes import Routes

__all__ = ["APIApp"]


def _request_id() -> str:
    return "req-" + secrets.token_hex(12)


class APIApp:
    """The WSGI app of the API server, composed of sub-apps (:class:`Routes`)."""

    def __init__(
        self,
        context: FakeContext,
        store: JobStore,
        routes: Sequence[Routes],
        faults: Faults,
        log: ExchangeLog,
    ) -> None:
        """Route to ``routes`` (their endpoint names must not clash); ``store`` ticks first."""
        self._ctx = context
        self._store = store
        self._faults = faults
        self._log = log
        self._owners: dict[str, Routes] = {}
        rules = []
        for app in routes:
            for rule in app.rules():
                if rule.endpoint in self._owners and self._owners[rule.endpoint] is not app:
                    raise ValueError(f"endpoint {rule.endpoint!r} is served twice")
                self._owners[str(rule.endpoint)] = app
                rules.append(rule)
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer one request."""
        request = Request(environ)
        recorded = record(request, request.get_data(), "api")
        self._log.record(recorded)
        method, path = request.method, request.path
        delay = self._faults.take(("delay",), method, path)
        if delay is not None:
            time.sleep(delay.seconds)
        fault = self._faults.take(("fail", "drop"), method, path)
        if fault is not None and not fault.after_handling:
            return self._fault(fault)(environ, start_response)
        response = self._handle(request, recorded)
        if fault is not None:
            response.close()
            return self._fault(fault)(environ, start_response)
        response.headers["x-request-id"] = _request_id()
        # Streamed download bodies are not handed over; every other body is.
        body = b"" if response.is_streamed else response.get_data()
        self._log.notify(recorded, response.status_code, dict(response.headers.items()), body)
        return response(environ, start_response)

    def _fault(self, fault: Fault) -> Response:
        response = fault.answer()
        response.headers["x-request-id"] = _request_id()
        for key, value in fault.headers.items():  # may replace the id, or remove it with ""
            if value:
                response.headers[key] = value
            else:
                response.headers.pop(key, None)
        return response

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip().encode(), self._ctx.api_key.encode()
        )

    def _handle(self, request: Request, recorded: RecordedRequest) -> Response:
        try:
            if not request.path.startswith("/v1/") and request.path != WHOAMI_PATH:
                raise APIError(404, error_body(f"Unknown path: {request.path}", code="not_found"))
            if not self._authorized(request):
                raise APIError(401, error_body("Invalid API key provided", code="invalid_api_key"))
            try:
                endpoint, args = self._map.bind_to_environ(request.environ).match()
            except MethodNotAllowed as error:
                raise APIError(
                    405,
                    error_body(f"Method {request.method} not allowed for {request.path}"),
                    {"Allow": ", ".join(error.valid_methods or [])},
                ) from None
            except HTTPException:
                raise APIError(
                    404, error_body(f"Unknown path: {request.path}", code="not_found")
                ) from None
        except APIError as error:
            return json_response(error.status, error.body, error.headers)
        with self._ctx.lock:
            self._store.tick()
            return self._owners[endpoint].dispatch(endpoint, request, recorded, args)
