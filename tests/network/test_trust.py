"""Trust: ``Client(verify=...)``, the CA environment variables, and certificate failures.

Every test talks HTTPS to ``FakeTogether(tls=True)``: the API on 127.0.0.1, its storage
on 127.0.0.2, both with certificates from a CA made by trustme for the fake. Each host
is checked, since the API, the storage PUTs and every download connection must trust
the same CAs.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import trustme
from support.cli import run
from support.data import storage_puts, write_jsonl

from together_finetune import APIConnectionError, Client, ResponseInfo, TogetherError
from together_finetune.files import Files
from together_finetune.testing import FakeTogether

HOW_TO_TRUST = ("verify=", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "--ca-bundle")


@pytest.fixture
def make_tls_client(
    tls_server: FakeTogether, sleeps: List[float]
) -> Iterator[Callable[..., Client]]:
    made: List[Client] = []

    def make(**kwargs: Any) -> Client:
        options: dict[str, Any] = {
            "api_key": tls_server.api_key,
            "base_url": tls_server.base_url,
            "timeout": (2.0, 5.0),
            "sleep": sleeps.append,
        }
        options.update(kwargs)
        made.append(Client(**options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def redirected_job(server: FakeTogether, data: bytes) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    server.set_download(job_id, data=data)
    server.download_redirect = True
    return job_id


def untrusted_storage(server: FakeTogether) -> None:
    """Serve the storage host with a certificate from another, unknown CA."""
    stranger = trustme.CA().issue_cert("127.0.0.2", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    stranger.configure_cert(context)
    server.storage._thread._server.ssl_context = context  # type: ignore[union-attr]


def exercise_every_host(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    """An API call, a storage PUT, a redirected download in one and in four connections."""
    assert client.fine_tunes.list() == []
    client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    data = os.urandom(300_000)
    job_id = redirected_job(server, data)
    one = client.fine_tunes.download(job_id, output=tmp_path / "one.bin", connections=1)
    four = client.fine_tunes.download(job_id, output=tmp_path / "four.bin", connections=4)
    assert one.path.read_bytes() == data
    assert four.path.read_bytes() == data
    assert len(storage_puts(server)) == 1
    assert len([r for r in server.storage.requests if r.method == "GET"]) >= 5


# -- what trust a client uses ------------------------------------------------------------------


def test_verify_with_a_ca_file_covers_the_api_storage_and_every_download_connection(
    make_tls_client: Callable[..., Client], tls_server: FakeTogether, tmp_path: Path
) -> None:
    client = make_tls_client(verify=tls_server.ca_bundle)
    exercise_every_host(client, tls_server, tmp_path)


def test_verify_with_an_ssl_context_covers_every_host(
    make_tls_client: Callable[..., Client], tls_server: FakeTogether, tmp_path: Path
) -> None:
    context = ssl.create_default_context(cafile=tls_server.ca_bundle)
    exercise_every_host(make_tls_client(verify=context), tls_server, tmp_path)
    assert len(context.get_ca_certs()) == 1  # nothing (certifi) was added to the user's context


def test_an_ssl_context_is_the_whole_trust(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_server.ca_bundle)  # not added to the context
    client = make_tls_client(verify=ssl.create_default_context(), max_retries=0)
    with pytest.raises(APIConnectionError, match="could not be verified"):
        client.fine_tunes.list()


def test_requests_ca_bundle_is_honoured(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_server.ca_bundle)
    exercise_every_host(make_tls_client(), tls_server, tmp_path)


@pytest.mark.parametrize("variable", ["CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_other_ca_file_variables_are_honoured(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, tls_server.ca_bundle)
    assert make_tls_client().fine_tunes.list() == []


def test_ssl_cert_dir_is_honoured(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl to name the file by its subject hash")
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", tls_server.ca_bundle],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    directory = tmp_path / "certs"
    directory.mkdir()
    shutil.copy(tls_server.ca_bundle, directory / f"{subject_hash}.0")
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    assert make_tls_client().fine_tunes.list() == []
    assert make_tls_client(verify=str(directory)).fine_tunes.list() == []


def test_the_first_variable_set_wins(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    order = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"]
    for position, winner in enumerate(order):
        for name in order[:position]:
            monkeypatch.delenv(name, raising=False)
        for name in order[position + 1 :]:
            monkeypatch.setenv(name, tls_server.ca_bundle)  # later ones would trust it
        monkeypatch.setenv(winner, str(other))
        client = make_tls_client(max_retries=0)
        with pytest.raises(APIConnectionError, match="could not be verified"):
            client.fine_tunes.list()
        monkeypatch.setenv(winner, tls_server.ca_bundle)
        assert make_tls_client().fine_tunes.list() == []


def test_verify_true_is_the_default_store_whatever_the_environment(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_server.ca_bundle)
    with pytest.raises(APIConnectionError, match="could not be verified"):
        make_tls_client(verify=True, max_retries=0).fine_tunes.list()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_checks_nothing_and_warns_once_per_client(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.WARNING, logger="together_finetune")
    first = make_tls_client(verify=False)
    exercise_every_host(first, tls_server, tmp_path)
    make_tls_client(verify=False).fine_tunes.list()
    warnings = [r for r in caplog.records if "verify=False" in r.getMessage()]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in warnings)


# -- certificate failures ----------------------------------------------------------------------


def test_an_untrusted_api_certificate_says_how_to_trust_a_private_ca(
    make_tls_client: Callable[..., Client], tls_server: FakeTogether, sleeps: List[float]
) -> None:
    seen: List[ResponseInfo] = []
    with pytest.raises(APIConnectionError) as caught:
        make_tls_client(on_response=seen.append).fine_tunes.list()
    message = str(caught.value)
    assert "certificate for 127.0.0.1 could not be verified" in message
    for hint in HOW_TO_TRUST:
        assert hint in message
    assert caught.value.attempts == 1  # never retried: it cannot heal by itself
    assert sleeps == []
    assert [(i.attempt, i.will_retry) for i in seen] == [(1, False)]
    assert seen[0].error is caught.value


def test_an_untrusted_storage_certificate_on_upload_is_not_retried(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    sleeps: List[float],
    tmp_path: Path,
) -> None:
    untrusted_storage(tls_server)
    client = make_tls_client(verify=tls_server.ca_bundle)
    with pytest.raises(APIConnectionError) as caught:
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert "certificate for 127.0.0.2 could not be verified" in str(caught.value)
    assert caught.value.attempts == 1
    assert sleeps == []


@pytest.mark.parametrize("connections", [1, 4])
def test_an_untrusted_storage_certificate_on_download_is_not_retried(
    make_tls_client: Callable[..., Client],
    tls_server: FakeTogether,
    sleeps: List[float],
    tmp_path: Path,
    connections: int,
) -> None:
    job_id = redirected_job(tls_server, os.urandom(300_000))
    untrusted_storage(tls_server)
    client = make_tls_client(verify=tls_server.ca_bundle)
    with pytest.raises(TogetherError) as caught:
        client.fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=connections)
    assert "certificate for 127.0.0.2 could not be verified" in str(caught.value)
    assert "--ca-bundle" in str(caught.value)
    assert sleeps == []
    assert not (tmp_path / "m.bin").exists()


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1, 0.5, b"/etc/ssl/ca.pem", ["ca.pem"], object()])
def test_a_verify_of_the_wrong_type_is_refused_before_anything_is_sent(
    tls_server: FakeTogether, bad: object
) -> None:
    with pytest.raises(ValueError, match=r"^verify must be"):
        Client(api_key=tls_server.api_key, base_url=tls_server.base_url, verify=bad)  # type: ignore[arg-type]
    assert tls_server.requests == []


def test_a_verify_path_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="verify names"):
        Client(api_key="k", verify=str(tmp_path / "missing.pem"))


def test_a_ca_variable_naming_a_missing_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(TogetherError, match="SSL_CERT_FILE names"):
        Client(api_key="k")


# -- the command line --------------------------------------------------------------------------


def test_the_cli_takes_a_ca_bundle(
    tls_server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", tls_server.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", tls_server.base_url)
    code, out, err = run(capsys, "--max-retries", "0", "list")
    assert code == 1
    assert "--ca-bundle" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, "--ca-bundle", tls_server.ca_bundle, "--json", "list")
    assert (code, out.strip()) == (0, "[]"), err


def test_multipart_parts_trust_the_same_ca(
    make_tls_client: Callable[..., Client], tls_server: FakeTogether, tmp_path: Path
) -> None:
    files: Files = make_tls_client(verify=tls_server.ca_bundle).files
    files.multipart_threshold = 10_000
    files.part_size = 8_000
    files.min_part_size = 4_000
    files.upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    assert len(storage_puts(tls_server)) > 1


def test_a_redirect_to_an_untrusted_host_names_that_host(
    make_tls_client: Callable[..., Client], tls_server: FakeTogether
) -> None:
    untrusted_storage(tls_server)
    target = f"{tls_server.storage.url}/elsewhere?X-Fake-Signature=s3cr3t"
    tls_server.fail_next("GET", "/fine-tunes", 302, headers={"Location": target}, body=b"")
    client = make_tls_client(verify=tls_server.ca_bundle)
    with pytest.raises(APIConnectionError) as caught:
        client.fine_tunes.list()
    assert "certificate for 127.0.0.2 could not be verified" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
