"""Copying one response body into a file: read and hash here, write on a helper thread.

The single-stream path of the download engine (``stream.py``); the parallel path
(``segments.py``) writes each piece at its offset instead.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import IO, TYPE_CHECKING, Any, List, Optional, Protocol

import requests
import urllib3.exceptions

from ..errors import DownloadError

if TYPE_CHECKING:  # pragma: no cover
    from .target import Target

__all__ = ["CHUNK_SIZE", "STREAM_ERRORS", "WRITE_SLICE", "Sink", "pump", "write_all"]

#: Bytes read from the socket per chunk (at least 1 MiB).
CHUNK_SIZE = 1 << 20
#: Most bytes handed to the kernel in one write. The page cache takes its folio size from
#: the write: up to 32 KiB the pages come from the allocator's per-CPU lists, larger
#: folios from its free lists, which on a virtual machine that returns free memory to
#: its host (free page reporting) must first be backed again. Writing 1 GiB in 1 MiB
#: writes cost 0.1 to 2.2 CPU s of system time on the benchmark machine depending on
#: what was freed before; in 32 KiB writes 0.15 to 0.21 s every time
#: (bench/PARALLEL_RESULTS.md).
WRITE_SLICE = 32 * 1024
#: What a broken or stalled connection raises while a body is read.
STREAM_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
)
#: Chunks read (and hashed) but not yet written.
_QUEUE_DEPTH = 4
#: Bytes written between background ``fdatasync`` calls (writeback overlaps the download).
#: Measured on the benchmark machine: 256 MiB beat 64, 128 and 512 MiB and no flush at all.
_FLUSH_EVERY = 256 * 1024 * 1024


class Sink(Protocol):
    """Where :func:`pump` reports: the running hash, the target, the bytes on disk."""

    hasher: Any
    target: Target

    def advance(self, size: int) -> None:
        """Account for ``size`` more bytes on disk (and hashed)."""


def pump(response: requests.Response, f: IO[bytes], sink: Sink) -> bool:
    """Copy the body to ``f``, hashing on the way; False when the connection broke.

    Reading and hashing (this thread) overlap with writing (a helper thread);
    hashing and writes release the GIL. At most ``_QUEUE_DEPTH`` chunks are in
    flight, so memory stays flat.
    Progress is reported from this thread, for bytes already on disk.
    """
    chunks: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=_QUEUE_DEPTH)
    done: queue.Queue[int] = queue.Queue()  # sizes written; -1 once the writer failed
    failure: List[OSError] = []  # from the writer or the flusher; -1 is queued in ``done``

    flush_wanted = threading.Event()
    flush_stop = False
    unflushed = 0

    def flusher() -> None:
        # Start writeback while the download runs, so the final fsync has little left
        # to do (the page cache would otherwise hold gigabytes of dirty data).
        while True:
            flush_wanted.wait()
            flush_wanted.clear()
            if flush_stop:
                return
            try:
                os.fdatasync(f.fileno())
            except OSError as exc:
                failure.append(exc)
                done.put(-1)
                return

    def writer() -> None:
        nonlocal unflushed
        while True:
            chunk = chunks.get()
            if chunk is None:
                return
            if failure:
                continue  # drain until the reader stops
            try:
                write_all(f, chunk)
            except OSError as exc:
                failure.append(exc)
                done.put(-1)
                continue
            done.put(len(chunk))
            unflushed += len(chunk)
            if unflushed >= _FLUSH_EVERY:
                unflushed = 0
                flush_wanted.set()

    def settle() -> None:
        while True:
            try:
                size = done.get_nowait()
            except queue.Empty:
                return
            if size < 0:
                exc = failure[0]
                raise DownloadError(
                    f"cannot write {sink.target.part}: {exc.strerror or exc}; the partial "
                    "file is kept for a later resume"
                ) from exc
            sink.advance(size)

    thread = threading.Thread(target=writer, name="together-download-writer", daemon=True)
    thread.start()
    background = None
    if hasattr(os, "fdatasync"):
        background = threading.Thread(target=flusher, name="together-download-flush", daemon=True)
        background.start()
    try:
        try:
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                if chunk:
                    # Hash here while the writer writes the previous chunk: both release
                    # the GIL, so hashing and disk writes overlap. Every chunk queued is
                    # written before this returns (or the download fails), so the digest
                    # always matches the file.
                    sink.hasher.update(chunk)
                    chunks.put(chunk)
                settle()
            complete = True
        except STREAM_ERRORS:
            complete = False
    finally:
        chunks.put(None)
        thread.join()
        if background is not None:
            flush_stop = True
            flush_wanted.set()
            background.join()
    settle()
    return complete


def write_all(f: IO[bytes], chunk: bytes) -> None:
    """Write all of ``chunk``, :data:`WRITE_SLICE` bytes at a time (a raw file may write
    less than asked)."""
    view = memoryview(chunk)
    while view:
        view = view[f.write(view[:WRITE_SLICE]) or 0 :]
