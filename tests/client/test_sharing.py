"""One client shared: by 32 threads, and across ``os.fork`` and a ``multiprocessing`` fork pool.

The fake records the client port of the connection each request came on, so these tests
see which connection served whom: a forked child must open connections of its own (two
processes writing to one socket garble each other's exchanges), and the parent must keep
using the connection it had.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import sys
import threading
import time
from typing import Optional

import pytest

from together_finetune import Client
from together_finetune.testing import FakeTogether

THREADS = 32

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
# Forking a process with threads (the fake server's) is exactly the gunicorn --preload case.
fork_warning = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def ports(server: FakeTogether, since: int = 0) -> set[Optional[int]]:
    return {r.client_port for r in server.requests[since:]}


def test_one_client_shared_by_32_threads(
    client: Client, server: FakeTogether, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    jobs = [server.add_job()["id"] for _ in range(8)]
    for job_id in jobs:
        server.add_event(job_id, message=f"event of {job_id}")
    gate = threading.Barrier(THREADS, timeout=30)
    errors: list[BaseException] = []
    done: list[int] = []

    def work(n: int) -> None:
        try:
            gate.wait()  # every thread at once
            job_id = jobs[n % len(jobs)]
            assert client.fine_tunes.retrieve(job_id).id == job_id
            events = client.fine_tunes.list_events(job_id)
            assert f"event of {job_id}" in [e.message for e in events]
            assert len(client.fine_tunes.list()) == len(jobs)
            assert client.fine_tunes.retrieve(job_id).id == job_id
            done.append(n)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(done) == list(range(THREADS))
    assert sleeps == []  # nothing was retried
    # No connection was thrown away for want of room in the pool ("Connection pool is
    # full"), and the pool holds at most one connection per thread.
    assert not [r for r in caplog.records if "pool" in r.getMessage().lower()]
    assert len(ports(server)) <= THREADS


def _wait_for_child(pid: int, timeout: float) -> int:
    """The exit status of child ``pid``; killed and AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"the forked child did not finish within {timeout} s")


@needs_fork
@fork_warning
def test_a_client_made_before_os_fork_works_in_the_child_and_the_parent(
    client: Client, server: FakeTogether
) -> None:
    job_id = server.add_job()["id"]
    assert client.fine_tunes.retrieve(job_id).id == job_id  # a kept-alive connection now
    parent = ports(server)
    before = len(server.requests)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe and leave without pytest's cleanup
        code = 1
        try:
            os.close(reader)
            got = [client.fine_tunes.retrieve(job_id).id for _ in range(3)]
            os.write(writer, ",".join(got).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], 20)
        answer = os.read(reader, 1024).decode() if ready else ""
    finally:
        os.close(reader)
    assert _wait_for_child(pid, timeout=20) == 0
    assert answer == ",".join([job_id] * 3)
    child = ports(server, before)
    assert child.isdisjoint(parent), "the child used its parent's connection"
    assert len(child) == 1  # and kept its own alive
    # The parent goes on over the connection it had.
    after = len(server.requests)
    assert client.fine_tunes.retrieve(job_id).id == job_id
    assert ports(server, after) <= parent


_pool_client: Optional[Client] = None


def _retrieve_in_worker(job_id: str) -> tuple[int, str]:
    assert _pool_client is not None
    return os.getpid(), _pool_client.fine_tunes.retrieve(job_id).id


@needs_fork
@fork_warning
def test_a_multiprocessing_fork_pool_uses_a_client_made_before_the_fork(
    client: Client, server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [server.add_job()["id"] for _ in range(12)]
    assert len(client.fine_tunes.list()) == len(jobs)  # a kept-alive connection now
    parent = ports(server)
    before = len(server.requests)
    # The workers inherit this module's global: the client made here, before the fork.
    monkeypatch.setattr(sys.modules[__name__], "_pool_client", client)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        answers = pool.map_async(_retrieve_in_worker, jobs, chunksize=1).get(timeout=30)
    assert [job_id for _, job_id in answers] == jobs
    assert os.getpid() not in {pid for pid, _ in answers}
    assert ports(server, before).isdisjoint(parent), "a worker used its parent's connection"
    after = len(server.requests)
    assert len(client.fine_tunes.list()) == len(jobs)
    assert ports(server, after) <= parent
