"""``client.files`` against the fake API and its storage server, over real sockets:
the upload flows, the 409 answer, the local check, the retry rule, memory, and the
list/retrieve/delete/content endpoints."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any, Callable

import pytest
from support.data import storage_puts, write_jsonl
from support.paths import DATASETS, REPO_ROOT

from together_finetune import Client
from together_finetune._transfer.upload import check_storage_url
from together_finetune.dataset import DatasetError, check_dataset
from together_finetune.errors import (
    APIConnectionError,
    BadRequestError,
    ConflictError,
    DownloadError,
    InternalServerError,
    NotFoundError,
)
from together_finetune.files import FileDeleteResult, FileObject, Files, UploadError
from together_finetune.testing import FakeTogether
from together_finetune.testing.files_api import FilesAPI

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
ROOT = REPO_ROOT


def fake_files(server: FakeTogether) -> FilesAPI:
    """The fake's files API: stored uploads, contents, parts."""
    return server.files


def files_of(client: Client) -> Files:
    return client.files


# -- the single-shot flow ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["jsonl", "parquet", "csv"])
def test_upload_of_each_file_type(
    client: Client, server: FakeTogether, tmp_path: Path, suffix: str
) -> None:
    if suffix == "jsonl":
        path = write_jsonl(tmp_path / "train.jsonl")
    elif suffix == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "train.parquet"
        pq.write_table(pa.table({"input_ids": [[1, 2, 3], [4, 5]]}), path)
    else:
        path = tmp_path / "eval.csv"
        path.write_text("question,answer\n1+1,2\n2+2,4\n")
    purpose = "eval" if suffix == "csv" else "fine-tune"

    uploaded = files_of(client).upload(path, purpose=purpose)

    assert isinstance(uploaded, FileObject)
    assert uploaded.id.startswith("file-")
    assert uploaded.file_type == suffix
    # A fine-tuning file waits for the server's validation (the fake's clock moves it).
    assert uploaded.processed is (purpose != "fine-tune")
    assert uploaded.bytes == path.stat().st_size
    assert uploaded.filename == path.name
    assert fake_files(server).contents[uploaded.id] == path.read_bytes()
    # The registration: form fields only, redirect not followed.
    (post,) = server.requests_to("POST", "/files")
    assert post.header(
        "Content-Type",
    ).startswith("multipart/form-data")  # type: ignore[union-attr]
    assert b'name="checksum"' in post.body
    assert hashlib.sha256(path.read_bytes()).hexdigest().encode() in post.body
    assert b"filename=" not in post.body  # no file part
    (put,) = storage_puts(server)
    assert put.header("Authorization") is None
    assert put.header("Content-Length") == str(path.stat().st_size)
    assert put.body == path.read_bytes()
    assert server.requests_to("POST", f"/files/{uploaded.id}/preprocess")


