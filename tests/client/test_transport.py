"""The transport under faults: retries, no duplicate jobs, timeouts, logging, threads, fork."""

from __future__ import annotations

import email.utils
import logging
import multiprocessing
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from together_finetune import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Client,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    TogetherError,
)
from together_finetune.testing import FakeTogether
from together_finetune.transport import configure_logging_from_env, logger, parse_retry_after

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def create(client: Client, **kwargs: Any) -> Any:
    return client.fine_tunes.create(training_file="file-a", model=MODEL, **kwargs)


# -- idempotent requests ----------------------------------------------------------------------


def test_two_503s_then_success(client: Client, server: FakeTogether, sleeps: list[float]) -> None:
    server.fail_next("GET", "/fine-tunes", 503, times=2)
    assert client.fine_tunes.list() == []
    assert len(server.requests_to("GET", "/fine-tunes")) == 3
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5  # 0.5 s with up to 25 % jitter
    assert 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_on_get(
    client: Client, server: FakeTogether, status: int
) -> None:
    server.fail_next("GET", "/fine-tunes", status)
    client.fine_tunes.list()
    assert len(server.requests_to("GET", "/fine-tunes")) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(client: Client, server: FakeTogether, status: int) -> None:
    server.fail_next("GET", "/fine-tunes", status)
    with pytest.raises(TogetherError) as info:
        client.fine_tunes.list()
    assert info.value.attempts == 1
    assert len(server.requests_to("GET", "/fine-tunes")) == 1


def test_retries_give_up_after_the_policy(client: Client, server: FakeTogether) -> None:
    server.fail_next("GET", "/fine-tunes", 502, times=5)
    with pytest.raises(InternalServerError) as info:
        client.fine_tunes.list()
    assert info.value.attempts == 3
    assert info.value.request_id
    assert "after 3 attempts" in str(info.value)
    assert len(server.requests_to("GET", "/fine-tunes")) == 3


def test_max_retries_zero_disables_retries(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    server.fail_next("GET", "/fine-tunes", 503)
    with pytest.raises(InternalServerError):
        make_client(max_retries=0).fine_tunes.list()
    assert len(server.requests_to("GET", "/fine-tunes")) == 1


def test_retry_policy_object_sets_attempts(
    make_client: Callable[..., Client], server: FakeTogether, sleeps: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_retries=4, initial_delay=0.1, jitter=0))
    server.fail_next("GET", "/fine-tunes", 503, times=4)
    client.fine_tunes.list()
    assert sleeps == [0.1, 0.2, 0.4, 0.8]


def test_cancel_is_retried_as_idempotent(client: Client, server: FakeTogether) -> None:
    job = create(client)
    server.fail_next("POST", f"/fine-tunes/{job.id}/cancel", 500)
    assert client.fine_tunes.cancel(job.id).status == "cancel_requested"


# -- Retry-After ---------------------------------------------------------------------------


def test_retry_after_seconds_is_waited(
    client: Client, server: FakeTogether, sleeps: list[float]
) -> None:
    server.fail_next("GET", "/fine-tunes", 429, headers={"Retry-After": "2"})
    client.fine_tunes.list()
    assert sleeps == [2.0]


def test_retry_after_ms_takes_precedence(
    client: Client, server: FakeTogether, sleeps: list[float]
) -> None:
    server.fail_next(
        "GET", "/fine-tunes", 503, headers={"retry-after-ms": "1500", "Retry-After": "9"}
    )
    client.fine_tunes.list()
    assert sleeps == [1.5]


