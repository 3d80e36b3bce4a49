"""Two downloads of the same target never collide: a lock per target, in threads and processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from support.data import sha

from together_finetune import Client, DownloadError
from together_finetune._transfer.lock import TargetLock
from together_finetune.testing import FakeTogether

DATA = os.urandom(3 << 20)
DOWNLOAD = "/finetune/download"


def job_with_download(server: FakeTogether) -> str:
    job_id = str(server.add_job(status="completed")["id"])
    server.set_download(job_id, data=DATA)
    return job_id


def test_two_threads_download_the_target_once(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_id = job_with_download(server)
    target = tmp_path / "m.bin"
    server.delay_next("GET", DOWNLOAD, 0.3)  # the first holds the lock a while
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        client = make_client(sleep=time.sleep)
        try:
            results.append(client.fine_tunes.download(job_id, checkpoint="merged", output=target))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [r.sha256 for r in results] == [sha(DATA)] * 2
    assert target.read_bytes() == DATA
    assert len(server.requests_to("GET", DOWNLOAD)) == 1  # the second found the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]  # no lock file left


_CHILD = """
import sys
from together_finetune import Client
client = Client(api_key=sys.argv[1], base_url=sys.argv[2])
result = client.fine_tunes.download(sys.argv[3], checkpoint="merged", output=sys.argv[4])
print(result.sha256)
"""


def test_two_processes_download_the_target_once(server: FakeTogether, tmp_path: Path) -> None:
    job_id = job_with_download(server)
    target = tmp_path / "m.bin"
    server.delay_next("GET", DOWNLOAD, 1.5)  # both are waiting before it ends
    args = [sys.executable, "-c", _CHILD, server.api_key, server.base_url, job_id, str(target)]
    children = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outputs = [child.communicate(timeout=60) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    assert [out.decode().strip() for out, _ in outputs] == [sha(DATA)] * 2
    assert target.read_bytes() == DATA
    assert len(server.requests_to("GET", DOWNLOAD)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


_HOLDER = """
import sys, time
from pathlib import Path
from together_finetune._transfer.lock import TargetLock
with TargetLock(Path(sys.argv[1]), timeout=0, sleep=time.sleep):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_of_a_killed_process_never_blocks(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job_id = job_with_download(server)
    target = tmp_path / "m.bin"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "m.bin.part")], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    holder.kill()
    holder.wait(10)
    assert (tmp_path / "m.bin.part.lock").exists()  # left behind, but no longer locked
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target)
    assert result.sha256 == sha(DATA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]


def test_a_held_lock_times_out_with_a_clear_error(
    server: FakeTogether, client: Client, tmp_path: Path, sleeps: list[float]
) -> None:
    job_id = job_with_download(server)
    target = tmp_path / "m.bin"
    with (
        TargetLock(tmp_path / "m.bin.part", timeout=0, sleep=time.sleep),
        pytest.raises(DownloadError, match=r"another download .* holds .*m\.bin\.part\.lock"),
    ):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target, lock_timeout=30)
    assert server.requests_to("GET", DOWNLOAD) == []
    assert sum(sleeps) == pytest.approx(30)  # waited on the injected clock, not for real
    assert not target.exists()


def test_overwrite_downloads_again_after_waiting(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_id = job_with_download(server)
    target = tmp_path / "m.bin"
    part = tmp_path / "m.bin.part"
    lock = TargetLock(part, timeout=0, sleep=time.sleep)
    lock.__enter__()
    target.write_bytes(DATA)
    lock.finished(target, len(DATA), sha(DATA))
    released = threading.Timer(0.2, lock.__exit__, args=(None, None, None))
    released.start()
    client = make_client(sleep=time.sleep)
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target, overwrite=True)
    released.join()
    assert result.sha256 == sha(DATA)
    assert len(server.requests_to("GET", DOWNLOAD)) == 1


def test_a_finished_file_that_does_not_match_its_record_is_downloaded_again(
    server: FakeTogether, make_client: Callable[..., Client], tmp_path: Path
) -> None:
    job_with_download(server)
    target = tmp_path / "m.bin"
    lock = TargetLock(tmp_path / "m.bin.part", timeout=0, sleep=time.sleep)
    lock.__enter__()
    lock.finished(target, len(DATA), "0" * 64)  # the record, but no such file: not reused
    released = threading.Timer(0.2, lock.__exit__, args=(None, None, None))
    released.start()
    result = make_client(sleep=time.sleep).files.content(
        str(server.files.add_file(DATA, "x.bin")["id"]), target
    )
    released.join()
    assert result.read_bytes() == DATA


def test_lock_timeout_must_not_be_negative(client: Client, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lock_timeout must be"):
        client.files.content("file-abc", tmp_path / "x", lock_timeout=-1)
