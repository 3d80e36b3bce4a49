"""What the fake records of each exchange, and who is told about it.

:func:`observe_exchanges` registers a callback that every :class:`FakeTogether` built
afterwards hands its exchanges to, next to its own ``on_exchange``: a test suite can check
the traffic of every fake its tests start (this repository's spec conformance plugin does).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["ExchangeHook", "ExchangeLog", "RecordedRequest", "observe_exchanges"]


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake server received it."""

    method: str
    #: the path as received, without the query string, e.g. ``"/v1/fine-tunes/ft-1/cancel"``
    path: str
    #: query parameters, flat (the last value of a repeated parameter wins)
    query: dict[str, str]
    #: request headers as received
    headers: dict[str, str]
    body: bytes
    #: the server ("api" or "storage") that received it
    server: str = "api"
    #: the client's port of the connection it came on (requests on one kept-alive
    #: connection share it), or ``None`` when unknown
    client_port: Optional[int] = None

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """Return the body parsed as JSON, or ``None`` if it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


#: ``hook(request, status, headers, body)``: one answer the fake produced itself
ExchangeHook = Callable[[RecordedRequest, int, dict[str, str], bytes], None]

_observers: list[ExchangeHook] = []
_observers_lock = threading.Lock()


def observe_exchanges(callback: ExchangeHook) -> Callable[[], None]:
    """Hand every exchange of every ``FakeTogether`` built from now on to ``callback``.

    ``callback`` is called like ``on_exchange`` (same arguments, same exemptions: injected
    faults are not exchanges; download archive bodies are passed as ``b""``), after the
    fake's own ``on_exchange``. What it raises lands in the fake's ``exchange_errors``.
    A fake takes the callbacks registered when it is constructed.

    :returns: a function that unregisters ``callback`` (fakes built later no longer call it).
    """
    with _observers_lock:
        _observers.append(callback)

    def unregister() -> None:
        with _observers_lock:
            if callback in _observers:
                _observers.remove(callback)

    return unregister


def registered_observers() -> tuple[ExchangeHook, ...]:
    """The callbacks :func:`observe_exchanges` holds now, in registration order."""
    with _observers_lock:
        return tuple(_observers)


class ExchangeLog:
    """The requests one API server received, and the observers of its answers."""

    def __init__(
        self, on_exchange: Optional[ExchangeHook], observers: Sequence[ExchangeHook]
    ) -> None:
        """Log requests; tell ``on_exchange`` and then ``observers`` about each answer."""
        #: the fake's own observer (may be replaced while it runs)
        self.on_exchange = on_exchange
        #: every request received, in order
        self.requests: list[RecordedRequest] = []
        #: exceptions the observers raised (the server answers normally regardless)
        self.errors: list[BaseException] = []
        self._observers = tuple(observers)
        self._lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        """Append ``request`` to :attr:`requests`."""
        with self._lock:
            self.requests.append(request)

    def matching(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests with this method and exactly this path."""
        with self._lock:
            return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def notify(
        self, request: RecordedRequest, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        """Hand one exchange to every observer; collect what they raise in :attr:`errors`."""
        hooks = [self.on_exchange] if self.on_exchange is not None else []
        for hook in [*hooks, *self._observers]:
            try:
                hook(request, status, dict(headers), body)
            except Exception as error:  # reported through errors, never to the client
                with self._lock:
                    self.errors.append(error)