def test_upload_reports_progress(client: Client, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", 50)
    seen: list[tuple[int, int]] = []
    files_of(client).upload(path, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert seen[-1] == (size, size)


def test_uploaded_file_can_train(client: Client, tmp_path: Path) -> None:
    uploaded = files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    job = client.fine_tunes.create(training_file=uploaded.id, model=MODEL)
    assert job.id.startswith("ft-")


def test_create_with_unknown_fake_file_names_the_field(client: Client) -> None:
    with pytest.raises(BadRequestError, match="training_file"):
        client.fine_tunes.create(
            training_file="file-7b0e3d4c-1f2a-4b5c-8d9e-0a1b2c3d4e5f", model=MODEL
        )
    # made-up IDs of other shapes stay accepted
    assert client.fine_tunes.create(training_file="file-abc", model=MODEL).id


def test_file_type_is_inferred_or_refused(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("hello\n")
    with pytest.raises(ValueError, match="extension"):
        files_of(client).upload(path)
    with pytest.raises(ValueError, match="file_type"):
        files_of(client).upload(path, file_type="xml")


# -- 409: the same file exists --------------------------------------------------------------


def test_conflict_returns_the_existing_file(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "train.jsonl")
    first = files_of(client).upload(path)
    again = files_of(client).upload(path)
    assert again.id == first.id
    assert len(storage_puts(server)) == 1
    assert server.requests_to("GET", f"/files/{first.id}")


def test_conflict_can_be_an_error(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl")
    first = files_of(client).upload(path)
    with pytest.raises(ConflictError, match=first.id):
        files_of(client).upload(path, if_exists="error")


# -- the local check ----------------------------------------------------------------------------


def test_upload_refused_by_the_check_sends_nothing(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\nnot json\n')
    with pytest.raises(DatasetError) as caught:
        files_of(client).upload(path)
    assert isinstance(caught.value, ValueError)
    assert [p.line for p in caught.value.report.problems] == [2]
    assert "line 2" in str(caught.value)
    assert server.requests == []
    assert server.storage.requests == []


def test_a_file_with_only_warnings_uploads(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    parallel = DATASETS / "parallel_tool_calls.jsonl"
    path = tmp_path / "tools.jsonl"
    # Parallel tool calls, plus a line whose 'metadata' key the check only warns about.
    path.write_bytes(parallel.read_bytes() + parallel.read_bytes()[:-2] + b', "metadata": {}}\n')
    assert check_dataset(path).warnings
    uploaded = files_of(client).upload(path)
    assert fake_files(server).contents[uploaded.id] == path.read_bytes()


def test_check_false_sends_a_file_the_check_refuses(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"whatever": 1}\n')
    assert files_of(client).upload(path, check=False).id.startswith("file-")


def test_csv_is_refused_for_fine_tuning(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="CSV"):
        files_of(client).upload(path)
    assert server.requests == []


# -- the retry rule -----------------------------------------------------------------------------


def test_500_on_post_files_is_not_retried(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next("POST", "/files", 500)
    with pytest.raises(InternalServerError, match="may have been registered"):
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    assert len(server.requests_to("POST", "/files")) == 1
    assert storage_puts(server) == []


def test_503_on_post_files_is_retried(
    client: Client, server: FakeTogether, tmp_path: Path, sleeps: list[float]
) -> None:
    server.fail_next("POST", "/files", 503)
    assert files_of(client).upload(write_jsonl(tmp_path / "train.jsonl")).id
    assert len(server.requests_to("POST", "/files")) == 2
    assert len(sleeps) == 1


def test_500_on_preprocess_is_not_retried(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next("POST", "/files/*/preprocess", 500)
    with pytest.raises(InternalServerError, match="is uploaded"):
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    assert len([r for r in server.requests if r.path.endswith("/preprocess")]) == 1


def test_failed_put_is_retried(
    client: Client, server: FakeTogether, tmp_path: Path, sleeps: list[float]
) -> None:
    path = write_jsonl(tmp_path / "train.jsonl")
    server.storage.fail_next("PUT", 503)
    server.storage.drop_next("PUT")
    uploaded = files_of(client).upload(path)
    assert len(storage_puts(server)) == 3
    assert len(sleeps) == 2
    assert fake_files(server).contents[uploaded.id] == path.read_bytes()
    assert len(server.requests_to("POST", "/files")) == 1  # the registration is not repeated


def test_put_that_keeps_failing_raises(
    make_client: Callable[..., Client], server: FakeTogether, tmp_path: Path
) -> None:
    server.storage.fail_next("PUT", 503, times=5)
    client = make_client(max_retries=1)
    with pytest.raises(UploadError, match="503") as caught:
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    assert caught.value.attempts == 2
    assert len(storage_puts(server)) == 2


def test_put_with_a_4xx_is_not_retried(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.storage.fail_next("PUT", 403)
    with pytest.raises(UploadError, match="403"):
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    assert len(storage_puts(server)) == 1


def test_a_failed_put_never_quotes_the_presigned_url(
    make_client: Callable[..., Client], server: FakeTogether, tmp_path: Path
) -> None:
    storage = server.storage.url
    server.storage.stop()  # refused connections: requests' message quotes the whole URL
    with pytest.raises(APIConnectionError, match="could not connect") as caught:
        files_of(make_client(max_retries=1)).upload(write_jsonl(tmp_path / "train.jsonl"))
    message = str(caught.value)
    assert "/uploads/" not in message
    assert "X-Fake-Signature" not in message
    assert storage.split("//")[1] not in message
    # Nor anywhere in the chain a traceback or an error tracker would show.
    chain = "".join(traceback.format_exception(caught.type, caught.value, caught.tb))
    assert "X-Fake-Signature" not in chain
    assert "could not connect" in chain


# -- presigned URL safety -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://storage.example.com/x", "non-https"),
        ("http://169.254.169.254/latest", "metadata"),
        ("https://metadata.google.internal/x", "metadata"),
        ("https:///nohost", "without a host"),
        ("http://[fe80::1]/x", "link-local"),
    ],
)
def test_unsafe_upload_urls_are_refused(client: Client, url: str, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        check_storage_url(url, client.base_url)


def test_https_client_refuses_http_and_private_storage() -> None:
    remote = Client(api_key="k", base_url="https://api.example.com/v1")
    api = remote.base_url
    with pytest.raises(UploadError, match="non-https"):
        check_storage_url("http://storage.example.com/x", api)
    with pytest.raises(UploadError, match="non-public"):
        check_storage_url("https://10.0.0.5/x", api)
    with pytest.raises(UploadError, match="non-public"):
        check_storage_url("https://localhost/x", api)
    check_storage_url("https://bucket.s3.amazonaws.com/x?sig=1", api)
    remote.close()


def test_a_bad_location_is_refused_before_any_byte(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next(
        "POST",
        "/files",
        302,
        headers={"Location": "http://169.254.169.254/steal", "X-Together-File-Id": "file-x"},
        body=b"",
    )
    with pytest.raises(UploadError, match="metadata"):
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))
    assert server.storage.requests == []


def test_missing_headers_are_an_error(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    server.fail_next("POST", "/files", 302, headers={"Location": "http://127.0.0.2/x"}, body=b"")
    with pytest.raises(UploadError, match="X-Together-File-Id"):
        files_of(client).upload(write_jsonl(tmp_path / "train.jsonl"))


# -- multipart ------------------------------------------------------------------------------------


def lowered(client: Client) -> Files:
    files = files_of(client)
    files.multipart_threshold = 10_000
    files.part_size = 8_000
    files.min_part_size = 4_000
    return files


def test_multipart_upload(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", 1000)
    size = path.stat().st_size
    uploaded = lowered(client).upload(path)

    assert fake_files(server).contents[uploaded.id] == path.read_bytes()
    assert uploaded.bytes == size
    (initiate,) = server.requests_to("POST", "/files/multipart/initiate")
    body = initiate.json()
    assert body["file_size"] == size
    assert body["num_parts"] == -(-size // 8_000)
    complete = server.requests_to("POST", "/files/multipart/complete")[0].json()
    assert [p["part_number"] for p in complete["parts"]] == list(range(1, body["num_parts"] + 1))
    puts = storage_puts(server)
    assert len(puts) == body["num_parts"]
    assert all(put.header("Authorization") is None for put in puts)
    odd = [p for p in puts if p.path.endswith(("-1", "-3"))]
    assert all(p.header("x-fake-part") == "1" for p in odd)  # the part's Headers were sent
    assert server.requests_to("POST", "/files") == []
    assert not [r for r in server.requests if r.path.endswith("/preprocess")]


def test_multipart_failure_aborts(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    server.storage.fail_next("PUT", 403, times=100)
    with pytest.raises(UploadError):
        lowered(client).upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    (abort,) = server.requests_to("POST", "/files/multipart/abort")
    assert abort.json()["upload_id"] in fake_files(server).aborted


def test_a_complete_with_an_unknown_outcome_is_not_aborted(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.drop_next("POST", "/files/multipart/complete", after_handling=True)
    with pytest.raises(APIConnectionError, match="may have been"):
        lowered(client).upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    assert server.requests_to("POST", "/files/multipart/abort") == []
    assert len(fake_files(server).contents) == 1  # the file the server did assemble


def test_a_refused_complete_is_aborted(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    server.fail_next("POST", "/files/multipart/complete", 400)
    with pytest.raises(BadRequestError):
        lowered(client).upload(write_jsonl(tmp_path / "big.jsonl", 1000))
    assert len(server.requests_to("POST", "/files/multipart/abort")) == 1


def test_multipart_conflict_returns_existing(client: Client, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", 1000)
    first = lowered(client).upload(path)
    assert lowered(client).upload(path).id == first.id


# -- list, retrieve, delete, content ------------------------------------------------------------


def test_list_retrieve_delete(client: Client, server: FakeTogether, tmp_path: Path) -> None:
    files = files_of(client)
    a = files.upload(write_jsonl(tmp_path / "a.jsonl", 2))
    b = files.upload(write_jsonl(tmp_path / "b.jsonl", 3))
    assert {f.id for f in files.list()} == {a.id, b.id}
    got = files.retrieve(a.id)
    assert got.filename == "a.jsonl"
    assert got.file_type == "jsonl"
    assert got.purpose == "fine-tune"
    assert files.delete(a.id) == FileDeleteResult(id=a.id, deleted=True)
    assert [f.id for f in files.list()] == [b.id]
    with pytest.raises(NotFoundError):
        files.retrieve(a.id)


def test_pascal_case_keys_are_decoded(client: Client, server: FakeTogether) -> None:
    record = fake_files(server).add_file(b'{"text": "x"}\n', "t.jsonl")
    assert "FileType" in record
    assert "Processed" in record
    got = files_of(client).retrieve(record["id"])
    assert (got.file_type, got.processed, got.bytes) == ("jsonl", True, 14)


@pytest.mark.parametrize("bad", ["ft-123", "file-", "file-a/b", "../file-a", " file-a", 7])
def test_file_ids_are_checked_before_any_request(
    client: Client, server: FakeTogether, bad: Any, tmp_path: Path
) -> None:
    files = files_of(client)
    for call in (files.retrieve, files.delete, lambda i: files.content(i, tmp_path / "o")):
        with pytest.raises(ValueError, match=r"^file ID must"):
            call(bad)
    assert server.requests == []


def test_content_is_written_atomically(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    record = fake_files(server).add_file(data, "blob.jsonl")
    out = tmp_path / "out.jsonl"
    assert files_of(client).content(record["id"], out) == out
    assert out.read_bytes() == data
    assert not (tmp_path / "out.jsonl.part").exists()
    with pytest.raises(DownloadError, match="already exists"):
        files_of(client).content(record["id"], out)
    files_of(client).content(record["id"], out, overwrite=True)


def test_content_reports_progress_and_checks_it_before_sending(
    client: Client, server: FakeTogether, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    record = fake_files(server).add_file(data, "blob.jsonl")
    seen: list[tuple[int, Any]] = []
    out = tmp_path / "out.jsonl"
    files_of(client).content(record["id"], out, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(data), len(data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) > 2  # reported on the way, not only at the end
    before = len(server.requests)
    with pytest.raises(ValueError, match="progress must be"):
        files_of(client).content(record["id"], tmp_path / "b.jsonl", progress="yes")  # type: ignore[arg-type]
    assert len(server.requests) == before  # refused before anything was sent
    assert not (tmp_path / "b.jsonl").exists()
    if importlib.util.find_spec("tqdm") is not None:  # the bar (extra "progress")
        capsys.readouterr()
        files_of(client).content(record["id"], tmp_path / "c.jsonl", progress=True)
        assert "c.jsonl" in capsys.readouterr().err


def test_content_failure_leaves_nothing(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    record = fake_files(server).add_file(b"abc", "x.jsonl")
    # More drops than the transport's retries times the download's resume budget.
    server.drop_next("GET", f"/files/{record['id']}/content", times=100)
    out = tmp_path / "out.jsonl"
    with pytest.raises(DownloadError, match="without progress"):
        files_of(client).content(record["id"], out)
    assert list(tmp_path.iterdir()) == []


def test_content_resumes_after_a_dropped_connection(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    record = fake_files(server).add_file(b"x" * 1000, "x.jsonl")
    server.drop_next("GET", f"/files/{record['id']}/content", times=4)
    out = tmp_path / "out.jsonl"
    assert files_of(client).content(record["id"], out) == out
    assert out.read_bytes() == b"x" * 1000
    assert list(tmp_path.iterdir()) == [out]


# -- memory ---------------------------------------------------------------------------------------

_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from together_finetune import Client
    from together_finetune.files import Files

    base_url, api_key, path = sys.argv[1:4]
    client = Client(api_key=api_key, base_url=base_url, timeout=(5, 60))
    files = Files(client._transport)
    files.upload(path, check=False)  # warm up: imports, connections
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    uploaded = files.upload(path.replace("warm", "big"), check=True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "after_kib": after, "id": uploaded.id}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss is POSIX")
def test_memory_stays_flat_for_a_20_mb_upload(server: FakeTogether, tmp_path: Path) -> None:
    warm = write_jsonl(tmp_path / "warm.jsonl", 10)
    big = tmp_path / "big.jsonl"
    line = json.dumps({"text": "x" * 1000}) + "\n"
    with open(big, "w") as f:
        f.write(line * (20 * (1 << 20) // len(line)))
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, server.base_url, server.api_key, str(warm)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    growth_mib = (measured["after_kib"] - measured["before_kib"]) / 1024
    assert growth_mib < 8, f"peak RSS grew by {growth_mib:.1f} MiB for a 20 MiB upload"
    assert fake_files(server).contents[measured["id"]] == big.read_bytes()


def test_upload_checks_with_the_file_type_it_was_given(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    data = tmp_path / "train.txt"
    data.write_text(json.dumps({"text": "hello"}) + "\n")
    uploaded = files_of(client).upload(data, file_type="jsonl")
    assert fake_files(server).contents[uploaded.id] == data.read_bytes()
    assert server.requests_to("POST", "/files")[-1].body.count(b"jsonl") >= 1


def test_storage_puts_use_the_proxy_settings_of_the_storage_host(
    make_client: Callable[..., Client],
    server: FakeTogether,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not server.storage.url.startswith("http://127.0.0.2:"):
        pytest.skip("needs the storage server on its own loopback address")
    with socket.socket() as sock:  # a proxy address nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the API is exempt, storage is not
    client = make_client(max_retries=0)
    with pytest.raises(APIConnectionError, match="upload PUT"):
        client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    assert storage_puts(server) == []  # it went to the (dead) proxy, as the environment says
    assert server.requests_to("POST", "/files")  # while the API was reached directly
