"""Downloads against answers that do not fit the request: bad ranges, changed sizes,
broken resume state, a server hiccup while resuming, and failures at the final rename.

The odd answers are injected with ``FakeTogether.fail_next`` (any status, headers and body).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from support.data import sha

from together_finetune import Client, DownloadError, RetryPolicy, TogetherError, extract_archive
from together_finetune._transfer import pump as stream_engine
from together_finetune.testing import FakeTogether
from together_finetune.testing.archive import build_model_archive, model_archive_files

DATA = bytes(range(256)) * 400  # 102 400 bytes, every offset distinguishable
DOWNLOAD = "/finetune/download"


ETAG = '"v1"'


def completed_job(server: FakeTogether, data: bytes = DATA, **fields: Any) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    fields.setdefault("etag", ETAG)
    server.set_download(job_id, data=data, **fields)
    return job_id


def ranges(server: FakeTogether) -> list[Optional[str]]:
    return [r.header("Range") for r in server.requests_to("GET", DOWNLOAD)]


def earlier_part(directory: Path, job_id: str, size: int = 1000, **meta: Any) -> None:
    """What an interrupted earlier call of ``get`` left: the first ``size`` bytes and its notes."""
    (directory / "m.bin.part").write_bytes(DATA[:size])
    meta.setdefault("validator", ETAG)
    meta["source"] = {
        "path": DOWNLOAD,
        "params": {"checkpoint": "merged", "ft_id": job_id},
    }
    (directory / "m.bin.part.json").write_text(json.dumps(meta))


def get(client: Client, job_id: str, output: Any, **kwargs: Any) -> Any:
    return client.fine_tunes.download(job_id, checkpoint="merged", output=output, **kwargs)


# -- output and arguments --------------------------------------------------------------------


def test_missing_output_directories_are_made(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    inside = get(client, job_id, str(tmp_path / "a" / "b") + os.sep)
    assert inside.path.parent == tmp_path / "a" / "b"
    named = get(client, job_id, tmp_path / "c" / "d" / "m.tar.zst")
    assert named.path == tmp_path / "c" / "d" / "m.tar.zst"
    assert named.path.is_file()


def test_progress_must_be_a_flag_or_a_callable(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    with pytest.raises(ValueError, match="progress must be"):
        get(client, job_id, tmp_path / "m.bin", progress="yes")
    assert server.requests_to("GET", DOWNLOAD) == []


def test_a_bad_progress_is_refused_before_the_job_is_read(
    server: FakeTogether, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = completed_job(server)
    with pytest.raises(ValueError, match="progress must be"):
        client.fine_tunes.download(job_id, progress="yes")  # the name needs the job
    with pytest.raises(ValueError, match="progress must be"):
        client.fine_tunes.download_tokenized_dataset(job_id, output=tmp_path, progress=1)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tqdm" else real_find_spec(name, *a),
    )
    for call in (
        lambda: client.fine_tunes.download(job_id, progress=True),
        lambda: client.fine_tunes.download_tokenized_dataset(job_id, progress=True),
        lambda: client.files.content("file-1", tmp_path / "f.jsonl", progress=True),
    ):
        with pytest.raises(TogetherError, match=r"together-finetune\[progress\]"):
            call()
    assert server.requests == []
    assert list(tmp_path.iterdir()) == []


# -- resume state left by an earlier call ------------------------------------------------------


def test_resume_state_that_is_not_an_object_is_ignored(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id)
    (tmp_path / "m.bin.part.json").write_text(json.dumps(["not", "an", "object"]))
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=0-"]  # not provably ours: started over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


@pytest.mark.parametrize(
    "notes",
    [
        None,  # no notes at all
        {"validator": ETAG},  # notes without the download they belong to
        {"validator": None},  # no validator to guard a resume with If-Range
    ],
)
def test_a_part_that_is_not_provably_this_download_is_not_resumed(
    server: FakeTogether, client: Client, tmp_path: Path, notes: Any
) -> None:
    job_id = completed_job(server)
    (tmp_path / "m.bin.part").write_bytes(b"stale bytes from another download" * 100)
    if notes is not None:
        if notes.get("validator") is None:
            notes = {
                "validator": None,
                "source": {"path": DOWNLOAD, "params": {"checkpoint": "merged", "ft_id": job_id}},
            }
        (tmp_path / "m.bin.part.json").write_text(json.dumps(notes))
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=0-"]


def test_a_part_of_another_job_is_not_resumed(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    other = completed_job(server, data=b"o" * len(DATA))
    job_id = completed_job(server)
    earlier_part(tmp_path, other)
    (tmp_path / "m.bin.part").write_bytes(b"o" * 1000)
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=0-"]


def test_part_longer_than_its_recorded_total_is_discarded_before_asking(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    (tmp_path / "m.bin.part").write_bytes(b"x" * 2000)
    (tmp_path / "m.bin.part.json").write_text(json.dumps({"total": 1000, "validator": '"v"'}))
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=0-"]  # started over without a useless Range request


# -- odd 206 answers ---------------------------------------------------------------------------


def test_206_for_another_offset_restarts_from_zero(
    server: FakeTogether, client: Client, tmp_path: Path, sleeps: list[float]
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id)
    server.fail_next(
        "GET", DOWNLOAD, 206, headers={"Content-Range": f"bytes 0-9/{len(DATA)}"}, body=DATA[:10]
    )
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert result.sha256 == sha(DATA)
    assert ranges(server) == ["bytes=1000-", "bytes=0-"]
    assert len(sleeps) == 1


def test_206_without_a_content_range_restarts_from_zero(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id)
    server.fail_next("GET", DOWNLOAD, 206, body=DATA[1000:])
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=1000-", "bytes=0-"]


def test_206_announcing_another_total_discards_the_part(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id, total=len(DATA))
    server.fail_next(
        "GET",
        DOWNLOAD,
        206,
        headers={"Content-Range": f"bytes 1000-{len(DATA) + 99}/{len(DATA) + 100}"},
        body=DATA[1000:] + b"z" * 100,
    )
    with pytest.raises(DownloadError, match=rf"changed size \({len(DATA)} -> {len(DATA) + 100}"):
        get(client, job_id, tmp_path / "m.bin")
    assert list(tmp_path.iterdir()) == []


def test_206_with_unknown_total_uses_its_length(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id, 5000)
    server.fail_next(
        "GET", DOWNLOAD, 206, headers={"Content-Range": "bytes 5000-102399/*"}, body=DATA[5000:]
    )
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert result.size == len(DATA)
    assert ranges(server) == ["bytes=5000-"]


def test_206_with_a_bounded_range_asks_for_the_rest(
    server: FakeTogether, client: Client, tmp_path: Path, sleeps: list[float]
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id, 5000)
    server.fail_next(
        "GET",
        DOWNLOAD,
        206,
        headers={"Content-Range": f"bytes 5000-9999/{len(DATA)}"},
        body=DATA[5000:10000],
    )
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=5000-", "bytes=10000-"]
    assert len(sleeps) == 1


def test_206_with_more_bytes_than_its_total_is_an_error(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id, 5000)
    server.fail_next(
        "GET",
        DOWNLOAD,
        206,
        headers={"Content-Range": "bytes 5000-5009/5005"},
        body=DATA[5000:5010],
    )
    target = tmp_path / "m.bin"
    with pytest.raises(DownloadError, match="is 5010 bytes but the server announced 5005"):
        get(client, job_id, target)
    assert list(tmp_path.iterdir()) == []


# -- validators and checksums ------------------------------------------------------------------


def test_weak_etag_is_never_sent_as_if_range(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    data = os.urandom(3 << 20)
    job_id = completed_job(server, data=data)
    server.fail_next("GET", DOWNLOAD, 200, headers={"ETag": 'W/"weak"'}, body=data)

    def interrupt(done: int, total: Optional[int]) -> None:
        if done > 0:
            raise KeyboardInterrupt

    target = tmp_path / "m.bin"
    with pytest.raises(KeyboardInterrupt):
        get(client, job_id, target, progress=interrupt)
    kept = (tmp_path / "m.bin.part").stat().st_size
    assert 0 < kept <= len(data)
    assert json.loads((tmp_path / "m.bin.part.json").read_text())["validator"] is None
    result = get(client, job_id, target)
    assert result.sha256 == sha(data)
    second = server.requests_to("GET", DOWNLOAD)[1]
    # Without a strong validator a resume could not be guarded: the second call starts over.
    assert second.header("Range") == "bytes=0-"
    assert second.header("If-Range") is None


@pytest.mark.parametrize("matches", [True, False])
def test_digest_header_is_compared(
    server: FakeTogether, client: Client, tmp_path: Path, matches: bool
) -> None:
    job_id = completed_job(server)
    digest = hashlib.sha256(DATA if matches else b"other").digest()
    server.fail_next(
        "GET",
        DOWNLOAD,
        200,
        headers={"Digest": "sha-256=" + base64.b64encode(digest).decode()},
        body=DATA,
    )
    target = tmp_path / "m.bin"
    if matches:
        assert get(client, job_id, target).path.read_bytes() == DATA
    else:
        with pytest.raises(
            DownloadError, match=f"has sha256 {sha(DATA)} but the server sent {digest.hex()}"
        ):
            get(client, job_id, target)
        assert list(tmp_path.iterdir()) == []


# -- a server hiccup while resuming --------------------------------------------------------------


def test_5xx_while_resuming_counts_against_the_resume_budget(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path, sleeps: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_retries=0))  # only download resumes
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id)
    server.fail_next("GET", DOWNLOAD, 503, times=2)
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == DATA
    assert ranges(server) == ["bytes=1000-"] * 3
    assert len(sleeps) == 2


def test_4xx_while_resuming_is_raised_and_keeps_the_part(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    from together_finetune.errors import PermissionDeniedError

    client = make_client(retry=RetryPolicy(max_retries=0))
    job_id = completed_job(server)
    earlier_part(tmp_path, job_id)
    server.fail_next("GET", DOWNLOAD, 403)
    with pytest.raises(PermissionDeniedError):
        get(client, job_id, tmp_path / "m.bin")
    assert (tmp_path / "m.bin.part").read_bytes() == DATA[:1000]


# -- writing and the final rename --------------------------------------------------------------


def test_background_flush_failure_keeps_the_part(
    server: FakeTogether,
    client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = str(server.add_job(status="completed")["id"])
    # More chunks than the writer queue holds: the flush fails while the body still streams.
    server.set_download(job_id, size=12 * stream_engine.CHUNK_SIZE)
    flushed = threading.Event()

    def failing_fdatasync(fd: int) -> None:
        flushed.set()
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(stream_engine, "_FLUSH_EVERY", 1)
    monkeypatch.setattr(os, "fdatasync", failing_fdatasync, raising=False)

    def wait_for_the_flush(done: int, total: Optional[int]) -> None:
        if done > 0:
            assert flushed.wait(5)

    target = tmp_path / "m.bin"
    with pytest.raises(DownloadError, match=r"cannot write .*m\.bin\.part: Input/output error"):
        get(client, job_id, target, progress=wait_for_the_flush)
    assert not target.exists()
    assert (tmp_path / "m.bin.part").exists()


def test_frequent_background_flushes_keep_the_bytes_intact(
    server: FakeTogether, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(2 << 20)
    job_id = completed_job(server, data=data)
    monkeypatch.setattr(stream_engine, "_FLUSH_EVERY", 4096)
    result = get(client, job_id, tmp_path / "m.bin")
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)


def test_file_created_at_the_target_meanwhile_is_not_replaced(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = tmp_path / "m.bin"

    def someone_else_writes(done: int, total: Optional[int]) -> None:
        if not target.exists():
            target.write_text("theirs")

    with pytest.raises(DownloadError, match="already exists"):
        get(client, job_id, target, progress=someone_else_writes)
    assert target.read_text() == "theirs"
    assert (tmp_path / "m.bin.part").read_bytes() == DATA  # complete, kept


def test_rename_failure_keeps_the_complete_data(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = tmp_path / "m.bin"

    def directory_appears(done: int, total: Optional[int]) -> None:
        target.mkdir(exist_ok=True)
        (target / "occupied").write_text("x")

    with pytest.raises(DownloadError, match=r"complete data is kept in .*m\.bin\.part"):
        get(client, job_id, target, overwrite=True, progress=directory_appears)
    assert (tmp_path / "m.bin.part").read_bytes() == DATA


# -- extraction ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_extract_recognises_the_compression_from_the_bytes(
    server: FakeTogether, client: Client, tmp_path: Path, compression: str
) -> None:
    # The archive is named from the Content-Type (zstd here); the bytes decide.
    job_id = completed_job(server, data=build_model_archive("plain", compression=compression))
    result = get(client, job_id, tmp_path / "model.bin", extract=True, keep_archive=True)
    assert result.path == tmp_path / "model.bin"
    for name, content in model_archive_files("plain").items():
        assert (result.path / name).read_bytes() == content
    assert result.archive is not None
    assert result.archive.is_file()
    assert result.archive.parent == tmp_path


def test_extract_archive_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="no such file"):
        extract_archive(tmp_path / "gone.tar.zst", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_zstd_archive_is_a_download_error_and_leaves_nothing(tmp_path: Path) -> None:
    archive = bytearray(build_model_archive("plain", compression="zstd"))
    archive[4:12] = b"\xff" * 8  # a mangled frame header after the magic number
    source = tmp_path / "m.tar.zst"
    source.write_bytes(bytes(archive))
    with pytest.raises(DownloadError, match="cannot extract"):
        extract_archive(source, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tar.zst"]
