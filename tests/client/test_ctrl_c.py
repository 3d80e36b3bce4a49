"""Ctrl-C: a real SIGINT sent to a real child process in the middle of a call.

The child (``tests/support/ctrl_c_child.py``) waits on a job, or downloads over 1 or 4
connections from the fake capped per connection, so the call is certainly still going when
the signal lands. The call must end with ``KeyboardInterrupt`` within 2 s, a download must
keep its ``.part`` (and its resume notes), and the next call, on the same client, must go on
from there. The CLI must exit 130 with one line and no traceback.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from support.children import CTRL_C_CHILD, Child, child_env
from support.data import sha

from together_finetune import Client
from together_finetune._transfer import segments
from together_finetune.testing import FakeTogether
from together_finetune.testing.archive import synthetic_bytes

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="a real SIGINT needs a POSIX child process"
)

#: How long Ctrl-C may take to stop a call.
PROMPT = 2.0
MiB = 1 << 20
SIZE = 8 * MiB
#: Bytes per second per connection until the first bytes are on disk (about 1 s)...
RATE = MiB
#: ...then a crawl: every connection stalls for seconds, as on a congested network, so
#: the signal lands in a read that would block far longer than the interrupt may take.
CRAWL = 16 * 1024


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Children started by the test; killed (if still running) at the end."""
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


def start(children: list[Child], server: FakeTogether, *args: str) -> Child:
    child = Child.python(CTRL_C_CHILD, *args, env=child_env(server))
    children.append(child)
    return child


def interrupt(child: Child, server: FakeTogether | None = None) -> str:
    """Send SIGINT once the call is under way; the child's ``interrupted`` line.

    With ``server``, its downloads crawl from then on.
    """
    child.expect("busy", timeout=30)
    if server is not None:
        crawl(server)
    sent = child.interrupt()
    line = child.expect("interrupted", timeout=10 * PROMPT)
    took = time.monotonic() - sent
    assert took < PROMPT, f"Ctrl-C took {took:.2f} s to stop the call"
    return line


def crawl(server: FakeTogether) -> None:
    """Make the downloads crawl, and return once the bytes already sent are read.

    The loopback buffers hold what the fake sent ahead of the reader: once the fake has
    sent nothing for 0.2 s, the reader has caught up and waits in a read.
    """
    server.throttle = CRAWL
    last, still = -1, 0
    for _ in range(100):  # at most 5 s
        sent = server.download_bytes_sent
        still = still + 1 if sent == last else 0
        if still == 4:
            return
        last = sent
        time.sleep(0.05)
    raise AssertionError("the fake never stopped sending")


def downloads(server: FakeTogether) -> list[Any]:
    return [
        r
        for r in [*server.requests, *server.storage.requests]
        if r.method == "GET" and r.path.endswith(("/finetune/download", ".tar.zst"))
    ]


def test_ctrl_c_stops_wait_and_the_client_still_works(
    server: FakeTogether, children: list[Child]
) -> None:
    job_id = server.add_job(status="running")["id"]
    child = start(children, server, "wait", job_id)
    interrupt(child)
    server.advance(job_id, steps=10)
    child.tell("go")
    assert child.expect("again", timeout=20) == "again completed"
    assert child.finish(timeout=10) == 0
    assert "Traceback" not in child.stderr()


