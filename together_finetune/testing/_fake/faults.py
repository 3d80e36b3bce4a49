"""Injected faults of the API server: answer with an error, drop the connection, or delay."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Union

from werkzeug.wrappers import Response

from together_finetune.testing._fake.errors import error_body
from together_finetune.testing._fake.http import DropConnection, json_response

__all__ = ["Fault", "FaultBody", "Faults", "path_pattern"]

#: what a ``fail`` fault answers with: ``None`` (ErrorData), a dict (JSON) or text/bytes (HTML)
FaultBody = Union[bytes, str, dict[str, Any], None]


def path_pattern(path: str) -> re.Pattern[str]:
    """Compile a fault path ("/fine-tunes/*") to a regex; ``*`` matches within one segment."""
    full = "/v1" + path if not path.startswith("/v1/") else path
    return re.compile(
        "".join("[^/]*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", full))
        + r"\Z"
    )


@dataclass
class Fault:
    """One armed fault: ``kind`` is ``"fail"``, ``"drop"`` or ``"delay"``."""

    kind: str
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: FaultBody = None
    after_handling: bool = False
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault is still armed for ``method path``."""
        return self.times > 0 and self.method == method and bool(self.pattern.match(path))

    def answer(self) -> Response:
        """The response of a ``fail`` fault; a ``drop`` raises :class:`DropConnection`."""
        if self.kind == "drop":
            raise DropConnection()
        body = self.body
        if body is None:
            kind = "server_error" if self.status >= 500 else "invalid_request_error"
            message = f"Injected fault: HTTP {self.status}"
            response = json_response(self.status, error_body(message, type=kind))
        elif isinstance(body, dict):
            response = json_response(self.status, body)
        else:
            data = body.encode() if isinstance(body, str) else body
            response = Response(data, status=self.status, mimetype="text/html")
        return response


class Faults:
    """The armed faults of one API server, taken in the order they were armed."""

    def __init__(self) -> None:
        """Start with none armed."""
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Arm ``fault``."""
        with self._lock:
            self._faults.append(fault)

    def take(self, kinds: tuple[str, ...], method: str, path: str) -> Fault | None:
        """The first armed fault of one of ``kinds`` matching the request (spends one use)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None
