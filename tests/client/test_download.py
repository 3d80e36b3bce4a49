"""Model downloads against the fake server: resume, verification, atomicity, extraction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional

import attrs
import pytest
from support.data import sha

from together_finetune import (
    Client,
    DownloadError,
    FineTune,
    FineTuneStatus,
    FullTraining,
    RetryPolicy,
    extract_archive,
)
from together_finetune._transfer.model import DownloadOutput, needs_job, plan_model_download
from together_finetune.download import CHUNK_SIZE, download_fine_tune
from together_finetune.testing import FakeTogether
from together_finetune.testing.archive import (
    build_model_archive,
    hostile_archive,
    model_archive_files,
    synthetic_bytes,
)

MiB = 1024 * 1024


def completed_job(server: FakeTogether, **fields: Any) -> str:
    job = server.add_job(status="completed", **fields)
    return str(job["id"])


def download_requests(server: FakeTogether) -> list[Any]:
    return server.requests_to("GET", "/finetune/download")


def write_notes(path: Path, job_id: str, **notes: Any) -> None:
    """The notes an interrupted ``download(job_id, checkpoint="merged")`` leaves."""
    notes["source"] = {
        "path": "/finetune/download",
        "params": {"checkpoint": "merged", "ft_id": job_id},
    }
    path.write_text(json.dumps(notes))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ------------------------------------------------------------------------- basics


def test_default_download_names_file_after_job_and_checkpoint(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    result = client.fine_tunes.download(job_id, output=tmp_path)
    job = server.jobs[job_id]
    stem = job["model_output_name"].replace("/", "--")
    assert result.path == tmp_path / f"{stem}-merged.tar.zst"
    data = result.path.read_bytes()
    assert data == build_model_archive(f"{job_id}:merged")
    assert result.size == len(data)
    assert result.sha256 == sha(data)
    assert result.checkpoint == "merged"
    assert result.id == job_id
    assert leftovers(tmp_path) == [result.path.name]  # no .part, no .part.json
    (request,) = download_requests(server)
    assert request.query == {"ft_id": job_id, "checkpoint": "merged"}
    assert request.header("Accept-Encoding") == "identity"
    assert request.header("Range") == "bytes=0-"  # a fresh start that asks for ranges


def test_full_job_defaults_to_model_output_path(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server, training_type={"type": "Full"})
    result = client.fine_tunes.download(job_id, output=tmp_path)
    assert result.checkpoint == "model_output_path"
    assert result.path.name.endswith("-model_output_path.tar.zst")
    assert download_requests(server)[0].query["checkpoint"] == "model_output_path"


def test_job_is_retrieved_only_when_needed(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = tmp_path / "model.tar.zst"
    client.fine_tunes.download(job_id, checkpoint="adapter", output=target)
    assert server.requests_to("GET", f"/fine-tunes/{job_id}") == []
    assert target.read_bytes() == build_model_archive(f"{job_id}:adapter")
    # no kind named: the job is read to pick it
    client.fine_tunes.download(job_id, output=tmp_path / "other.tar.zst")
    assert len(server.requests_to("GET", f"/fine-tunes/{job_id}")) == 1


def test_steps_and_kinds_never_share_a_file(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"step-5", step=5)
    server.set_download(job_id, data=b"step-10", step=10)
    five = client.fine_tunes.download(job_id, checkpoint_step=5, output=tmp_path)
    ten = client.fine_tunes.download(job_id, checkpoint_step=10, output=tmp_path)
    adapter = client.fine_tunes.download(
        job_id, checkpoint_step=10, checkpoint="adapter", output=tmp_path
    )
    assert len({five.path, ten.path, adapter.path}) == 3
    assert "-step-5-merged" in five.path.name
    assert five.path.read_bytes() == b"step-5"
    assert ten.path.read_bytes() == b"step-10"
    assert five.checkpoint_step == 5


@pytest.mark.parametrize(
    ("content_type", "suffix"),
    [
        ("application/zstd", ".tar.zst"),
        ("application/octet-stream", ".tar.zst"),
        ("application/gzip", ".tar.gz"),
        ("application/x-tar", ".tar.gz"),
    ],
)
def test_extension_follows_content_type(
    server: FakeTogether, client: Client, tmp_path: Path, content_type: str, suffix: str
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"x" * 100, content_type=content_type)
    result = client.fine_tunes.download(job_id, output=tmp_path)
    assert result.path.name.endswith("-merged" + suffix)


def test_existing_target_is_an_error_unless_overwrite(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = tmp_path / "model.tar.zst"
    target.write_bytes(b"old")
    with pytest.raises(DownloadError, match="already exists"):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert target.read_bytes() == b"old"
    assert download_requests(server) == []
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target, overwrite=True)
    assert target.read_bytes() == build_model_archive(f"{job_id}:merged")
    assert result.path == target
    # the same in directory mode
    first = client.fine_tunes.download(job_id, output=tmp_path)
    with pytest.raises(DownloadError, match="already exists"):
        client.fine_tunes.download(job_id, output=tmp_path)
    assert client.fine_tunes.download(job_id, output=tmp_path, overwrite=True).path == first.path


def test_argument_errors(server: FakeTogether, client: Client, tmp_path: Path) -> None:
    job_id = completed_job(server)
    with pytest.raises(ValueError, match="checkpoint"):
        client.fine_tunes.download(job_id, checkpoint="best", output=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checkpoint_step"):
        client.fine_tunes.download(job_id, checkpoint_step=-1, output=tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(DownloadError, match="blocker is a file"):
        client.fine_tunes.download(job_id, output=blocker / "m.tar.zst")
    with pytest.raises(DownloadError, match="blocker is a file"):
        client.fine_tunes.download(job_id, output=f"{blocker}/")
    with pytest.raises(DownloadError, match="it is a file"):
        client.fine_tunes.download(job_id, output=blocker, extract=True)
    assert download_requests(server) == []


def test_large_download_streams_in_big_chunks(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    size = 3 * MiB + 12345
    server.set_download(job_id, size=size)
    seen: list[tuple[int, Optional[int]]] = []
    result = client.fine_tunes.download(
        job_id,
        checkpoint="merged",
        output=tmp_path / "m.tar.zst",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert result.size == size
    assert result.sha256 == sha(synthetic_bytes(0, size))
    assert seen[0] == (0, size)
    assert seen[-1] == (size, size)
    steps = [b - a for (a, _), (b, _) in zip(seen, seen[1:])]
    assert all(step == CHUNK_SIZE for step in steps[:-1])
    assert MiB <= CHUNK_SIZE
    assert server.download_bytes_sent == size


def test_progress_true_draws_on_stderr_only_when_asked(
    server: FakeTogether, client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = completed_job(server)
    client.fine_tunes.download(job_id, output=tmp_path / "quiet.tar.zst")
    assert capsys.readouterr() == ("", "")
    client.fine_tunes.download(job_id, output=tmp_path / "bar.tar.zst", progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert err != ""


# ------------------------------------------------------------------------- resume


def test_cut_once_resumes_with_range_and_if_range(
    server: FakeTogether, client: Client, tmp_path: Path, sleeps: list[float]
) -> None:
    job_id = completed_job(server)
    size = 2 * MiB
    server.set_download(job_id, size=size)
    server.cut_download(MiB + 100)
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.sha256 == sha(synthetic_bytes(0, size))
    first, second = download_requests(server)
    assert first.header("Range") == "bytes=0-"
    assert second.header("Range") == f"bytes={MiB + 100}-"
    etag = second.header("If-Range")
    assert etag is not None
    assert etag.startswith('"')
    assert server.download_bytes_sent == size
    assert len(sleeps) == 1


def test_if_range_uses_last_modified_without_etag(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, size=MiB, etag=None)
    server.cut_download(1000)
    client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    second = download_requests(server)[1]
    assert second.header("Range") == "bytes=1000-"
    assert (second.header("If-Range") or "").endswith("GMT")


def test_many_cuts_with_progress_never_exhaust_the_budget(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    client = make_client(retry=RetryPolicy(download_resume_attempts=1))
    job_id = completed_job(server)
    data = os.urandom(300_000)
    server.set_download(job_id, data=data)
    server.cut_download(40_000, times=6)
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.path.read_bytes() == data
    assert len(download_requests(server)) == 7
    assert server.download_bytes_sent == len(data)


def test_server_that_keeps_answering_short_ends_in_download_error(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path, sleeps: list[float]
) -> None:
    client = make_client(retry=RetryPolicy(max_retries=0))  # only download resumes
    job_id = completed_job(server)
    server.set_download(job_id, size=100_000)
    server.cut_download(50_000)
    server.cut_download(0, times=100)  # then no progress at all
    target = tmp_path / "m.bin"
    with pytest.raises(DownloadError, match=r"stopped at 50000 of 100000 bytes after 5"):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert not target.exists()
    assert (tmp_path / "m.bin.part").stat().st_size == 50_000
    assert len(download_requests(server)) == 1 + 5
    assert len(sleeps) == 5
    assert sleeps == sorted(sleeps)


def test_etag_change_restarts_from_zero(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    size = MiB + 7
    server.set_download(job_id, size=size)
    server.cut_download(300_000)

    def changed(done: int, total: Optional[int]) -> None:
        if done >= 300_000:
            server.change_download_etag()

    result = client.fine_tunes.download(
        job_id, checkpoint="merged", output=tmp_path / "m.bin", progress=changed
    )
    assert result.sha256 == sha(synthetic_bytes(0, size))
    assert result.size == size
    assert download_requests(server)[1].header("Range") == "bytes=300000-"
    assert server.download_bytes_sent == 300_000 + size  # If-Range failed: whole file again


def test_server_ignoring_range_restarts_from_zero(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    data = os.urandom(500_000)
    server.set_download(job_id, data=data)
    server.download_ignores_range = True
    server.cut_download(200_000)
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)
    assert download_requests(server)[1].header("Range") == "bytes=200000-"
    assert server.download_bytes_sent == 200_000 + len(data)


def test_part_from_earlier_call_is_resumed(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_id = completed_job(server)
    size = 2 * MiB
    server.set_download(job_id, size=size)
    server.cut_download(MiB)
    strict = make_client(retry=RetryPolicy(download_resume_attempts=0))
    with pytest.raises(DownloadError, match="kept"):
        strict.fine_tunes.download(job_id, output=tmp_path)
    assert list(tmp_path.glob("*.tar.zst")) == []
    (part,) = tmp_path.glob("*.part")
    assert part.stat().st_size == MiB
    result = strict.fine_tunes.download(job_id, output=tmp_path)
    assert result.sha256 == sha(synthetic_bytes(0, size))
    assert result.path.name == part.name[: -len(".part")] + ".tar.zst"
    second = download_requests(server)[1]
    assert second.header("Range") == f"bytes={MiB}-"
    assert second.header("If-Range") is not None
    assert server.download_bytes_sent == size
    assert leftovers(tmp_path) == [result.path.name]


def test_ctrl_c_keeps_part_and_next_call_resumes(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    size = 4 * MiB
    server.set_download(job_id, size=size)
    target = tmp_path / "m.tar.zst"

    def interrupt(done: int, total: Optional[int]) -> None:
        if done >= 2 * MiB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target, progress=interrupt)
    assert not target.exists()
    kept = (tmp_path / "m.tar.zst.part").stat().st_size
    assert kept >= 2 * MiB
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert result.sha256 == sha(synthetic_bytes(0, size))
    assert download_requests(server)[1].header("Range") == f"bytes={kept}-"
    assert leftovers(tmp_path) == ["m.tar.zst"]


def test_complete_part_left_before_rename_is_finished_by_416(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_id = completed_job(server)
    data = os.urandom(10_000)
    server.set_download(job_id, data=data, etag='"v1"')
    (tmp_path / "m.bin.part").write_bytes(data)  # e.g. killed between fsync and rename
    write_notes(tmp_path / "m.bin.part.json", job_id, validator='"v1"')
    client = make_client(retry=RetryPolicy(download_resume_attempts=0))
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.sha256 == sha(data)
    assert download_requests(server)[0].header("Range") == "bytes=10000-"
    assert server.download_bytes_sent == 0


def test_part_longer_than_the_file_starts_over(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    data = os.urandom(10_000)
    server.set_download(job_id, data=data, etag='"v1"')
    (tmp_path / "m.bin.part").write_bytes(os.urandom(20_000))
    write_notes(tmp_path / "m.bin.part.json", job_id, validator='"v1"')
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.path.read_bytes() == data
    assert [r.header("Range") for r in download_requests(server)] == ["bytes=20000-", "bytes=0-"]


# ------------------------------------------------------------------------- verification


def test_announced_length_longer_than_body_is_an_error(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"a" * 5000)
    server.download_wrong_length = 8000
    target = tmp_path / "m.bin"
    with pytest.raises(DownloadError, match="8000"):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert not target.exists()


def test_checksum_header_is_compared(server: FakeTogether, client: Client, tmp_path: Path) -> None:
    job_id = completed_job(server)
    data = os.urandom(5000)
    server.set_download(job_id, data=data)
    server.download_checksum_header = True
    ok = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "ok.bin")
    assert ok.sha256 == sha(data)
    # a Content-Length shorter than the body: only the checksum can tell
    server.download_wrong_length = 4000
    target = tmp_path / "short.bin"
    with pytest.raises(DownloadError, match="sha256"):  # one stream: no Content-Range to check
        client.fine_tunes.download(job_id, checkpoint="merged", output=target, connections=1)
    assert not target.exists()
    assert leftovers(tmp_path) == ["ok.bin"]


def test_checksum_of_resumed_download_is_kept_across_calls(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_id = completed_job(server)
    data = os.urandom(200_000)
    server.set_download(job_id, data=data)
    server.download_checksum_header = True
    server.cut_download(100_000)
    client = make_client(retry=RetryPolicy(download_resume_attempts=0))
    with pytest.raises(DownloadError):
        client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert '"checksum": "' in (tmp_path / "m.bin.part.json").read_text()
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.sha256 == sha(data)


# ------------------------------------------------------------------------- redirects, timeouts


def test_redirect_to_storage_drops_authorization(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    data = os.urandom(300_000)
    server.set_download(job_id, data=data)
    server.download_redirect = True
    server.cut_download(100_000)
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert result.path.read_bytes() == data
    assert all(r.header("Authorization") for r in download_requests(server))
    assert len(server.storage.requests) == 2
    assert all(r.header("Authorization") is None for r in server.storage.requests)
    assert server.storage.requests[1].header("Range") == "bytes=100000-"


def test_stalled_answer_is_retried_with_the_download_timeout(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"abc")
    server.delay_next("GET", "/finetune/download", 0.6)
    result = client.fine_tunes.download(
        job_id, checkpoint="merged", output=tmp_path / "m.bin", timeout=(1.0, 0.2)
    )
    assert result.path.read_bytes() == b"abc"
    assert len(download_requests(server)) == 2


def test_missing_checkpoint_raises_the_api_error(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    with pytest.raises(Exception, match="not found") as info:
        client.fine_tunes.download(job_id, checkpoint_step=999, output=tmp_path)
    assert getattr(info.value, "status_code", None) == 404
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------- disk errors


def test_unwritable_directory_names_the_path(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DownloadError, match=str(blocker)):
        client.fine_tunes.download(job_id, checkpoint="merged", output=blocker / "m.bin")
    # a directory where the .part must go
    (tmp_path / "m.bin.part").mkdir()
    with pytest.raises(DownloadError, match=r"m\.bin\.part"):
        client.fine_tunes.download(job_id, checkpoint="merged", output=tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()


_DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    from together_finetune import Client, DownloadError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[4]), int(sys.argv[4])))
    client = Client(api_key=sys.argv[1], base_url=sys.argv[2])
    try:
        client.fine_tunes.download(sys.argv[3], checkpoint="merged", output=sys.argv[5])
    except DownloadError as exc:
        print("DownloadError:", exc)
    """
)