def test_ctrl_c_stops_a_one_connection_download_and_the_next_call_resumes(
    server: FakeTogether, children: list[Child], tmp_path: Path
) -> None:
    job_id = server.add_job(status="completed")["id"]
    server.set_download(job_id, size=SIZE)
    server.throttle = RATE
    target = tmp_path / "model.tar.zst"
    child = start(children, server, "download", job_id, str(target), "1")
    reported = int(interrupt(child, server).split()[1])

    part = tmp_path / "model.tar.zst.part"
    kept = part.stat().st_size
    assert 0 < reported <= kept < SIZE
    assert not target.exists()
    before = len(downloads(server))
    server.throttle = None
    child.tell("go")
    assert child.expect("again", timeout=30) == f"again {sha(synthetic_bytes(0, SIZE))}"
    assert child.finish(timeout=10) == 0
    resumed = downloads(server)[before:]
    assert [r.header("Range") for r in resumed] == [f"bytes={kept}-"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.zst"]


def test_ctrl_c_stops_a_four_connection_download_and_the_next_call_resumes(
    server: FakeTogether, children: list[Child], tmp_path: Path
) -> None:
    job_id = server.add_job(status="completed")["id"]
    server.set_download(job_id, size=SIZE)
    server.throttle = RATE
    target = tmp_path / "model.tar.zst"
    child = start(children, server, "download", job_id, str(target), "4")
    reported = int(interrupt(child, server).split()[1])

    assert (tmp_path / "model.tar.zst.part").stat().st_size == SIZE  # preallocated
    pieces = json.loads((tmp_path / "model.tar.zst.part.json").read_text())["pieces"]
    missing = sum(end - pos for _, end, pos in pieces)
    assert 0 < missing <= SIZE - reported
    assert not target.exists()
    before = len(downloads(server))
    server.throttle = None
    child.tell("go")
    assert child.expect("again", timeout=30) == f"again {sha(synthetic_bytes(0, SIZE))}"
    assert child.finish(timeout=10) == 0
    # Only what was missing is asked for, each piece from where it stopped.
    asked = sorted(r.header("Range") or "" for r in downloads(server)[before:])
    assert asked == sorted(f"bytes={pos}-{end - 1}" for _, end, pos in pieces if pos < end)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.zst"]


# -- the command line ---------------------------------------------------------------------------


def cli(children: list[Child], server: FakeTogether, *argv: str) -> Child:
    command = [sys.executable, "-m", "together_finetune", *argv]
    child = Child(command, child_env(server))
    children.append(child)
    return child


def until(condition: Any, timeout: float) -> None:
    """Poll ``condition()`` every 10 ms for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the child never got under way"
        time.sleep(0.01)


def cli_interrupted(child: Child) -> str:
    """SIGINT now; the CLI must exit 130 within the limit; its stderr."""
    sent = child.interrupt()
    code = child.finish(timeout=10 * PROMPT)
    took = time.monotonic() - sent
    assert took < PROMPT, f"the CLI took {took:.2f} s to stop"
    assert code == 130
    return child.stderr()


def test_ctrl_c_in_cli_wait_exits_130_with_one_line(
    server: FakeTogether, children: list[Child]
) -> None:
    job_id = server.add_job(status="running")["id"]
    child = cli(children, server, "wait", job_id, "--poll-interval", "60", "--quiet")
    until(lambda: server.requests_to("GET", f"/fine-tunes/{job_id}"), timeout=30)
    assert cli_interrupted(child) == "together-finetune: interrupted\n"


def test_ctrl_c_in_cli_download_exits_130_with_one_line_and_keeps_the_part(
    server: FakeTogether, children: list[Child], tmp_path: Path
) -> None:
    job_id = server.add_job(status="completed")["id"]
    server.set_download(job_id, size=SIZE)
    server.throttle = RATE
    target = tmp_path / "model.tar.zst"
    argv = ["download", job_id, "--checkpoint", "merged", "-o", str(target), "--no-progress"]
    child = cli(children, server, *argv, "--connections", "4")
    until(lambda: server.download_bytes_sent > 0, timeout=30)
    crawl(server)
    assert cli_interrupted(child) == "together-finetune: interrupted\n"
    assert (tmp_path / "model.tar.zst.part.json").exists()
    assert not target.exists()


def test_the_child_tells_a_call_that_ended_by_itself_from_an_interrupted_one(
    server: FakeTogether, children: list[Child]
) -> None:
    """The referee of the tests above: without a signal, no ``interrupted`` line."""
    job_id = server.add_job(status="completed")["id"]
    child = start(children, server, "wait", job_id)
    child.expect("busy", timeout=30)
    assert child.expect("finished", timeout=30) == "finished"
    assert child.finish(timeout=10) == 1


# -- where the signal lands -------------------------------------------------------------------


def test_ctrl_c_between_two_worker_starts_is_still_a_keyboard_interrupt(
    server: FakeTogether, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal may land while the workers are being started: the second never starts."""
    started: list[threading.Thread] = []

    class Interrupted(threading.Thread):
        def start(self) -> None:
            if started:
                raise KeyboardInterrupt  # as a real Ctrl-C would, inside start()
            started.append(self)
            super().start()

    fake_threading = types.ModuleType("threading")
    fake_threading.__dict__.update(vars(threading))
    fake_threading.Thread = Interrupted  # type: ignore[attr-defined]
    monkeypatch.setattr(segments, "threading", fake_threading)
    job_id = server.add_job(status="completed")["id"]
    server.set_download(job_id, size=SIZE)
    target = tmp_path / "model.tar.zst"
    with pytest.raises(KeyboardInterrupt):
        client.fine_tunes.download(job_id, checkpoint="merged", output=target, connections=4)
    assert len(started) == 1
    assert (tmp_path / "model.tar.zst.part.json").exists()
    monkeypatch.undo()
    result = client.fine_tunes.download(job_id, checkpoint="merged", output=target, connections=4)
    assert result.sha256 == sha(synthetic_bytes(0, SIZE))


def test_a_stopped_parallel_download_does_not_wait_for_its_stalled_reads(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    """In-process: the interrupt comes from the progress callback while every read stalls."""
    job_id = server.add_job(status="completed")["id"]
    server.set_download(job_id, size=SIZE)
    server.throttle = RATE
    raised: list[float] = []

    def progress(done: int, total: Optional[int]) -> None:
        if server.download_bytes_sent and not raised:
            crawl(server)
            raised.append(time.monotonic())
            raise KeyboardInterrupt

    target = tmp_path / "model.tar.zst"
    with pytest.raises(KeyboardInterrupt):
        client.fine_tunes.download(
            job_id, checkpoint="merged", output=target, connections=4, progress=progress
        )
    took = time.monotonic() - raised[0]
    assert took < PROMPT, f"the download took {took:.2f} s to stop"
    pieces = json.loads((tmp_path / "model.tar.zst.part.json").read_text())["pieces"]
    assert len(pieces) > 1  # kept for the next call, which resumes them


def test_a_read_is_cut_through_the_socket_where_urllib3_cannot_shut_down() -> None:
    """urllib3 before 2.3 has no ``HTTPResponse.shutdown``: the socket is shut instead."""
    mine, theirs = socket.socketpair()
    with mine, theirs:
        raw = types.SimpleNamespace(connection=types.SimpleNamespace(sock=mine))
        segments._cut(types.SimpleNamespace(raw=raw))  # type: ignore[arg-type]
        mine.settimeout(5)
        assert mine.recv(1) == b""  # at once: no read waits on a shut connection
