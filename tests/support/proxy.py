"""A real forward proxy (proxy.py, a development dependency) on loopback, for the tests.

:class:`RealProxy` starts ``python -m proxy`` in its own process group with the
:mod:`support.proxy_recorder` plugin and reads what it recorded: every request that went
through it, as ``(method, "host:port")``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

from support.paths import TESTS

STARTUP_SECONDS = 30.0


class RealProxy:
    """proxy.py on 127.0.0.1 at a free port; ``basic_auth="user:pass"`` requires credentials."""

    def __init__(self, basic_auth: Optional[str] = None) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="real-proxy-"))
        self.record = self._directory / "record.txt"
        self.record.touch()
        port_file = self._directory / "port"
        command = [
            sys.executable, "-m", "proxy",
            "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
            "--num-acceptors", "1", "--threaded", "--log-level", "WARNING",
            "--plugins", "support.proxy_recorder.Recorder",
        ]  # fmt: skip
        if basic_auth is not None:
            command += ["--basic-auth", basic_auth]
        env = dict(os.environ, PROXY_RECORD=str(self.record), PYTHONPATH=str(TESTS))
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
            env.pop(name, None)
            env.pop(name.lower(), None)
        self._process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self._directory / "stderr.txt", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not port_file.exists() or not port_file.read_text().strip():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                stderr = (self._directory / "stderr.txt").read_text(errors="replace")
                raise RuntimeError(f"proxy.py did not start: {stderr[-2000:]}")
            time.sleep(0.05)
        self.port = int(port_file.read_text().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def seen(self) -> List[Tuple[str, str]]:
        """``(method, "host:port")`` of every request that went through, in order."""
        lines = self.record.read_text(encoding="utf-8").splitlines()
        return [(line.split(" ")[0], line.split(" ")[1]) for line in lines if " " in line]

    def hosts(self) -> List[str]:
        """The ``host`` (without the port) of every request that went through."""
        return [target.rsplit(":", 1)[0] for _, target in self.seen()]

    def forget(self) -> None:
        """Start a new record (each test reads only its own requests)."""
        self.record.write_text("")

    def stop(self) -> None:
        """Stop proxy.py and its acceptor processes (its own process group)."""
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
