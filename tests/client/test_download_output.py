"""``download(output=..., extract=True)``: where the model files land, and what is left behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from together_finetune import Client, DownloadError
from together_finetune.testing import FakeTogether
from together_finetune.testing.archive import build_model_archive, model_archive_files

DOWNLOAD = "/finetune/download"


def completed_job(server: FakeTogether) -> str:
    return str(server.add_job(status="completed", model_output_name="acct/llama-ft")["id"])


def everything(directory: Path) -> list[str]:
    """Every path under ``directory``, relative, sorted (hidden files included)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def assert_model_files(directory: Path, job_id: str) -> None:
    for name, content in model_archive_files(f"{job_id}:merged").items():
        assert (directory / name).read_bytes() == content


def test_a_named_output_is_the_directory_of_the_model_files(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = tmp_path / "models" / "llama"  # neither exists: parents are made
    result = client.fine_tunes.download(job_id, output=target, extract=True)
    assert result.path == target
    assert result.archive is None
    assert_model_files(target, job_id)
    # the archive, its .part and notes, the staging directory: all gone
    names = {p.name for p in (tmp_path / "models").iterdir()}
    assert names == {"llama"}


def test_keep_archive_leaves_it_beside_the_directory(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    result = client.fine_tunes.download(
        job_id, output=tmp_path / "llama", extract=True, keep_archive=True
    )
    assert result.archive == tmp_path / "llama.tar.zst"
    assert result.archive.read_bytes() == build_model_archive(f"{job_id}:merged")
    assert {p.name for p in tmp_path.iterdir()} == {"llama", "llama.tar.zst"}


@pytest.mark.parametrize("spelling", ["existing", "slash"])
def test_an_existing_directory_or_a_trailing_slash_means_inside(
    server: FakeTogether, client: Client, tmp_path: Path, spelling: str
) -> None:
    job_id = completed_job(server)
    where = tmp_path / "models"
    if spelling == "existing":
        where.mkdir()
        output: Any = where
    else:
        output = f"{where}{os.sep}"  # made, with its parents
    result = client.fine_tunes.download(job_id, output=output, extract=True)
    assert result.path == where / "acct--llama-ft-merged"
    assert_model_files(result.path, job_id)
    assert everything(where)[0] == "acct--llama-ft-merged"
    assert [p.name for p in where.iterdir()] == ["acct--llama-ft-merged"]


def test_a_second_run_is_refused_before_sending_unless_overwrite(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    target = client.fine_tunes.download(job_id, output=tmp_path, extract=True).path
    (target / "mine.txt").write_text("kept?")
    sent = len(server.requests_to("GET", DOWNLOAD))
    with pytest.raises(DownloadError, match=r"merged already exists \(pass overwrite=True"):
        client.fine_tunes.download(job_id, output=tmp_path, extract=True)
    assert len(server.requests_to("GET", DOWNLOAD)) == sent
    assert (target / "mine.txt").exists()

    result = client.fine_tunes.download(job_id, output=tmp_path, extract=True, overwrite=True)
    assert result.path == target
    assert not (target / "mine.txt").exists()  # replaced as a whole
    assert_model_files(target, job_id)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_an_empty_existing_directory_receives_a_named_directory(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    # The case: `-o models/llama` where models/llama is an existing empty directory.
    job_id = completed_job(server)
    target = tmp_path / "llama"
    target.mkdir()
    result = client.fine_tunes.download(job_id, output=target, checkpoint="adapter", extract=True)
    assert result.path == target / "acct--llama-ft-adapter"


def test_a_kept_archive_in_the_way_is_refused_before_sending(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    (tmp_path / "llama.tar.zst").write_bytes(b"someone's")
    with pytest.raises(DownloadError, match=r"llama\.tar\.zst already exists"):
        client.fine_tunes.download(job_id, output=tmp_path / "llama", extract=True)
    assert server.requests_to("GET", DOWNLOAD) == []
    assert (tmp_path / "llama.tar.zst").read_bytes() == b"someone's"
    assert not (tmp_path / "llama").exists()


def test_a_failed_extraction_keeps_the_verified_archive(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = completed_job(server)
    server.set_download(job_id, data=b"not an archive at all", content_type="application/gzip")
    with pytest.raises(DownloadError, match="cannot extract"):
        client.fine_tunes.download(job_id, output=tmp_path / "llama", extract=True)
    assert {p.name for p in tmp_path.iterdir()} == {"llama.tar.gz"}


def test_a_directory_that_cannot_be_made_is_a_download_error(
    server: FakeTogether, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = completed_job(server)

    def refuse(self: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(
        DownloadError, match=r"cannot make the output directory .*Permission denied"
    ):
        client.fine_tunes.download(job_id, output=tmp_path / "a" / "llama", extract=True)
    assert server.requests_to("GET", DOWNLOAD) == []
