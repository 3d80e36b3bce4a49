"""Fixtures of the network tests: a real proxy, and fakes over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.proxy import RealProxy

from together_finetune.testing import FakeTogether, ManualClock

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def clean_network_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA bundle from the machine: each test sets what it means."""
    for name in PROXY_VARIABLES + TRUST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="session")
def proxy_server() -> Iterator[RealProxy]:
    """One proxy.py for the session (it takes a second or two to start)."""
    proxy = RealProxy()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def real_proxy(proxy_server: RealProxy) -> RealProxy:
    """The session's proxy with an empty record."""
    proxy_server.forget()
    return proxy_server


@pytest.fixture
def tls_server(clock: ManualClock) -> Iterator[FakeTogether]:
    """A started fake serving the API and its storage over HTTPS (CA in ``ca_bundle``)."""
    with FakeTogether(clock=clock, tls=True) as fake:
        yield fake
