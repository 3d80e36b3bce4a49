"""Proxies: each request picks its proxy for its own URL, checked with a real proxy.

The proxy is proxy.py on loopback (``support.proxy``); it records every request it
receives before forwarding it. The fake's API listens on 127.0.0.1 and its storage on
127.0.0.2, so ``NO_PROXY`` can exempt one of them. proxy.py forwards a plain-http
request to the host of the first request of its connection, so over plain http only one
of the two hosts goes through it in a test; over HTTPS each host has its own tunnel.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from pathlib import Path
from typing import Any, Callable, List

import pytest
from support.data import storage_puts, write_jsonl
from support.proxy import RealProxy

from together_finetune import APIConnectionError, APIStatusError, Client, ResponseInfo
from together_finetune.files import Files
from together_finetune.testing import FakeTogether

API = "127.0.0.1"
STORAGE = "127.0.0.2"


@pytest.fixture(autouse=True)
def storage_on_its_own_address(server: FakeTogether) -> None:
    if not server.storage.url.startswith(f"http://{STORAGE}:"):
        pytest.skip("needs the storage server on its own loopback address")


def completed_job(server: FakeTogether, data: bytes, *, redirect: bool) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    server.set_download(job_id, data=data)
    server.download_redirect = redirect
    return job_id


def lowered(files: Files) -> Files:
    files.multipart_threshold = 10_000
    files.part_size = 8_000
    files.min_part_size = 4_000
    return files


# -- what already worked, with a test of its own ----------------------------------------------


def test_http_proxy_carries_the_api_calls(
    make_client: Callable[..., Client], real_proxy: RealProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    make_client().fine_tunes.list()
    assert real_proxy.seen() == [("GET", f"{API}:{_port(make_client)}")]


def test_http_proxy_carries_the_storage_put(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    monkeypatch.setenv("NO_PROXY", API)  # the API is exempt, storage is not
    make_client().files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert real_proxy.seen() == [("PUT", server.storage.url.split("//")[1])]
    assert len(storage_puts(server)) == 1


def test_http_proxy_carries_a_direct_download(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    job_id = completed_job(server, os.urandom(50_000), redirect=False)
    make_client().fine_tunes.download(job_id, output=tmp_path / "m.bin")
    assert set(real_proxy.hosts()) == {API}
    assert server.requests_to("GET", "/finetune/download")
    assert len(real_proxy.seen()) == len(server.requests)  # every API request went through


def test_https_goes_through_the_proxy_with_connect(
    tls_server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", real_proxy.url)
    client = Client(
        api_key=tls_server.api_key, base_url=tls_server.base_url, verify=tls_server.ca_bundle
    )
    with client:
        client.fine_tunes.list()
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert len(storage_puts(tls_server)) == 1
    assert set(real_proxy.seen()) == {
        ("CONNECT", tls_server.url.split("//")[1]),
        ("CONNECT", tls_server.storage.url.split("//")[1]),
    }


# -- NO_PROXY per request -----------------------------------------------------------------------


def test_a_download_redirected_to_a_no_proxy_host_goes_direct(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    monkeypatch.setenv("NO_PROXY", STORAGE)
    data = os.urandom(200_000)
    job_id = completed_job(server, data, redirect=True)
    server.cut_download(50_000)  # the resume goes to the storage host again
    result = make_client().fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=1)
    assert result.path.read_bytes() == data
    assert len(server.storage.requests) == 2
    assert set(real_proxy.hosts()) == {API}  # the API call went through, storage did not


def test_every_piece_of_a_parallel_download_picks_its_own_proxy(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    monkeypatch.setenv("NO_PROXY", API)
    data = os.urandom(400_000)
    job_id = completed_job(server, data, redirect=True)
    client = make_client()
    client.fine_tunes.download(job_id, output=tmp_path / "a.bin", connections=4)
    pieces = [r for r in server.storage.requests if r.method == "GET"]
    assert len(pieces) >= 4
    assert real_proxy.hosts() == [STORAGE] * len(pieces)  # every piece went through

    real_proxy.forget()
    server.storage.requests.clear()
    monkeypatch.setenv("NO_PROXY", f"{STORAGE}/32")  # a CIDR range this time
    client = make_client()
    result = client.fine_tunes.download(job_id, output=tmp_path / "b.bin", connections=4)
    assert result.path.read_bytes() == data
    assert len([r for r in server.storage.requests if r.method == "GET"]) >= 4
    assert set(real_proxy.hosts()) == {API}


def test_storage_puts_of_a_multipart_upload_skip_a_no_proxy_host(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("http_proxy", real_proxy.url)  # lower case works too
    monkeypatch.setenv("no_proxy", f".example, {STORAGE}:{server.storage.url.rsplit(':', 1)[1]}")
    lowered(make_client().files).upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    assert len(storage_puts(server)) > 1
    assert set(real_proxy.hosts()) == {API}


def test_all_proxy_carries_a_redirected_download_past_a_cidr_exemption(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("ALL_PROXY", real_proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/31")  # 127.0.0.0-1: the API only
    job_id = completed_job(server, os.urandom(10_000), redirect=True)
    make_client().fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=1)
    assert real_proxy.hosts() == [STORAGE]


# -- Client(proxies=...) -----------------------------------------------------------------------


def test_an_empty_mapping_means_no_proxy_whatever_the_environment(
    make_client: Callable[..., Client], real_proxy: RealProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", real_proxy.url)
    monkeypatch.setenv("ALL_PROXY", real_proxy.url)
    make_client(proxies={}).fine_tunes.list()
    assert real_proxy.seen() == []


def test_a_mapping_replaces_the_environment(
    make_client: Callable[..., Client],
    server: FakeTogether,
    real_proxy: RealProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("NO_PROXY", "*")  # ignored: the mapping is the whole configuration
    data = os.urandom(10_000)
    job_id = completed_job(server, data, redirect=True)
    client = make_client(proxies={"http": real_proxy.url, "no_proxy": API})
    client.fine_tunes.download(job_id, output=tmp_path / "m.bin")
    assert set(real_proxy.hosts()) == {STORAGE}


def test_proxy_credentials_are_sent_to_the_proxy_and_shown_nowhere(
    make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    proxy = RealProxy(basic_auth="scott:pr0xy-s3cret")
    try:
        seen: List[ResponseInfo] = []
        caplog.set_level(logging.DEBUG, logger="together_finetune")
        good = make_client(
            proxies={"http": f"http://scott:pr0xy-s3cret@127.0.0.1:{proxy.port}"},
            on_response=seen.append,
        )
        assert good.fine_tunes.list() == []  # the proxy let it through: credentials sent
        assert len(proxy.seen()) == 1
        bad = make_client(
            proxies={"http": f"http://scott:wr0ng-s3cret@127.0.0.1:{proxy.port}"},
            on_response=seen.append,
            max_retries=0,
        )
        with pytest.raises(APIStatusError) as caught:
            bad.fine_tunes.list()
    finally:
        proxy.stop()
    shown = _everything_shown(caught, caplog, seen, good, bad)
    assert caught.value.status_code == 407
    assert "pr0xy-s3cret" not in shown
    assert "wr0ng-s3cret" not in shown


def test_an_unreachable_proxy_never_shows_its_password(
    make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a proxy address nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://scott:pr0xy-s3cret@127.0.0.1:{sock.getsockname()[1]}"
    seen: List[ResponseInfo] = []
    caplog.set_level(logging.DEBUG, logger="together_finetune")
    client = make_client(proxies={"all": dead}, on_response=seen.append, max_retries=1)
    with pytest.raises(APIConnectionError) as caught:
        client.fine_tunes.list()
    assert [info.status_code for info in seen] == [None, None]
    shown = _everything_shown(caught, caplog, seen, client)
    assert "pr0xy-s3cret" not in shown
    assert "127.0.0.1" in shown  # the messages do say something


def _everything_shown(
    caught: pytest.ExceptionInfo[BaseException],
    caplog: pytest.LogCaptureFixture,
    seen: List[ResponseInfo],
    *clients: Client,
) -> str:
    chain = "".join(traceback.format_exception(caught.type, caught.value, caught.tb))
    infos = [repr(info) + repr(info.error) + str(info.error) for info in seen]
    reprs = [repr(c) + repr(c._transport) + repr(c._transport.proxies) for c in clients]
    return "\n".join([chain, caplog.text, *infos, *reprs])


def _port(make_client: Callable[..., Any]) -> str:
    client = make_client()
    return str(client.base_url.split(":")[2].split("/")[0])
