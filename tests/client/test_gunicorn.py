"""The Flask example under a real gunicorn: ``--preload --workers 2``, the client made before
the fork, 50 requests.

Each request goes to the fake on the connections of the worker that took it: a worker
that reused the master's connection would share one socket with its sibling, and their
exchanges would cross. gunicorn's own log must show no error.
"""

from __future__ import annotations

import concurrent.futures
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest
import requests
from support.children import Child, child_env
from support.paths import REPO_ROOT, TESTS

from together_finetune.testing import FakeTogether

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn runs on POSIX only")

REQUESTS = 50
#: gunicorn 24+ opens a control socket in the home directory by default; not here.
#: (A setting an older gunicorn does not know is ignored in a configuration file.)
CONFIG = "control_socket_disable = True\n"


@pytest.fixture
def gunicorn(server: FakeTogether, tmp_path: Path) -> Iterator[tuple[Child, str]]:
    """gunicorn serving ``support.flask_wsgi:app``; yields it and its URL."""
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(CONFIG)
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(config),
        "--preload",
        "--workers",
        "2",
        "--bind",
        "127.0.0.1:0",
        "--chdir",
        str(tmp_path),
        "--pythonpath",
        f"{REPO_ROOT},{TESTS}",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        "-",
        "support.flask_wsgi:app",
    ]
    child = Child(argv, child_env(server), merge_stderr=True)
    try:
        line = child.expect_match(r"Listening at: (http://[\d.:]+)", timeout=30)
        yield child, line.group(1)
    finally:
        child.kill()


def test_the_flask_example_under_gunicorn_preload_with_two_workers(
    server: FakeTogether, gunicorn: tuple[Child, str]
) -> None:
    child, url = gunicorn
    jobs = [server.add_job(status="running")["id"] for _ in range(10)]
    master = {r.client_port for r in server.requests}
    assert len(server.requests) == 1  # the start-up check, from the master
    before = len(server.requests)

    def ask(n: int) -> tuple[int, Optional[str]]:
        job_id = jobs[n % len(jobs)]
        answer = requests.get(f"{url}/jobs/{job_id}", timeout=10)
        shown = answer.json().get("id") if answer.status_code == 200 else answer.text
        return answer.status_code, shown if shown == job_id else f"{job_id} -> {shown}"

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(ask, range(REQUESTS)))
    assert answers == [(200, jobs[n % len(jobs)]) for n in range(REQUESTS)]
    served = server.requests[before:]
    assert len(served) == REQUESTS  # none retried
    workers = {r.client_port for r in served}
    assert workers.isdisjoint(master), "a worker used the master's connection"

    child.process.send_signal(signal.SIGTERM)
    assert child.finish(timeout=20) == 0
    child.rest(timeout=5)
    log = "\n".join(child.seen)
    assert len(re.findall(r"Booting worker", log)) == 2, log
    for bad in ("Traceback", "[ERROR]", "[CRITICAL]", "rror"):  # Error, error, ConnectionError
        assert bad not in log, log
