"""The tokenization endpoints and the server's file check, against the fake:
``preview``, ``download_tokenized_dataset`` (presigned storage URL, no key sent there,
safe names, retries, the announced size) and ``files.wait_until_processed``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from together_finetune import (
    Client,
    DatasetError,
    DownloadError,
    FileProcessingStatus,
    TogetherError,
    WaitTimeoutError,
)
from together_finetune._transfer.presigned import download_presigned
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
CHAT = {
    "messages": [
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello, friend."},
    ]
}


def write(tmp_path: Path, *samples: Any, name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    return path


# ---------------------------------------------------------------- wait_until_processed


def test_an_upload_is_pending_until_the_server_has_checked_it(
    client: Client, server: FakeTogether, tmp_path: Path, sleeps: list[float]
) -> None:
    uploaded = client.files.upload(write(tmp_path, CHAT, CHAT))
    assert uploaded.processing_status is FileProcessingStatus.PENDING
    done = client.files.wait_until_processed(uploaded.id, poll_interval=0.25)
    assert done.processing_status is FileProcessingStatus.COMPLETED
    assert done.validation_report is not None
    assert done.validation_report.valid is True
    assert done.validation_report.nlines == 2
    assert sleeps
    assert all(pause <= 0.25 for pause in sleeps)
    assert len(server.requests_to("GET", f"/files/{uploaded.id}")) == len(sleeps) + 1


def test_a_file_the_server_refuses_raises_its_error(client: Client, tmp_path: Path) -> None:
    uploaded = client.files.upload(write(tmp_path, {"messages": "hi"}), check=False)
    with pytest.raises(
        DatasetError, match=r"INVALID_FORMAT.*'messages' has the wrong type"
    ) as info:
        client.files.wait_until_processed(uploaded.id)
    assert info.value.report is None
    assert info.value.file is not None
    assert info.value.file.validation_report is not None
    assert info.value.file.validation_report.valid is False


def test_waiting_for_a_file_gives_up_after_the_timeout(
    client: Client, server: FakeTogether, tmp_path: Path, sleeps: list[float]
) -> None:
    server.file_processing_seconds = 100.0
    uploaded = client.files.upload(write(tmp_path, CHAT))
    with pytest.raises(WaitTimeoutError, match="still PENDING after waiting 5 s"):
        client.files.wait_until_processed(uploaded.id, timeout=5, poll_interval=2)
    assert sum(sleeps) == pytest.approx(5)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"poll_interval": 0}, "poll_interval must be"), ({"timeout": -1}, "timeout must be")],
)
def test_bad_wait_arguments_send_nothing(
    client: Client, server: FakeTogether, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.files.wait_until_processed("file-1", **options)
    assert server.requests == []


# ---------------------------------------------------------------- preview


def processed_file(client: Client, tmp_path: Path, *samples: Any) -> str:
    uploaded = client.files.upload(write(tmp_path, *(samples or (CHAT,))))
    return client.files.wait_until_processed(uploaded.id, poll_interval=0.5).id


def test_preview_marks_the_tokens_that_train(client: Client, tmp_path: Path) -> None:
    file_id = processed_file(client, tmp_path, CHAT, CHAT, CHAT)
    preview = client.fine_tunes.preview(model=MODEL, training_file=file_id, top_k=2)
    assert preview.model == MODEL
    assert len(preview.rows) == 2
    row = preview.rows[0]
    assert len(row.tokens) == len(row.labels) == row.num_tokens
    mask = row.trained_mask()
    assert sum(mask) == row.num_trained_tokens
    assert 0 < row.num_trained_tokens < row.num_tokens  # the user turn is masked
    assert all(all(mask[i] for i in range(start, end)) for start, end in row.trained_spans)


def test_preview_can_train_on_the_inputs(client: Client, tmp_path: Path) -> None:
    file_id = processed_file(client, tmp_path)
    masked = client.fine_tunes.preview(model=MODEL, training_file=file_id).rows[0]
    whole = client.fine_tunes.preview(
        model=MODEL, training_file=file_id, train_on_inputs=True
    ).rows[0]
    assert whole.num_trained_tokens is not None
    assert masked.num_trained_tokens is not None
    assert whole.num_trained_tokens > masked.num_trained_tokens


def test_bad_preview_arguments_are_all_reported_and_nothing_is_sent(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(ValueError, match="invalid preview arguments") as info:
        client.fine_tunes.preview(
            model="",
            training_file="train.jsonl",
            top_k=0,
            train_on_inputs="auto",  # type: ignore[arg-type]
        )
    for name in ("model:", "top_k:", "train_on_inputs:", "not a path"):
        assert name in str(info.value)
    assert server.requests == []


# ---------------------------------------------------------------- tokenized dataset


@pytest.fixture
def job_id(server: FakeTogether) -> str:
    found: str = server.add_job(status="completed")["id"]
    return found


DATA = bytes(range(256)) * 64


def test_the_tokenized_dataset_lands_under_the_name_the_api_gives(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA, filename="tokens.tar.zst")
    result = client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path)
    assert result.path == tmp_path / "tokens.tar.zst"
    assert result.path.read_bytes() == DATA
    assert result.size == len(DATA)
    assert result.sha256 == hashlib.sha256(DATA).hexdigest()
    assert list(tmp_path.iterdir()) == [result.path]


def test_a_missing_output_directory_is_made(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA, filename="tokens.tar.zst")
    result = client.fine_tunes.download_tokenized_dataset(job_id, output=f"{tmp_path}/new/dir/")
    assert result.path == tmp_path / "new" / "dir" / "tokens.tar.zst"
    assert result.path.read_bytes() == DATA


def test_the_api_key_never_reaches_the_storage_host(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA)
    client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path)
    assert server.storage.requests
    assert all(request.header("Authorization") is None for request in server.storage.requests)


@pytest.mark.parametrize(
    "name", ["../../escape.tar.zst", "/etc/passwd", "a/../.hidden", "..", ".", "..."]
)
def test_a_server_file_name_cannot_leave_the_directory(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path, name: str
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    server.set_tokenized_dataset(job_id, data=DATA, filename=name)
    result = client.fine_tunes.download_tokenized_dataset(job_id, output=target)
    assert result.path.parent == target
    assert list(tmp_path.iterdir()) == [target]


def test_an_explicit_file_path_is_used_and_not_overwritten(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA)
    target = tmp_path / "mine.bin"
    assert client.fine_tunes.download_tokenized_dataset(job_id, output=target).path == target
    with pytest.raises(DownloadError, match="already exists"):
        client.fine_tunes.download_tokenized_dataset(job_id, output=target)
    target.write_bytes(b"old")
    client.fine_tunes.download_tokenized_dataset(job_id, output=target, overwrite=True)
    assert target.read_bytes() == DATA


def test_a_storage_hiccup_is_retried(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA)
    server.storage.fail_next("GET", 503)
    server.storage.drop_next("GET")
    result = client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path)
    assert result.path.read_bytes() == DATA


def test_an_expired_url_is_asked_for_again(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA)
    server.storage.fail_next("GET", 403)
    result = client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path)
    assert result.path.read_bytes() == DATA
    links = server.requests_to("GET", f"/fine-tunes/{job_id}/download-tokenized-dataset")
    assert len(links) == 2


def test_a_storage_refusal_is_an_error_and_leaves_no_file(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA, filename="t.tar.zst")
    server.storage.fail_next("GET", 403, times=50)
    with pytest.raises(TogetherError, match="403"):
        client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_size_other_than_the_announced_one_places_nothing(
    client: Client, server: FakeTogether, job_id: str, tmp_path: Path
) -> None:
    server.set_tokenized_dataset(job_id, data=DATA)
    link = client.fine_tunes.tokenized_dataset_link(job_id)
    assert link.size == len(DATA)
    target = tmp_path / "t.bin"
    with pytest.raises(DownloadError, match=f"changed size \\({len(DATA) + 1} -> {len(DATA)} "):
        download_presigned(
            client._transport,
            lambda: link.url,
            source="/test",
            output=target,
            expected_size=len(DATA) + 1,
            overwrite=False,
            label="t",
        )
    assert list(tmp_path.iterdir()) == []


def test_a_presigned_url_that_is_not_https_is_refused_for_a_remote_api(
    server: FakeTogether, make_client: Any, tmp_path: Path
) -> None:
    remote = make_client(base_url="https://api.example.invalid/v1")
    with pytest.raises(DownloadError, match="refusing to download from a non-https URL"):
        download_presigned(
            remote._transport,
            lambda: "http://storage.example.invalid/x?sig=secret",
            source="/test",
            output=tmp_path / "x",
            expected_size=None,
            overwrite=False,
            label="x",
        )
