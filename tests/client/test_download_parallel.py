"""Parallel ranged downloads (``connections=``): pieces over several connections at once.

Sizes stay around 1 MiB: with ``connections=4`` that is 16 pieces of 64 KiB (the smallest
piece), enough to exercise the order, the resume notes and the restarts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from support.data import sha

from together_finetune import Client, DownloadError, RetryPolicy
from together_finetune._transfer import segments, stream
from together_finetune.testing import FakeTogether

SIZE = 1 << 20
PIECE = segments.MIN_PIECE
DOWNLOAD = "/finetune/download"


class Interrupted(Exception):
    """Raised from a progress callback: the caller stops the download midway."""


@pytest.fixture
def data() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def job(server: FakeTogether, data: bytes) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    server.set_download(job_id, data=data)
    return job_id


def gets(server: FakeTogether) -> list[Any]:
    return [
        r
        for r in [*server.requests, *server.storage.requests]
        if r.method == "GET" and not r.path.startswith("/v1/fine-tunes")
    ]


def ranges(server: FakeTogether) -> list[Optional[str]]:
    return [r.header("Range") for r in gets(server)]


def download(client: Client, job_id: str, out: Path, **kwargs: Any) -> Any:
    return client.fine_tunes.download(job_id, checkpoint="merged", output=out, **kwargs)


def test_parallel_download_writes_the_exact_bytes_and_sha256(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)
    assert result.size == SIZE
    seen = ranges(server)
    assert seen[0] == "bytes=0-"  # the probe, which also serves the first piece
    expected = [f"bytes={a}-{a + PIECE - 1}" for a in range(PIECE, SIZE, PIECE)]
    assert sorted(seen[1:], key=lambda r: int(str(r)[6:].split("-")[0])) == expected
    assert all(r.header("If-Range") for r in gets(server)[1:])
    assert server.download_bytes_sent >= SIZE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]  # no .part, notes or lock


def test_hashing_the_prefix_during_the_download_gives_the_same_digest(
    client: Client, job: str, data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments, "HASH_WHILE_DOWNLOADING", True)  # the benchmark's option
    monkeypatch.setattr(segments, "_SAVE_EVERY", PIECE)  # and notes saved on the way
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.sha256 == sha(data)


def test_the_way_of_hashing_is_chosen_once_from_the_cpu_used_early_on() -> None:
    now = [0.0]

    def chosen(cores: float) -> list[bool]:
        now[0] = 0.0
        chooser = segments._Chooser(None, clock=lambda: now[0], cpu=lambda: cores * now[0])
        seen = []
        for tick in range(1, 21):  # 50 ms ticks over one second
            now[0] = tick * 0.05
            seen.append(chooser.hash_now())
        return seen

    slow = chosen(0.3)  # the network is the limit: the prefix during the download
    assert not any(slow[:11])  # measured from 0.25 s on, nothing hashed before 0.6 s
    assert all(slow[11:])
    assert not any(chosen(1.2))  # CPU-bound: one pass at the end
    assert segments._Chooser(True).hash_now() is True  # forced ways
    assert segments._Chooser(False).hash_now() is False


def test_progress_reports_growing_totals_from_the_calling_thread(
    client: Client, job: str, tmp_path: Path
) -> None:
    import threading

    seen: list[tuple[int, Optional[int], str]] = []
    progress = lambda done, total: seen.append((done, total, threading.current_thread().name))  # noqa: E731
    download(client, job, tmp_path / "m.bin", connections=4, progress=progress)
    assert seen[-1][:2] == (SIZE, SIZE)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert {name for _, _, name in seen} == {threading.current_thread().name}


def test_an_interrupted_parallel_download_resumes_only_the_missing_pieces(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    def stop_midway(done: int, total: Optional[int]) -> None:
        if done:
            raise Interrupted

    # Capped so that the first progress report (after 50 ms) finds about 40 % done.
    server.throttle = 2 << 20
    target = tmp_path / "m.bin"
    with pytest.raises(Interrupted):
        download(client, job, target, connections=4, progress=stop_midway)
    assert not target.exists()
    notes = json.loads((tmp_path / "m.bin.part.json").read_text())
    pieces = notes["pieces"]
    missing = sum(end - pos for _, end, pos in pieces)
    assert 0 < missing < SIZE
    assert (tmp_path / "m.bin.part").stat().st_size == SIZE  # preallocated

    before, sent_before = len(gets(server)), _settled_bytes_sent(server)
    server.throttle = None
    result = download(client, job, target, connections=4)
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)
    # Only the missing bytes travelled, each from where its piece stopped.
    assert server.download_bytes_sent - sent_before == missing
    asked = sorted(r.header("Range") or "" for r in gets(server)[before:])
    unfinished = sorted(f"bytes={pos}-{end - 1}" for _, end, pos in pieces if pos < end)
    assert asked == unfinished


def test_a_validator_change_midway_restarts_every_piece(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    changed: list[int] = []

    def change_once(request: Any, status: int, headers: Any, body: bytes) -> None:
        if status == 206 and not changed:  # the file changes right after the first answer
            changed.append(status)
            server.change_download_etag()

    server.on_exchange = change_once
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)
    probes = [i for i, r in enumerate(ranges(server)) if r == "bytes=0-"]
    assert len(probes) == 2  # started again from nothing, after the change
    after = gets(server)[probes[1] :]
    etags = {r.header("If-Range") for r in after[1:]}
    assert len(etags) == 1  # every piece of the new file, with its validator
    assert etags != {None}


def test_pieces_go_to_the_final_url_without_authorization(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    server.download_redirect = True
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.path.read_bytes() == data
    assert len(server.requests_to("GET", DOWNLOAD)) == 1  # the redirect resolved once
    storage = [r for r in server.storage.requests if r.method == "GET"]
    assert len(storage) == SIZE // PIECE
    assert {r.path for r in storage} == {storage[0].path}
    assert all(r.header("Authorization") is None for r in storage)


def test_small_files_use_one_connection_by_default(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    result = download(client, job, tmp_path / "m.bin")
    assert result.sha256 == sha(data)
    assert ranges(server) == ["bytes=0-"]
    assert not server.requests_to("GET", DOWNLOAD)[0].header("If-Range")


def test_large_files_use_four_connections_by_default(
    server: FakeTogether,
    client: Client,
    job: str,
    data: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stream, "AUTO_THRESHOLD", SIZE)  # "large" from 1 MiB on, here
    result = download(client, job, tmp_path / "m.bin")
    assert result.sha256 == sha(data)
    assert len(ranges(server)) == 16  # 4 connections x 4 pieces each


def test_one_connection_sends_no_range_at_first(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    download(client, job, tmp_path / "m.bin", connections=1)
    assert ranges(server) == [None]


def test_a_server_without_ranges_gets_one_stream(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    server.download_ignores_range = True
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.sha256 == sha(data)
    assert ranges(server) == ["bytes=0-"]  # answered 200 with everything


def test_files_content_takes_connections(
    server: FakeTogether, client: Client, data: bytes, tmp_path: Path
) -> None:
    record = server.files.add_file(data, "big.jsonl")
    path = client.files.content(record["id"], tmp_path / "big.jsonl", connections=4)
    assert path.read_bytes() == data
    assert len(server.requests_to("GET", f"/files/{record['id']}/content")) == SIZE // PIECE


@pytest.mark.parametrize("bad", [0, -1, 33, 2.0, True, "4"])
def test_connections_is_checked_before_anything_is_sent(
    server: FakeTogether, client: Client, job: str, tmp_path: Path, bad: Any
) -> None:
    with pytest.raises(ValueError, match="connections must be an integer from 1 to 32"):
        download(client, job, tmp_path / "m.bin", connections=bad)
    with pytest.raises(ValueError, match="connections must be"):
        client.files.content("file-x", tmp_path / "x", connections=bad)
    assert server.requests == []


@pytest.mark.parametrize(
    "pieces",
    [
        [[0, 10, 5]],
        "no",
        [[0, SIZE, SIZE + 1]],
        [[0, SIZE // 2, 0], [1, SIZE, 1]],
        [[0, SIZE, "x"]],
    ],
)
def test_pieces_notes_that_do_not_tile_the_file_are_not_trusted(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path, pieces: Any
) -> None:
    with pytest.raises(Interrupted):
        download(client, job, tmp_path / "m.bin", connections=4, progress=_interrupt_at(1))
    notes_path = tmp_path / "m.bin.part.json"
    notes = json.loads(notes_path.read_text())
    notes["pieces"] = pieces
    notes_path.write_text(json.dumps(notes))
    before = len(gets(server))
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.sha256 == sha(data)
    assert ranges(server)[before] == "bytes=0-"  # started over


def test_a_piece_that_never_arrives_ends_with_the_part_kept(
    server: FakeTogether, make_client: Callable[..., Client], job: str, tmp_path: Path
) -> None:
    client = make_client(retry=RetryPolicy(download_resume_attempts=2))
    server.download_wrong_length = SIZE + 5  # every answer contradicts its Content-Range
    with pytest.raises(DownloadError, match="contradicts") as caught:
        download(client, job, tmp_path / "m.bin", connections=4, progress=None)
    assert "stopped at" in str(caught.value)
    assert not (tmp_path / "m.bin").exists()


def test_an_expired_storage_url_is_asked_for_again(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    server.download_redirect = True
    armed: list[int] = []

    def expire_once(done: int, total: Optional[int]) -> None:
        if not armed:  # the first bytes are in: the URL stops working for the next piece
            armed.append(done)
            server.storage.fail_next("GET", 403)

    # Two connections for eight pieces of 64 KiB, each taking 125 ms at the fake's cap:
    # the first progress report (after 50 ms) comes well before the next piece's request.
    half = data[: SIZE // 2]
    server.set_download(job, data=half)
    server.throttle = 1 << 19
    result = download(client, job, tmp_path / "m.bin", connections=2, progress=expire_once)
    assert result.path.read_bytes() == half
    assert len(server.requests_to("GET", DOWNLOAD)) == 2  # asked the API for a fresh URL
    paths = {r.path for r in server.storage.requests}
    assert len(paths) == 2


def test_a_file_that_changed_size_is_started_over(
    server: FakeTogether, client: Client, job: str, tmp_path: Path
) -> None:
    with pytest.raises(Interrupted):
        download(client, job, tmp_path / "m.bin", connections=4, progress=_interrupt_at(1))
    other = os.urandom(SIZE // 2)
    server.set_download(job, data=other, etag='"v2"')
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.path.read_bytes() == other


def test_a_finished_part_is_confirmed_with_the_server_before_it_is_kept(
    server: FakeTogether, client: Client, job: str, data: bytes, tmp_path: Path
) -> None:
    # Every piece on disk, stopped before the rename (as Ctrl-C at the very end does).
    with pytest.raises(Interrupted):
        download(client, job, tmp_path / "m.bin", connections=4, progress=_interrupt_at(SIZE))
    assert (tmp_path / "m.bin.part").stat().st_size == SIZE
    before = len(gets(server))
    sent = server.download_bytes_sent
    result = download(client, job, tmp_path / "m.bin", connections=4)
    assert result.path.read_bytes() == data
    assert result.sha256 == sha(data)
    assert ranges(server)[before:] == [f"bytes={SIZE - 1}-{SIZE - 1}"]  # one byte asked
    assert server.download_bytes_sent - sent == 1


def test_a_finished_part_of_a_file_that_changed_is_started_over(
    server: FakeTogether, client: Client, job: str, tmp_path: Path
) -> None:
    with pytest.raises(Interrupted):
        download(client, job, tmp_path / "m.bin", connections=4, progress=_interrupt_at(SIZE))
    for other, etag in ((os.urandom(SIZE // 2), '"v2"'), (os.urandom(SIZE), '"v3"')):
        server.set_download(job, data=other, etag=etag)
        result = download(client, job, tmp_path / "m.bin", connections=4, overwrite=True)
        assert result.path.read_bytes() == other
        with pytest.raises(Interrupted):  # leave a finished part of this version behind
            download(
                client,
                job,
                tmp_path / "m.bin",
                connections=4,
                overwrite=True,
                progress=_interrupt_at(len(other)),
            )


def _interrupt_at(done_at_least: int) -> Callable[[int, Optional[int]], None]:
    def progress(done: int, total: Optional[int]) -> None:
        if done >= done_at_least:
            raise Interrupted

    return progress


def _settled_bytes_sent(server: FakeTogether) -> int:
    """The fake's byte count once the answers the client walked away from have stopped."""
    import time

    last = -1
    for _ in range(50):  # at most 1 s
        now = server.download_bytes_sent
        if now == last:
            return now
        last = now
        time.sleep(0.02)
    return last