def test_disk_full_keeps_part_for_a_later_resume(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    size = 3 * MiB
    server.set_download(job_id, size=size)
    target = tmp_path / "m.tar.zst"
    limit = MiB + 4096
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _DISK_FULL,
            server.api_key,
            server.base_url,
            job_id,
            str(limit),
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "DownloadError: cannot write" in run.stdout
    assert str(target) + ".part" in run.stdout
    assert not target.exists()
    kept = (tmp_path / "m.tar.zst.part").stat().st_size
    assert 0 < kept <= limit
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert result.sha256 == sha(synthetic_bytes(0, size))
    assert download_requests(server)[-1].header("Range") == f"bytes={kept}-"


# ------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_extract_true_unpacks_beside_the_archive(
    server: FakeTogether, client: Client, tmp_path: Path, compression: str
) -> None:
    job_id = completed_job(server)
    content_type = "application/zstd" if compression == "zstd" else "application/gzip"
    data = build_model_archive("x", compression=compression)
    server.set_download(job_id, data=data, content_type=content_type)
    result = client.fine_tunes.download(job_id, output=tmp_path, extract=True)
    assert result.path.is_dir()
    assert not result.path.name.endswith((".tar.zst", ".tar.gz"))
    for name, content in model_archive_files("x").items():
        assert (result.path / name).read_bytes() == content
    assert result.sha256 == sha(data)


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize(
    ("kind", "member"),
    [
        ("dotdot", "../evil.txt"),
        ("absolute", "/tmp/evil.txt"),
        ("symlink", "link"),
        ("device", "dev/null"),
    ],
)
def test_hostile_archives_are_refused(
    server: FakeTogether,
    client: Client,
    tmp_path: Path,
    kind: str,
    member: str,
    compression: str,
) -> None:
    job_id = completed_job(server)
    content_type = "application/zstd" if compression == "zstd" else "application/gzip"
    server.set_download(
        job_id, data=hostile_archive(kind, compression=compression), content_type=content_type
    )
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DownloadError, match=repr(member)):
        client.fine_tunes.download(job_id, output=work, extract=True)
    # the archive itself is complete and kept; nothing was extracted anywhere
    (archive,) = work.iterdir()
    assert archive.name.endswith(".tar.zst" if compression == "zstd" else ".tar.gz")
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_extract_archive_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    archive = tmp_path / "m.tar.zst"
    archive.write_bytes(build_model_archive("y"))
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(DownloadError, match="not an empty directory"):
        extract_archive(archive, dest)
    assert leftovers(dest) == ["keep"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert extract_archive(archive, empty) == empty
    assert (empty / "config.json").exists()
    assert oct(empty.stat().st_mode & 0o777) == oct(0o755)


def test_extract_archive_reports_a_broken_archive(tmp_path: Path) -> None:
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(b"not a tar")
    with pytest.raises(DownloadError, match="cannot extract"):
        extract_archive(archive, tmp_path / "out")
    assert leftovers(tmp_path) == ["m.tar.gz"]


# -- planning (pure) ------------------------------------------------------------------------------


def test_a_plan_names_the_file_after_the_job_and_picks_the_default_checkpoint(
    tmp_path: Path,
) -> None:
    where = DownloadOutput(directory=tmp_path)
    assert needs_job(None, where)
    assert needs_job("adapter", where)
    lora = FineTune(id="ft-1", status=FineTuneStatus.COMPLETED, model_output_name="me/My Model")
    plan = plan_model_download("ft-1", lora, checkpoint=None, checkpoint_step=3, output=where)
    assert (plan.path, plan.params) == (
        "/finetune/download",
        {"ft_id": "ft-1", "checkpoint_step": 3, "checkpoint": "merged"},
    )
    assert (plan.stem, plan.file, plan.name) == ("me--My_Model-step-3-merged", None, "me/My Model")
    full = attrs.evolve(lora, training_type=FullTraining())
    plan = plan_model_download("ft-1", full, checkpoint=None, checkpoint_step=None, output=where)
    assert plan.checkpoint == "model_output_path"


def test_a_plan_for_a_named_file_and_checkpoint_needs_no_job(tmp_path: Path) -> None:
    where = DownloadOutput(directory=tmp_path, file=tmp_path / "out.tar.zst")
    assert not needs_job("adapter", where)
    plan = plan_model_download(
        "ft-1", None, checkpoint="adapter", checkpoint_step=None, output=where
    )
    assert (plan.file, plan.stem, plan.params) == (
        tmp_path / "out.tar.zst",
        None,
        {"ft_id": "ft-1", "checkpoint": "adapter"},
    )
    with pytest.raises(ValueError, match="the job is needed"):
        plan_model_download("ft-1", None, checkpoint=None, checkpoint_step=None, output=where)


def test_the_old_download_function_still_downloads(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"model bytes", checkpoint="merged")
    result = download_fine_tune(
        client.fine_tunes,
        job_id,
        checkpoint="merged",
        checkpoint_step=None,
        output=tmp_path / "m.tar.zst",
        overwrite=False,
        extract=False,
        progress=None,
        timeout=None,
    )
    assert result.path.read_bytes() == b"model bytes"
