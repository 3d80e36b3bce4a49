"""Shared fixtures: a fake API server on loopback and a client pointed at it.

Every HTTP test talks to :class:`FakeTogether` over real sockets. The client's
``sleep`` only records the waits asked for, so no test sleeps for real. Every exchange of
every fake, whoever builds it, is checked against the official OpenAPI spec by the
``spec_conformance`` plugin registered here (its waivers are listed in that module).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest

from together_finetune import Client
from together_finetune.testing import FakeTogether, ManualClock

pytest_plugins = ["support.conformance", "pytester"]


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock shared by the fake server and the client."""
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[FakeTogether]:
    """A started fake API on 127.0.0.1; jobs move only when a test advances them."""
    with FakeTogether(clock=clock) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for, in order."""
    return []


@pytest.fixture
def make_client(
    server: FakeTogether, sleeps: list[float], clock: ManualClock
) -> Iterator[Callable[..., Client]]:
    """Build clients pointed at the fake server; closed after the test."""
    made: list[Client] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    def make(**kwargs: Any) -> Client:
        options: dict[str, Any] = {
            "api_key": server.api_key,
            "base_url": server.base_url,
            "timeout": (2.0, 5.0),
            "sleep": sleep,
            "clock": clock,
        }
        options.update(kwargs)
        made.append(Client(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    """A client with the default retry policy, pointed at the fake server."""
    return make_client()
