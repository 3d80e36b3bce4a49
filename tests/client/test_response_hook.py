"""``Client(on_response=...)``: one ResponseInfo per HTTP attempt, in the requesting thread."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, List, Tuple

import attrs
import pytest
from support.data import storage_puts, write_jsonl

from together_finetune import (
    APIConnectionError,
    APIStatusError,
    Client,
    InternalServerError,
    ResponseInfo,
    UploadError,
)
from together_finetune._redact import redact_url
from together_finetune.testing import FakeTogether

Seen = List[Tuple[ResponseInfo, str]]


@pytest.fixture
def seen() -> Seen:
    return []


@pytest.fixture
def hooked(make_client: Callable[..., Client], seen: Seen) -> Callable[..., Client]:
    """Clients whose hook records each info with the name of the thread it ran in."""

    def hook(info: ResponseInfo) -> None:
        seen.append((info, threading.current_thread().name))

    return lambda **kwargs: make_client(on_response=hook, **kwargs)


def infos(seen: Seen, method: str = "", part: str = "") -> List[ResponseInfo]:
    return [i for i, _ in seen if i.method.startswith(method) and part in i.url]


def completed_job(server: FakeTogether, data: bytes, *, redirect: bool = False) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    server.set_download(job_id, data=data)
    server.download_redirect = redirect
    return job_id


# -- API requests ------------------------------------------------------------------------------


def test_one_info_for_a_request_that_succeeds(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen
) -> None:
    hooked().fine_tunes.list()
    ((info, thread),) = seen
    assert (info.method, info.url, info.status_code) == (
        "GET",
        server.base_url + "/fine-tunes",
        200,
    )
    assert (info.attempt, info.error, info.will_retry) == (1, None, False)
    assert isinstance(info.request_id, str)
    assert info.request_id
    assert 0 < info.elapsed < 5
    assert thread == threading.current_thread().name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.status_code = 500  # type: ignore[misc]


def test_every_retry_is_an_attempt_of_its_own(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen
) -> None:
    server.fail_next("GET", "/fine-tunes", 503, times=2)
    hooked().fine_tunes.list()
    got = [(i.status_code, i.attempt, i.will_retry) for i, _ in seen]
    assert got == [(503, 1, True), (503, 2, True), (200, 3, False)]
    assert all(isinstance(i.error, InternalServerError) for i, _ in seen[:2])
    assert seen[2][0].error is None


def test_the_last_attempt_says_no_retry_follows_and_carries_the_error_raised(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen
) -> None:
    server.fail_next("GET", "/fine-tunes", 503, times=5)
    with pytest.raises(APIStatusError) as caught:
        hooked(max_retries=1).fine_tunes.list()
    assert [(i.attempt, i.will_retry) for i, _ in seen] == [(1, True), (2, False)]
    assert seen[-1][0].error is caught.value


def test_an_attempt_without_an_answer_has_no_status(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen
) -> None:
    server.drop_next("GET", "/fine-tunes")
    hooked().fine_tunes.list()
    first, second = (i for i, _ in seen)
    assert (first.status_code, first.will_retry) == (None, True)
    assert isinstance(first.error, APIConnectionError)
    assert first.request_id is None
    assert (second.status_code, second.attempt) == (200, 2)


def test_query_parameters_are_in_the_url(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen
) -> None:
    job_id = str(server.add_job(status="running")["id"])
    server.fail_next("GET", "/fine-tunes/*/events", 503)
    hooked().fine_tunes.list_events(job_id)
    failed, done = (i for i, _ in seen)
    assert failed.url.startswith(server.base_url + f"/fine-tunes/{job_id}/events")
    assert failed.url.split("?")[0] == done.url.split("?")[0]


# -- storage PUTs --------------------------------------------------------------------------------


def test_the_storage_put_is_reported_with_its_signature_redacted(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    server.storage.fail_next("PUT", 503)
    hooked().files.upload(write_jsonl(tmp_path / "train.jsonl"))
    puts = infos(seen, "PUT")
    assert [(i.status_code, i.attempt, i.will_retry) for i in puts] == [
        (503, 1, True),
        (200, 2, False),
    ]
    assert isinstance(puts[0].error, UploadError)
    signature = storage_puts(server)[-1].query["X-Fake-Signature"]
    assert all("X-Fake-Signature=REDACTED" in i.url for i in puts)
    assert signature not in repr(seen)
    assert all(i.url.startswith(server.storage.url) for i in puts)


def test_each_part_of_a_multipart_upload_is_reported_from_its_thread(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    files = hooked().files
    files.multipart_threshold = 10_000
    files.part_size = 8_000
    files.min_part_size = 4_000
    files.upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    puts = [(i, thread) for i, thread in seen if i.method == "PUT"]
    assert len(puts) == len(storage_puts(server)) > 1
    assert all(i.status_code == 200 and i.attempt == 1 for i, _ in puts)


# -- downloads -----------------------------------------------------------------------------------


def test_each_resume_of_a_download_is_the_next_attempt(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    job_id = completed_job(server, os.urandom(300_000))
    server.cut_download(100_000, times=2)
    hooked().fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=1)
    downloads = infos(seen, "GET", "/finetune/download")
    assert [(i.status_code, i.attempt) for i in downloads] == [(200, 1), (206, 2), (206, 3)]
    assert all(i.error is None and not i.will_retry for i in downloads)


def test_each_piece_of_a_parallel_download_is_reported_in_its_thread(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    data = os.urandom(400_000)
    job_id = completed_job(server, data, redirect=True)
    hooked().fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=4)
    storage = [(i, thread) for i, thread in seen if i.url.startswith(server.storage.url)]
    assert len(storage) == len(server.storage.requests) >= 4
    assert all(i.status_code == 206 for i, _ in storage)
    # The first request (it follows the redirect) is the caller's; the pieces, the workers'.
    assert storage[0][1] == threading.current_thread().name
    assert all(thread.startswith("together-download-") for _, thread in storage[1:])
    redirect = infos(seen, "GET", "/finetune/download")
    assert [i.status_code for i in redirect] == [302]


def test_a_storage_failure_of_a_piece_is_reported_with_the_retry(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    job_id = completed_job(server, os.urandom(100_000), redirect=True)
    server.storage.fail_next("GET", 503)
    hooked().fine_tunes.download(job_id, output=tmp_path / "m.bin", connections=1)
    storage = [i for i, _ in seen if i.url.startswith(server.storage.url)]
    assert [(i.status_code, i.will_retry) for i in storage] == [(503, True), (200, False)]


# -- the hook itself ------------------------------------------------------------------------------


def test_a_hook_that_raises_is_logged_once_per_client_and_changes_nothing(
    make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    calls: List[ResponseInfo] = []

    def broken(info: ResponseInfo) -> None:
        calls.append(info)
        raise RuntimeError("metrics backend is down")

    caplog.set_level(logging.WARNING, logger="together_finetune")
    first = make_client(on_response=broken)
    assert first.fine_tunes.list() == []
    assert first.fine_tunes.list() == []
    make_client(on_response=broken).fine_tunes.list()
    assert len(calls) == 3
    warnings = [r for r in caplog.records if "on_response hook raised" in r.getMessage()]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "metrics backend is down" in warnings[0].getMessage()


def test_no_info_carries_the_api_key(
    hooked: Callable[..., Client], server: FakeTogether, seen: Seen, tmp_path: Path
) -> None:
    client = hooked()
    server.fail_next("GET", "/fine-tunes", 401)
    with pytest.raises(APIStatusError):
        client.fine_tunes.list()
    client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    job_id = completed_job(server, os.urandom(10_000), redirect=True)
    client.fine_tunes.download(job_id, output=tmp_path / "m.bin")
    shown = repr(seen) + "".join(str(i.error) + repr(i.error) for i, _ in seen)
    assert len(seen) >= 5
    assert server.api_key not in shown
    assert "Bearer" not in shown


def test_on_response_must_be_callable(server: FakeTogether) -> None:
    with pytest.raises(ValueError, match="on_response must be a callable"):
        Client(api_key=server.api_key, base_url=server.base_url, on_response="print")  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=abc&X-Amz-Credential=AK%2F1",
            "https://b.s3.amazonaws.com/k?X-Amz-Expires=60&X-Amz-Signature=REDACTED"
            "&X-Amz-Credential=REDACTED",
        ),
        (
            "https://acct.blob.core.windows.net/c/b?sv=2024&sig=xyz&se=2026",
            "https://acct.blob.core.windows.net/c/b?sv=2024&sig=REDACTED&se=2026",
        ),
        (
            "https://api.together.ai/v1/fine-tunes?limit=5",
            "https://api.together.ai/v1/fine-tunes?limit=5",
        ),
        ("http://user:pw@proxy:3128/x", "http://***@proxy:3128/x"),
    ],
)
def test_presigned_signatures_and_credentials_are_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown
