"""``client.files`` against wrong arguments and malformed API answers.

Malformed answers are injected with ``FakeTogether.fail_next``; every refusal must happen
before a byte of the file leaves the machine, and an opened multipart upload is aborted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from support.data import storage_puts, write_jsonl

from together_finetune import Client
from together_finetune.errors import APIResponseValidationError, ConflictError, DownloadError
from together_finetune.files import Files, UploadError
from together_finetune.testing import FakeTogether

INITIATE = "/files/multipart/initiate"


def num_parts(path: Path) -> int:
    """How many parts the lowered thresholds of ``multipart`` make of ``path``."""
    return -(-path.stat().st_size // 8_000)


def part(number: int, url: str = "http://127.0.0.1:1/part", **extra: Any) -> dict[str, Any]:
    return {"PartNumber": number, "URL": url, **extra}


@pytest.fixture
def multipart(client: Client) -> Files:
    """``client.files`` with thresholds low enough for small multipart uploads."""
    files = client.files
    files.multipart_threshold = 10_000
    files.part_size = 8_000
    files.min_part_size = 4_000
    return files


# -- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"if_exists": "replace"}, "if_exists must be 'return' or 'error'"),
        ({"purpose": " "}, "purpose must be a non-empty string"),
        ({"purpose": None}, "purpose must be a non-empty string"),
    ],
)
def test_upload_arguments_are_checked_before_any_request(
    client: Client, server: FakeTogether, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"), **kwargs)
    assert server.requests == []


def test_empty_file_is_refused_before_any_request(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    empty = tmp_path / "train.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        client.files.upload(empty, check=False)
    assert server.requests == []


def test_content_output_must_be_a_file_in_an_existing_directory(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    stored = server.files.add_file(b"abc\n")
    with pytest.raises(DownloadError, match="is a directory"):
        client.files.content(stored["id"], tmp_path)
    with pytest.raises(DownloadError, match=r"output directory .* does not exist"):
        client.files.content(stored["id"], tmp_path / "missing" / "out.jsonl")
    assert server.requests_to("GET", "/content") == []
    assert list(tmp_path.iterdir()) == []


# -- malformed answers of the API ----------------------------------------------------------------


@pytest.mark.parametrize("body", [{"data": "none"}, {"files": []}])
def test_list_refuses_an_answer_without_a_data_list(
    client: Client, server: FakeTogether, body: dict[str, Any]
) -> None:
    server.fail_next("GET", "/files", 200, body=body)
    with pytest.raises(APIResponseValidationError, match="expected an object with a 'data' list"):
        client.files.list()


def test_snake_case_file_objects_are_decoded(client: Client, server: FakeTogether) -> None:
    stored = server.files.add_file(b"abc\n", filename="train.jsonl")
    wire = {k: v for k, v in stored.items() if k not in ("FileType", "Processed")}
    server.fail_next(
        "GET", f"/files/{stored['id']}", 200, body={**wire, "file_type": "jsonl", "processed": True}
    )
    got = client.files.retrieve(stored["id"])
    assert got.file_type == "jsonl"
    assert got.processed is True
    assert got.id == stored["id"]


def test_conflict_without_a_file_id_is_raised_as_is(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next("POST", "/files", 409, body={"error": {"message": "duplicate"}})
    with pytest.raises(ConflictError, match="duplicate"):
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert storage_puts(server) == []


def test_registration_with_a_malformed_file_id_sends_no_byte(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next(
        "POST",
        "/files",
        302,
        headers={
            "Location": server.storage.url + "/uploads/x",
            "X-Together-File-Id": "../../etc/passwd",
        },
    )
    with pytest.raises(UploadError, match="malformed file ID"):
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert storage_puts(server) == []


def test_malformed_part_url_aborts_before_any_byte(
    multipart: Files, server: FakeTogether, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", 1000)
    n = num_parts(path)
    parts = [part(i, url="http://[::1/upload") for i in range(1, n + 1)]
    server.fail_next(
        "POST", INITIATE, 200, body={"upload_id": "upload-1", "file_id": "file-abc", "parts": parts}
    )
    with pytest.raises(UploadError, match="malformed upload URL"):
        multipart.upload(path)
    assert storage_puts(server) == []
    (abort,) = server.requests_to("POST", "/files/multipart/abort")
    assert abort.json()["upload_id"] == "upload-1"


@pytest.mark.parametrize(
    "started",
    [
        {"upload_id": "", "file_id": "file-abc", "parts": []},
        {"file_id": "file-abc", "parts": []},
        {"upload_id": "u-1", "file_id": None},
    ],
)
def test_initiate_answer_without_ids_is_an_upload_error(
    multipart: Files, server: FakeTogether, tmp_path: Path, started: dict[str, Any]
) -> None:
    server.fail_next("POST", INITIATE, 200, body=started)
    with pytest.raises(UploadError, match="without upload_id or file_id"):
        multipart.upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    assert storage_puts(server) == []


def numbered(n: int) -> list[dict[str, Any]]:
    return [part(i) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("make_parts", "message"),
    [
        (lambda n: None, "announced no upload parts where"),
        (lambda n: numbered(n)[:1], "announced 1 upload parts where"),
        (lambda n: [f"part-{i}" for i in range(n)], "malformed upload part: part-0"),
        (lambda n: [*numbered(n - 1), part(n + 1)], "malformed upload part"),
        (lambda n: [*numbered(n - 1), {"PartNumber": n}], "malformed upload part"),
        (lambda n: [*numbered(n - 1), part(n, Headers=["x"])], "malformed headers for upload part"),
        (lambda n: [*numbered(n - 1), part(1)], "not numbered 1 to n"),
    ],
)
def test_malformed_parts_abort_the_upload_before_any_byte(
    multipart: Files,
    server: FakeTogether,
    tmp_path: Path,
    make_parts: Callable[[int], Any],
    message: str,
) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", 1000)
    server.fail_next(
        "POST",
        INITIATE,
        200,
        body={"upload_id": "upload-1", "file_id": "file-abc", "parts": make_parts(num_parts(path))},
    )
    with pytest.raises(UploadError, match=message):
        multipart.upload(path)
    assert storage_puts(server) == []
    (abort,) = server.requests_to("POST", "/files/multipart/abort")
    assert abort.json() == {"upload_id": "upload-1", "file_id": "file-abc"}


def test_multipart_malformed_file_id_aborts_with_the_upload_id(
    multipart: Files, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next(
        "POST", INITIATE, 200, body={"upload_id": "upload-1", "file_id": "bad id", "parts": []}
    )
    with pytest.raises(UploadError, match="malformed file ID"):
        multipart.upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    (abort,) = server.requests_to("POST", "/files/multipart/abort")
    assert abort.json()["upload_id"] == "upload-1"


def test_storage_redirect_loop_ends_in_an_upload_error(
    make_client: Callable[..., Client], server: FakeTogether, tmp_path: Path
) -> None:
    # A presigned URL on the fake API itself, which answers every PUT there with a
    # redirect back to the same URL.
    loop = server.base_url + "/loop"
    server.fail_next("PUT", "/loop", 307, headers={"Location": loop}, times=1000)
    server.fail_next(
        "POST", "/files", 302, headers={"Location": loop, "X-Together-File-Id": "file-abc"}
    )
    client = make_client()
    with pytest.raises(UploadError, match="more than 20 redirects"):
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert len([r for r in server.requests if r.method == "PUT"]) == 21
