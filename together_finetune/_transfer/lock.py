"""An exclusive lock per download target, so two downloads of one file never collide.

The lock is an OS lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a small
file beside the target, ``<part>.lock``. The OS drops it when its holder dies, so a
killed process never blocks anyone: the file it leaves behind is simply locked again.
The holder that finishes writes what it produced (path, size, sha256) into the lock
file, removes it and unlocks; a caller that was waiting reads that record from the file
it still has open, and can return the finished file instead of downloading it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional

from .._checks import check_seconds
from ..errors import DownloadError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "TargetLock"]

#: Seconds a download waits for another download of the same target.
DEFAULT_LOCK_TIMEOUT = 300.0
#: Where the record starts in the lock file (Windows locks byte 0 only).
_RECORD_AT = 16


class TargetLock:
    """Hold the lock of ``path`` (the ``.part`` file) while a download writes it.

    :param timeout: seconds to wait for another holder; then :class:`DownloadError`.
    :param sleep: how to wait between tries; the wait is counted as the sum of the
        sleeps asked for, so an injected sleep makes the timeout virtual too.
    """

    def __init__(self, path: Path, *, timeout: float, sleep: Callable[[float], None]) -> None:
        check_seconds(timeout, "lock_timeout")
        self.path = path.with_name(path.name + ".lock")
        self.timeout = timeout
        self.sleep = sleep
        #: what the previous holder finished, if it finished while we waited
        self.record: Optional[Dict[str, Any]] = None
        self._file: Optional[IO[bytes]] = None

    def __enter__(self) -> TargetLock:
        waited = 0.0
        tries = 0
        # One open file across the tries: when its holder finishes, the record it wrote
        # is read from this file, even though the holder has removed its name.
        f = open(self.path, "a+b")
        while True:
            if _try_lock(f):
                record = _read_record(f)
                if record is not None:
                    self.record = record
                if _still_there(f, self.path):
                    self._file = f
                    return self
                # The holder removed this file as it finished: lock the current one.
                _unlock(f)
                f.close()
                f = open(self.path, "a+b")
                continue
            if waited >= self.timeout:
                f.close()
                raise DownloadError(
                    f"another download of the same file holds {self.path} (waited "
                    f"{waited:.0f} s); try again later or pass a longer lock_timeout="
                )
            pause = min(0.05 * 2.0**tries, 1.0, max(self.timeout - waited, 0.0)) or 0.05
            tries += 1
            self.sleep(pause)
            waited += pause

    def finished(self, path: Path, size: int, sha256: str) -> None:
        """Record what this holder produced, for a caller waiting on the lock."""
        f = self._file
        if f is None:  # pragma: no cover - only called inside the with block
            return
        with contextlib.suppress(OSError):  # a missing record only costs a download
            f.seek(_RECORD_AT)
            f.truncate()
            f.write(json.dumps({"path": str(path), "size": size, "sha256": sha256}).encode())
            f.flush()

    def __exit__(self, *exc_info: object) -> None:
        f = self._file
        self._file = None
        if f is None:  # pragma: no cover
            return
        if sys.platform != "win32":
            # Removed while still held, so no one can lock a file that is about to go.
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        _unlock(f)
        f.close()
        if sys.platform == "win32":  # pragma: no cover - an open file cannot be removed there
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _try_lock(f: IO[bytes]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        # flock locks belong to the open file, so two threads of one process exclude
        # each other too (fcntl's record locks would not).
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(f: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt

        with contextlib.suppress(OSError):
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _still_there(f: IO[bytes], path: Path) -> bool:
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(f.fileno())
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)


def _read_record(f: IO[bytes]) -> Optional[Dict[str, Any]]:
    try:
        f.seek(_RECORD_AT)
        record = json.loads(f.read(4096) or b"null")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
