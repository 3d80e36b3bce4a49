"""Real child processes for the tests: line-by-line talk with bounded waits, and a real SIGINT.

:class:`Child` starts a command with pipes, reads its stdout on a thread, and lets a test
wait for a line with a deadline (never for ever); it is always killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Optional

from together_finetune.testing import FakeTogether

#: The child script of the Ctrl-C tests.
CTRL_C_CHILD = Path(__file__).with_name("ctrl_c_child.py")


def child_env(server: FakeTogether, **extra: str) -> dict[str, str]:
    """This process's environment, pointed at ``server``, without logging switched on."""
    env = dict(os.environ)
    env.pop("TOGETHER_LOG", None)
    env.pop("COLUMNS", None)
    env.update(TOGETHER_API_KEY=server.api_key, TOGETHER_BASE_URL=server.base_url)
    env.update(extra)
    return env


class Child:
    """A running child process whose stdout lines are read as they come."""

    def __init__(self, argv: list[str], env: dict[str, str], *, merge_stderr: bool = False) -> None:
        """Start ``argv`` (stdin, stdout and stderr piped; text mode).

        With ``merge_stderr``, stderr lines come with stdout's (for a server that logs there).
        """
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self.seen: list[str] = []
        self._stderr: Optional[str] = None
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    @classmethod
    def python(cls, script: Path, *args: str, env: dict[str, str]) -> Child:
        """Run ``script`` with this interpreter."""
        return cls([sys.executable, str(script), *args], env)

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        """The next stdout line starting with ``prefix``; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(
                    f"no {prefix!r} line within {timeout} s; stdout so far: {self.seen}"
                ) from None
            if line is None:
                raise AssertionError(
                    f"the child ended before a {prefix!r} line; stdout: {self.seen}; "
                    f"stderr: {self.stderr()}"
                )
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def rest(self, timeout: float) -> list[str]:
        """Every stdout line not read yet, once the child has closed it (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"the child's output did not end within {timeout} s") from None
            if line is None:
                self._lines.put(None)  # the end stays the end
                self.seen.extend(lines)
                return lines
            lines.append(line)

    def expect_match(self, pattern: str, timeout: float) -> re.Match[str]:
        """The match of ``pattern`` in the next stdout line it occurs in (within ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.expect("", timeout=max(deadline - time.monotonic(), 0.001))
            found = re.search(pattern, line)
            if found:
                return found

    def interrupt(self) -> float:
        """Send a real SIGINT (Ctrl-C); return the monotonic time it was sent."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        return sent

    def tell(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float) -> int:
        """Wait at most ``timeout`` s for the child to exit; return its exit status."""
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        """The child's stderr, once it has exited ("" while it runs)."""
        if self._stderr is None:
            if self.process.poll() is None or self.process.stderr is None:
                return ""
            self._stderr = self.process.stderr.read()
        return self._stderr

    def kill(self) -> None:
        """Kill the child if it still runs, and close the pipes."""
        if self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._reader.join(timeout=5)