def test_retry_after_http_date() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    waited = parse_retry_after({"retry-after": header}, now=now)
    assert waited is not None
    assert 29 <= waited <= 31


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "soon"])
def test_unusable_retry_after_falls_back_to_backoff(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None


def test_retry_after_above_the_cap_raises_at_once(
    client: Client, server: FakeTogether, sleeps: list[float]
) -> None:
    server.fail_next("GET", "/fine-tunes", 429, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        client.fine_tunes.list()
    assert info.value.retry_after == 3600
    assert info.value.attempts == 1
    assert sleeps == []


def test_server_can_forbid_a_retry(client: Client, server: FakeTogether) -> None:
    server.fail_next("GET", "/fine-tunes", 503, headers={"x-should-retry": "false"})
    with pytest.raises(InternalServerError):
        client.fine_tunes.list()
    assert len(server.requests_to("GET", "/fine-tunes")) == 1


def test_server_can_ask_for_a_retry(client: Client, server: FakeTogether) -> None:
    server.fail_next("GET", "/fine-tunes", 409, headers={"x-should-retry": "true"})
    client.fine_tunes.list()
    assert len(server.requests_to("GET", "/fine-tunes")) == 2


# -- create: never a duplicate job ------------------------------------------------------------


def test_create_500_after_storing_raises_and_one_job_exists(
    client: Client, server: FakeTogether
) -> None:
    server.fail_next("POST", "/fine-tunes", 500, after_handling=True)
    with pytest.raises(InternalServerError, match=r"may have been created.*fine_tunes\.list\(\)"):
        create(client)
    assert len(server.jobs) == 1
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def test_create_dropped_after_sending_raises_and_one_job_exists(
    client: Client, server: FakeTogether
) -> None:
    server.drop_next("POST", "/fine-tunes", after_handling=True)
    with pytest.raises(APIConnectionError, match="may have been created") as info:
        create(client)
    assert info.value.__cause__ is not None
    assert len(server.jobs) == 1
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def test_a_server_cannot_make_a_create_that_may_have_acted_retryable(
    client: Client, server: FakeTogether
) -> None:
    server.fail_next(
        "POST", "/fine-tunes", 500, headers={"x-should-retry": "true"}, after_handling=True
    )
    with pytest.raises(InternalServerError, match="may have been created"):
        create(client)
    assert len(server.jobs) == 1
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def test_create_read_timeout_is_not_retried(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    client = make_client(timeout=(2.0, 0.2))
    server.delay_next("POST", "/fine-tunes", 0.6)
    with pytest.raises(APITimeoutError, match="may have been created"):
        create(client)
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_create_is_retried_when_the_server_did_not_act(
    client: Client, server: FakeTogether, status: int
) -> None:
    server.fail_next("POST", "/fine-tunes", status)
    job = create(client)
    assert list(server.jobs) == [job.id]
    assert len(server.requests_to("POST", "/fine-tunes")) == 2


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_create_is_not_retried_on_other_failures(
    client: Client, server: FakeTogether, status: int
) -> None:
    server.fail_next("POST", "/fine-tunes", status)
    with pytest.raises(TogetherError):
        create(client)
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_retried_then_raised(sleeps: list[float]) -> None:
    port = _closed_port()
    client = Client(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", sleep=sleeps.append)
    with pytest.raises(APIConnectionError, match="could not connect") as info:
        client.fine_tunes.list()
    assert info.value.attempts == 3
    assert len(sleeps) == 2
    # Nothing reached a server, so even create is retried.
    sleeps.clear()
    with pytest.raises(APIConnectionError) as info:
        create(client)
    assert info.value.attempts == 3
    assert "may have been created" not in str(info.value)


def test_read_timeout_on_retrieve_is_retried_then_raised(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    client = make_client(timeout=(2.0, 0.15))
    job = server.add_job()
    server.delay_next("GET", f"/fine-tunes/{job['id']}", 0.4, times=3)
    with pytest.raises(APITimeoutError) as info:
        client.fine_tunes.retrieve(job["id"])
    assert info.value.attempts == 3
    assert isinstance(info.value, APIConnectionError)


def test_per_call_timeout_overrides_the_client(client: Client, server: FakeTogether) -> None:
    job = server.add_job()
    server.delay_next("GET", f"/fine-tunes/{job['id']}", 0.4, times=3)
    with pytest.raises(APITimeoutError):
        client.fine_tunes.retrieve(job["id"], timeout=0.1)


def test_401_is_one_attempt(make_client: Callable[..., Client]) -> None:
    with pytest.raises(AuthenticationError) as info:
        make_client(api_key="nope").fine_tunes.list()
    assert info.value.attempts == 1


@pytest.mark.parametrize("bad", [0, -1, (1,), (1, 2, 3), "5", True])
def test_a_bad_timeout_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        Client(api_key="k", timeout=bad)


# -- logging ------------------------------------------------------------------------------------


def test_logs_never_contain_secrets(
    make_client: Callable[..., Client], server: FakeTogether, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    server.fail_next("POST", "/fine-tunes", 503)
    server.fail_next("GET", "/fine-tunes", 500, times=3)
    job = create(client, wandb_api_key="wandb-secret-771", hf_api_token="hf-secret-882")
    with pytest.raises(InternalServerError):
        client.fine_tunes.list()
    with pytest.raises(AuthenticationError) as info:
        make_client(api_key="other-key-993").fine_tunes.retrieve(job.id)
    text = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [str(record.args) for record in caplog.records]
        + [str(info.value), repr(info.value)]
    )
    for secret in (server.api_key, "other-key-993", "wandb-secret-771", "hf-secret-882", "Bearer"):
        assert secret not in text
    ours = [r for r in caplog.records if r.name == "together_finetune"]
    assert sum(r.levelno == logging.INFO and "retrying" in r.getMessage() for r in ours) == 3
    attempts = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    assert any("POST /fine-tunes -> 503" in m and "attempt 1" in m for m in attempts)
    assert any("POST /fine-tunes -> 200" in m and "attempt 2" in m for m in attempts)
    assert all("request id req-" in m for m in attempts if "->" in m)


def test_together_log_env_adds_one_stderr_handler() -> None:
    before = list(logger.handlers)
    level = logger.level
    try:
        configure_logging_from_env({"TOGETHER_LOG": "debug"})
        configure_logging_from_env({"TOGETHER_LOG": "debug"})
        added = [h for h in logger.handlers if h not in before]
        assert len(added) == 1
        assert logger.level == logging.DEBUG
        configure_logging_from_env({})  # unset: nothing changes
        assert len([h for h in logger.handlers if h not in before]) == 1
    finally:
        for handler in list(logger.handlers):
            if handler not in before:
                logger.removeHandler(handler)
        logger.setLevel(level)


# -- security ----------------------------------------------------------------------------------


def test_the_key_is_not_sent_over_plain_http_to_another_host() -> None:
    with pytest.raises(TogetherError, match="allow_insecure_http"):
        Client(api_key="k", base_url="http://api.example.com/v1")
    Client(api_key="k", base_url="http://api.example.com/v1", allow_insecure_http=True)
    Client(api_key="k", base_url="http://localhost:8123/v1")
    Client(api_key="k", base_url="http://[::1]:8123/v1")


def test_authorization_does_not_follow_a_redirect_to_another_host(
    client: Client, server: FakeTogether, tmp_path: Any
) -> None:
    job = server.add_job(status="completed")
    server.download_redirect = True
    result = client.fine_tunes.download(job["id"], output=tmp_path / "model.tar.zst")
    assert result.path.stat().st_size == result.size > 0
    storage_requests = server.storage.requests
    assert storage_requests, "the download was not redirected"
    assert all(r.header("Authorization") is None for r in storage_requests)
    assert server.requests_to("GET", "/finetune/download")[-1].header("Authorization")


# -- threads and processes -------------------------------------------------------------------


def test_one_client_shared_by_16_threads(
    client: Client, server: FakeTogether, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    job = server.add_job()
    errors: list[BaseException] = []
    done = []

    def work() -> None:
        try:
            for _ in range(50):
                assert client.fine_tunes.retrieve(job["id"]).id == job["id"]
            done.append(1)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(done) == 16
    assert not [r for r in caplog.records if "pool" in r.getMessage().lower()]


def _child_lists(client: Client, queue: Any) -> None:
    try:
        queue.put(("ok", len(client.fine_tunes.list()), id(client._transport.session)))
    except BaseException as exc:  # reported to the parent
        queue.put(("error", repr(exc), 0))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
# Forking a threaded process is exactly the gunicorn --preload case this test covers.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_client_works_in_a_forked_child(client: Client, server: FakeTogether) -> None:
    server.add_job()
    parent_session = client._transport.session
    assert len(client.fine_tunes.list()) == 1
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_lists, args=(client, queue))
    child.start()
    status, count, _session_id = queue.get(timeout=20)
    child.join(timeout=20)
    assert (status, count) == ("ok", 1)
    assert child.exitcode == 0
    assert client._transport.session is parent_session  # the parent's pool is untouched


# -- the environment ----------------------------------------------------------------------------


def test_a_netrc_entry_never_replaces_the_bearer_token(
    make_client: Callable[..., Client],
    server: FakeTogether,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    make_client().fine_tunes.list()
    assert server.requests[-1].header("Authorization") == f"Bearer {server.api_key}"


def test_proxy_settings_are_read_once_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("not read before a request\n")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    transport = Client(api_key="k", base_url="https://api.together.ai/v1")._transport
    monkeypatch.setenv("HTTPS_PROXY", "http://other.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path))
    assert transport.proxies.for_url("https://api.together.ai/v1/x") == "http://proxy.internal:3128"
    assert transport.trust == str(bundle)
    assert transport.session.trust_env is False


def test_no_proxy_is_honoured_for_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.together.ai")
    transport = Client(api_key="k", base_url="https://api.together.ai/v1")._transport
    assert transport.proxies.for_url("https://api.together.ai/v1/fine-tunes") is None


def test_a_failed_redirect_never_shows_the_presigned_url(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    import traceback

    storage = server.storage.url
    server.storage.stop()  # the presigned URL now refuses connections
    signed = f"{storage}/objects/model.tar.zst?X-Fake-Signature=s3cr3t-signature"
    server.fail_next("GET", "/fine-tunes", 302, headers={"Location": signed}, body=b"")
    with pytest.raises(APIConnectionError, match="could not connect") as caught:
        make_client(max_retries=0).fine_tunes.list()
    chain = "".join(traceback.format_exception(caught.type, caught.value, caught.tb))
    assert "s3cr3t-signature" not in chain
    assert "NewConnectionError" in chain or "ConnectionError" in chain
