"""Run the installed ``together-finetune`` script, through pipes or a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional


def console_script() -> list[str]:
    """The installed console script (beside this Python, or on PATH); else ``python -m``."""
    beside = Path(sys.executable).with_name("together-finetune")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("together-finetune")
    return [found] if found else [sys.executable, "-m", "together_finetune"]


class PtyRun:
    """The command run with stdin, stdout and stderr on one pseudo-terminal.

    ``expect`` reads until a text shows up; ``send`` types a line. Every read is
    bounded by ``timeout`` seconds, and the child is killed if it outlives the test.
    """

    def __init__(
        self,
        env: dict[str, str],
        *argv: str,
        timeout: float = 20,
        columns: int = 80,
        lines: int = 24,
        no_color: bool = False,
    ) -> None:
        import codecs
        import pty  # POSIX only: imported here so the module loads anywhere

        self.timeout = timeout
        self.output = ""
        # One decoder for the whole stream: a character split between two reads is kept.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        main, child = pty.openpty()
        _set_size(child, lines, columns)
        child_env = dict(env, COLUMNS=str(columns), LINES=str(lines), TERM="xterm")
        child_env.pop("NO_COLOR", None)
        if no_color:
            child_env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen(
            [*console_script(), *argv],
            env=child_env,
            stdin=child,
            stdout=child,
            stderr=child,
            close_fds=True,
        )
        os.close(child)
        self.fd = main

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting up to ``deadline``); ``False`` at end of output."""
        wait = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        if not data:
            return False
        self.output += self._decoder.decode(data)
        return True

    def expect(self, text: str) -> str:
        """Read until ``text`` appears; everything read so far is returned."""
        deadline = time.monotonic() + self.timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self._read(deadline):
                tail = self.output[-2000:]
                raise AssertionError(f"{text!r} never appeared; the output ends:\n{tail!r}")
        return self.output

    def send(self, line: str) -> None:
        """Type ``line`` and Enter."""
        os.write(self.fd, (line + "\r").encode())

    def finish(self) -> int:
        """Read to the end and return the exit status (the child is killed on a timeout)."""
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline and self._read(deadline):
                pass
            return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            self.close()

    def close(self) -> None:
        """Kill the child if it still runs; close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _set_size(fd: int, lines: int, columns: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


def plain_text(output: str) -> str:
    """Terminal output without colour codes, ``\\r\\n`` as ``\\n``."""
    import re

    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output).replace("\r\n", "\n")


def run_script(
    env: dict[str, str], *argv: str, input: Optional[str] = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """The installed script through pipes (not a terminal)."""
    return subprocess.run(
        [*console_script(), *argv],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
