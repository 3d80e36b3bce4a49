"""Which proxy a URL gets: the mapping or the environment, and every form of NO_PROXY."""

from __future__ import annotations

from typing import Dict, Optional

import pytest

from together_finetune._network import ProxyChooser

PROXY = "http://proxy.corp:3128"


@pytest.fixture(autouse=True)
def no_machine_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def chooser(env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ProxyChooser:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ProxyChooser()


@pytest.mark.parametrize(
    ("no_proxy", "url", "expected"),
    [
        ("storage.example.com", "https://storage.example.com/x", None),
        ("storage.example.com", "https://api.example.com/x", PROXY),
        ("example.com", "https://sub.example.com/x", None),  # a name covers its subdomains
        ("example.com", "https://notexample.com/x", PROXY),  # but not a longer name
        (".example.com", "https://a.b.example.com/x", None),
        ("*.example.com", "https://a.example.com/x", None),
        (".example.com", "https://example.com/x", None),
        ("EXAMPLE.com", "https://Example.COM./x", None),
        ("10.1.2.3", "https://10.1.2.3/x", None),
        ("10.1.2.3", "https://10.1.2.4/x", PROXY),
        ("10.0.0.0/8", "https://10.200.0.9:8443/x", None),
        ("10.0.0.0/8", "https://11.0.0.1/x", PROXY),
        ("fd00::/8", "https://[fd00::1]/x", None),
        ("::1", "https://[::1]:9000/x", None),
        ("[::1]:9000", "https://[::1]:9000/x", None),
        ("[::1]:9000", "https://[::1]:9001/x", PROXY),
        ("example.com:8443", "https://example.com:8443/x", None),
        ("example.com:8443", "https://example.com/x", PROXY),
        ("example.com:443", "https://example.com/x", None),  # the scheme's default port
        ("10.0.0.0/8:443", "https://10.0.0.1/x", None),
        ("10.0.0.0/8:8443", "https://10.0.0.1/x", PROXY),
        ("10.1.2.3:8080", "https://10.1.2.3:8080/x", None),
        ("a.test, b.test  c.test", "https://c.test/x", None),
        ("*", "https://anything.example/x", None),
        ("", "https://anything.example/x", PROXY),
    ],
)
def test_no_proxy_forms(
    no_proxy: str, url: str, expected: Optional[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    choice = chooser({"HTTPS_PROXY": PROXY, "NO_PROXY": no_proxy}, monkeypatch)
    assert choice.for_url(url) == expected


def test_each_scheme_gets_its_variable_and_all_proxy_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    choice = chooser({"HTTPS_PROXY": "http://secure:1", "ALL_PROXY": "http://any:2"}, monkeypatch)
    assert choice.for_url("https://h/x") == "http://secure:1"
    assert choice.for_url("http://h/x") == "http://any:2"


@pytest.mark.parametrize("name", ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
def test_upper_and_lower_case_are_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert chooser({name: PROXY}, monkeypatch).for_url("https://h/x") == PROXY


def test_lower_case_no_proxy_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    choice = chooser({"https_proxy": PROXY, "no_proxy": "h"}, monkeypatch)
    assert choice.for_url("https://h/x") is None


def test_a_mapping_is_used_as_requests_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://from-env:1")
    choice = ProxyChooser(
        {
            "https://special.example": "http://special:1",
            "https": "http://secure:2",
            "all://other.example": "http://other:3",
            "no_proxy": "internal.example",
        }
    )
    assert choice.for_url("https://special.example/x") == "http://special:1"
    assert choice.for_url("https://h/x") == "http://secure:2"
    assert choice.for_url("http://other.example/x") == "http://other:3"
    assert choice.for_url("http://h/x") is None
    assert choice.for_url("https://internal.example/x") is None
    assert ProxyChooser({}).for_url("https://h/x") is None


def test_the_choice_is_made_once_per_scheme_host_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    choice = chooser({"HTTPS_PROXY": PROXY, "NO_PROXY": "a.example"}, monkeypatch)
    asked = []
    exempts = choice._no_proxy.exempts

    def counting(host: str, port: int) -> bool:
        asked.append((host, port))
        return exempts(host, port)

    monkeypatch.setattr(choice._no_proxy, "exempts", counting)
    for path in ("one", "two", "three?sig=1"):
        assert choice.for_url(f"https://b.example/{path}") == PROXY
        assert choice.for_url(f"https://a.example/{path}") is None
    choice.for_url("https://b.example:444/x")
    assert asked == [("b.example", 443), ("a.example", 443), ("b.example", 444)]


def test_a_repr_hides_proxy_passwords() -> None:
    shown = repr(ProxyChooser({"https": "http://scott:tiger@proxy:3128"}))
    assert "tiger" not in shown
    assert "proxy:3128" in shown


@pytest.mark.parametrize(
    ("proxies", "message"),
    [
        ("http://scott:tiger@proxy:3128", "proxies must be a mapping, got str"),
        ({"https": 3128}, "proxies must map strings to strings, got keys ['https']"),
    ],
)
def test_client_refuses_proxies_of_the_wrong_type_without_showing_them(
    proxies: object, message: str
) -> None:
    from together_finetune import Client

    with pytest.raises(ValueError, match=r"^proxies must") as caught:
        Client(api_key="k", proxies=proxies)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert "tiger" not in str(caught.value)
