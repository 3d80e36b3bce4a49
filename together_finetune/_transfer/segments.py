"""Parallel ranged downloads: a file fetched in pieces over several connections at once.

Object storage caps each connection, so a large file arrives faster over several. The
file is cut into pieces (:func:`plan_pieces`); ``connections`` worker threads take the
pieces in order, each fetching its piece with ``Range`` and ``If-Range`` and writing it at
its offset into the preallocated ``.part`` (``os.pwrite``; a file of its own per thread).
Each piece is retried and resumed on its own by the one retry engine (``_retry.py``),
its progress being its position. The pieces' positions go into the resume notes, so an
interrupted download fetches only what is missing on the next call.

The calling thread coordinates: it reports progress, flushes and saves the notes, and
hashes, so the receiving threads never hash. How it hashes is chosen once per run from
the CPU the process uses early on: when the network is the limit (a capped or remote
server; little CPU) it hashes the contiguous prefix while the pieces arrive, so little is
left at the end; when the download is CPU-bound it hashes the finished file in one pass
while it is still in the page cache, never competing with the receivers
(``bench/PARALLEL_RESULTS.md``).
Each receiver reads the body straight into one reused buffer (no allocation per chunk).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple, cast

from .._retry import Failure
from .._retry import call as retry_call
from ..errors import APIStatusError, DownloadError, TogetherError
from .pump import CHUNK_SIZE, STREAM_ERRORS, WRITE_SLICE

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ..transport import Transport

__all__ = [
    "AUTO_THRESHOLD",
    "DEFAULT_CONNECTIONS",
    "Piece",
    "PieceRun",
    "check_connections",
    "content_range",
    "pieces_from_notes",
    "plan_pieces",
    "preallocate",
    "resume_range",
]

#: Connections used by default for a file of at least :data:`AUTO_THRESHOLD` bytes.
DEFAULT_CONNECTIONS = 4
#: The size from which a download goes parallel by default (when ranges are served).
AUTO_THRESHOLD = 64 * 1024 * 1024
#: Most connections one download may use.
MAX_CONNECTIONS = 32
#: Smallest and largest piece; about four pieces per connection in between, so the
#: hashed prefix grows steadily and a slow connection holds up little.
MIN_PIECE = 64 * 1024
MAX_PIECE = 256 * 1024 * 1024
#: Bytes between ``fdatasync`` + notes saves (a killed process resumes from there).
_SAVE_EVERY = 256 * 1024 * 1024
#: Seconds between the calling thread's looks at the pieces (progress, notes), so the
#: receiving threads never stop to wake it.
_TICK = 0.05
#: Seconds a stopped run waits for its workers: a read in progress is cut at once, but
#: one still connecting or waiting out a retry must not hold up Ctrl-C.
_JOIN_GRACE = 0.5
#: None: choose per run from the CPU used (below); True: always hash the contiguous
#: prefix during the download; False: always one pass at the end (the benchmark's options).
HASH_WHILE_DOWNLOADING: Optional[bool] = None
#: Seconds from the start of a run between which its speed is measured (connection
#: setup excluded) before the way of hashing is chosen; nothing is hashed before.
_MEASURE_FROM = 0.25
_CHOOSE_AT = 0.6
#: CPU seconds per second (all threads) under which the prefix is hashed during the
#: download: a 50 MiB/s cap per connection used ~0.3 here, uncapped loopback >= 1.
_PREFIX_BELOW_CPU = 0.5

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def check_connections(connections: Optional[int]) -> None:
    """Raise ``ValueError`` unless ``connections`` is ``None`` or 1..MAX_CONNECTIONS."""
    if connections is None:
        return
    if (
        not isinstance(connections, int)
        or isinstance(connections, bool)
        or not 1 <= connections <= MAX_CONNECTIONS
    ):
        raise ValueError(
            f"connections must be an integer from 1 to {MAX_CONNECTIONS} (or None: "
            f"{DEFAULT_CONNECTIONS} for large files), got {connections!r}"
        )


def content_range(headers: Any) -> Optional[Tuple[int, int, Optional[int]]]:
    """``(first, last, total)`` of a ``Content-Range`` header (``total`` None for ``*``)."""
    match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


class Piece:
    """Bytes ``start`` up to ``end`` (exclusive) of the file; ``pos``: how far it is written."""

    __slots__ = ("end", "pos", "start")

    def __init__(self, start: int, end: int, pos: Optional[int] = None) -> None:
        self.start = start
        self.end = end
        self.pos = start if pos is None else pos

    @property
    def done(self) -> int:
        """Bytes of this piece on disk."""
        return self.pos - self.start

    def __repr__(self) -> str:
        return f"Piece({self.start}, {self.end}, pos={self.pos})"


def plan_pieces(total: int, connections: int) -> List[Piece]:
    """Cut ``total`` bytes into pieces for ``connections`` connections (one if small)."""
    size = -(-total // (connections * 4))
    size = min(max(size, MIN_PIECE), MAX_PIECE)
    return [Piece(start, min(start + size, total)) for start in range(0, total, size)]


def pieces_from_notes(notes: Any, total: Optional[int]) -> Optional[List[Piece]]:
    """The pieces recorded in resume notes, if they tile ``total`` bytes exactly."""
    if not isinstance(notes, list) or not notes or total is None:
        return None
    pieces: List[Piece] = []
    expected = 0
    for entry in notes:
        if not (isinstance(entry, list) and len(entry) == 3):
            return None
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in entry):
            return None
        start, end, pos = entry
        if start != expected or not start <= pos <= end or end <= start:
            return None
        pieces.append(Piece(start, end, pos))
        expected = end
    return pieces if expected == total else None


def resume_range(pieces: List[Piece], total: int) -> Tuple[Optional[Piece], str]:
    """The first unfinished piece and the ``Range`` that resumes it.

    When every piece is on disk (an earlier run stopped before the rename), ``None``
    and the file's last byte: asked with ``If-Range``, the answer still confirms that
    the server serves the version on disk.
    """
    first = next((p for p in pieces if p.pos < p.end), None)
    if first is None:
        return None, f"bytes={total - 1}-{total - 1}"
    return first, f"bytes={first.pos}-{first.end - 1}"


class _FileChanged(Exception):
    """The server's file is no longer the one the pieces belong to (start again)."""


class _Expired(Exception):
    """The storage URL stopped working (403/404): ask the API for a fresh one."""

    def __init__(self, error: TogetherError) -> None:
        super().__init__(str(error))
        self.error = error


class _Stopped(Exception):
    """Internal: another worker failed, or the caller stopped; this worker ends."""


class PieceRun:
    """One run of the pieces that are not done yet, over ``connections`` connections.

    :param target: ``(url, params, authorized)`` every piece request goes to: the final
        URL, redirects already resolved; no ``Authorization`` unless it is the API's.
    :param first: an open ``206`` answer for the first unfinished piece (the request
        that found the final URL), used instead of a new request.
    :param give_up: builds the error of a piece that spent its budget.
    :param advance: called on the calling thread with the bytes done so far.
    :param save: records the pieces in the resume notes.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        target: Tuple[str, Optional[Dict[str, Any]], bool],
        part: Path,
        pieces: List[Piece],
        total: int,
        validator: str,
        connections: int,
        timeout: Tuple[float, float],
        what: str,
        give_up: Callable[[Failure, int], TogetherError],
        advance: Callable[[int], None],
        save: Callable[[], None],
    ) -> None:
        self.transport = transport
        self.url, self.params, self.authorized = target
        self.part = part
        self.pieces = pieces
        self.total = total
        self.validator = validator
        self.connections = connections
        self.timeout = timeout
        self.what = what
        self.give_up = give_up
        self.advance = advance
        self.save = save
        self._first: Optional[requests.Response] = None
        self._queue = [p for p in pieces if p.pos < p.end]
        self._cond = threading.Condition()
        self._stop = False
        self._errors: List[BaseException] = []
        self._running = 0
        self._reading: Set[requests.Response] = set()

    def done(self) -> int:
        """Bytes of the file on disk."""
        return sum(p.done for p in self.pieces)

    def run(self, first: Optional[requests.Response]) -> str:
        """Fetch every unfinished piece; return the sha256 hex digest of the whole file.

        :raises _FileChanged: a piece was answered for another version of the file.
        :raises _Expired: the storage URL stopped working.
        :raises TogetherError: a piece spent its budget (or failed for good).
        """
        self._first = first
        workers = [
            threading.Thread(target=self._work, name=f"together-download-{n}", daemon=True)
            for n in range(min(self.connections, len(self._queue)))
        ]
        self._running = len(workers)
        with open(self.part, "rb", buffering=0) as reader:
            hasher = _PrefixHasher(reader)
            try:
                for worker in workers:
                    worker.start()
                self._coordinate(hasher, reader.fileno())
            finally:
                # Also on Ctrl-C, which may land anywhere, even between two starts.
                self._halt()
                _join(workers, time.monotonic() + _JOIN_GRACE)
                if first is not None and self._first is not None:
                    first.close()  # never handed to a worker
                self.save()
            if self._errors:
                raise self._errors[0]
            hasher.catch_up(self.total)
        return hasher.hexdigest()

    def _coordinate(self, hasher: _PrefixHasher, fd: int) -> None:
        saved = self.done()
        chooser = _Chooser(HASH_WHILE_DOWNLOADING)
        while True:
            with self._cond:
                if self._running and not self._errors:
                    self._cond.wait(_TICK)
                running = self._running and not self._errors
            done = self.done()
            self.advance(done)
            if chooser.hash_now():
                hasher.catch_up(_prefix(self.pieces, self.total))
            if done - saved >= _SAVE_EVERY:
                saved = done
                _datasync(fd)  # the notes never claim bytes a power loss could take
                self.save()
            if not running:
                return

    def _halt(self) -> None:
        """Stop every worker now: the bodies being read are cut, so no read waits on."""
        with self._cond:
            self._stop = True
            reading = list(self._reading)
        for response in reading:
            _cut(response)

    # -- the workers -------------------------------------------------------------------

    def _take(self) -> Optional[Piece]:
        with self._cond:
            if self._stop or self._errors or not self._queue:
                return None
            return self._queue.pop(0)

    def _work(self) -> None:
        buffer = memoryview(bytearray(CHUNK_SIZE))  # this thread's, reused for every read
        try:
            with open(self.part, "r+b", buffering=0) as f:
                while True:
                    piece = self._take()
                    if piece is None:
                        return
                    retry_call(
                        lambda piece=piece: self._attempt(piece, f, buffer),  # type: ignore[misc]
                        policy=self.transport.retry,
                        sleep=self.transport.sleep,
                        budget=self.transport.retry.download_resume_attempts,
                        progress=lambda piece=piece: piece.pos,  # type: ignore[misc]
                        give_up=self.give_up,
                    )
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the calling thread
            with self._cond:
                self._errors.append(exc)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _open(self, piece: Piece) -> requests.Response:
        with self._cond:
            first, self._first = self._first, None
        if first is not None:
            return first
        headers = {
            "Accept-Encoding": "identity",
            "Range": f"bytes={piece.pos}-{piece.end - 1}",
            "If-Range": self.validator,
        }
        try:
            return self.transport.attempt(
                "GET",
                self.url,
                headers=headers,
                params=self.params,
                timeout=self.timeout,
                what=self.what,
                authorized=self.authorized,
            )
        except Failure as failed:
            error = failed.error
            if isinstance(error, APIStatusError):
                if error.status_code == 416:
                    raise _FileChanged(
                        "the server cannot serve a piece of the file (416)"
                    ) from None
                if not self.authorized and error.status_code in (403, 404):
                    raise _Expired(error) from None
            raise

    def _attempt(self, piece: Piece, f: IO[bytes], buffer: memoryview) -> None:
        if self._stopping():
            raise _Stopped()
        response = self._open(piece)
        with self._cond:
            self._reading.add(response)
            stopped = self._stop
        if stopped:  # halted while this request was on its way
            _cut(response)
        try:
            self._receive(piece, f, buffer, response)
        finally:
            with self._cond:
                self._reading.discard(response)

    def _receive(
        self, piece: Piece, f: IO[bytes], buffer: memoryview, response: requests.Response
    ) -> None:
        with response:
            if response.status_code == 200:
                # If-Range did not match (or the range was ignored): another file now.
                raise _FileChanged("the file changed on the server during the download")
            if response.status_code != 206:
                raise Failure(
                    DownloadError(
                        f"{self.what} answered {response.status_code} to a Range request"
                    ),
                    retryable=False,
                    what=self.what,
                )
            stop_at = self._check(piece, response)
            readinto = _body_reader(response)
            while piece.pos < stop_at:
                if self._stopping():
                    raise _Stopped()
                want = buffer[: min(len(buffer), stop_at - piece.pos)]
                try:
                    got = readinto(want)
                except _READ_ERRORS:
                    break
                if not got:
                    break
                if self._stopping():
                    raise _Stopped()  # a halted run writes nothing more
                try:
                    _write_at(f, want[:got], piece.pos)
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {self.part}: {exc.strerror or exc}; the partial file "
                        "is kept for a later resume"
                    ) from exc
                piece.pos += got
        if piece.pos < piece.end and self._stopping():
            raise _Stopped()  # the read was cut by a halt, not by the network
        if piece.pos < piece.end:
            raise Failure(
                DownloadError(
                    f"the connection broke at byte {piece.pos} (piece from {piece.start})"
                ),
                retryable=True,
                what=self.what,
            )

    def _check(self, piece: Piece, response: requests.Response) -> int:
        """Where this answer's bytes stop; a Failure when it does not continue the piece."""
        found = content_range(response.headers)
        length = response.headers.get("Content-Length")
        problem = None
        if found is None or found[0] != piece.pos or found[1] < found[0]:
            problem = "the answer does not continue the piece"
        elif found[2] != self.total:
            raise _FileChanged(f"the file changed size ({self.total} -> {found[2]} bytes)")
        elif length is not None and length.strip() != str(found[1] - found[0] + 1):
            problem = f"the answer's Content-Length ({length}) contradicts its Content-Range"
        if problem is not None:
            raise Failure(DownloadError(f"{self.what}: {problem}"), retryable=True, what=self.what)
        assert found is not None
        return min(piece.end, found[1] + 1)

    def _stopping(self) -> bool:
        with self._cond:
            return self._stop or bool(self._errors)


#: What reading a body raises when the connection breaks or stalls: urllib3's own errors,
#: and, should one slip through its wrapping, the socket's and http.client's.
_READ_ERRORS = (*STREAM_ERRORS, OSError, http.client.HTTPException)


def _cut(response: requests.Response) -> None:
    """Shut the connection under ``response`` for reading: a read blocked on it returns.

    urllib3 2.3+ does it with ``HTTPResponse.shutdown``; older ones through the socket.
    """
    raw = response.raw
    with contextlib.suppress(OSError, ValueError, RuntimeError):  # released or closed
        if hasattr(raw, "shutdown"):
            raw.shutdown()
        else:
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RD)


def _join(workers: List[threading.Thread], deadline: float) -> None:
    """Wait for the workers until ``deadline`` at most.

    One still connecting or waiting out a retry stops by itself at its next look, and
    writes nothing more.
    """
    for worker in workers:
        with contextlib.suppress(RuntimeError):  # never started: Ctrl-C came first
            worker.join(max(deadline - time.monotonic(), 0.0))


def _body_reader(response: requests.Response) -> Callable[[memoryview], Optional[int]]:
    """``readinto`` of the body's bytes as sent (no decoding: ``identity`` was asked).

    urllib3's public ``readinto`` fills the caller's reused buffer, so no bytes object
    is made per chunk.
    """
    return cast("Callable[[memoryview], Optional[int]]", response.raw.readinto)


class _Chooser:
    """Whether the calling thread hashes the prefix now: forced, or chosen once.

    Chosen from the CPU this process used in a window early in the run: little means
    the network is the limit and the hashing thread keeps up on a spare core; much means
    the download is CPU-bound and hashing now would slow the receivers.
    """

    def __init__(
        self,
        forced: Optional[bool],
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.choice = forced
        self.clock = clock
        self.cpu = cpu
        self.started = clock()
        self.mark: Optional[Tuple[float, float]] = None

    def hash_now(self) -> bool:
        if self.choice is not None:
            return self.choice
        elapsed = self.clock() - self.started
        if elapsed < _MEASURE_FROM:
            return False
        if self.mark is None:
            self.mark = (elapsed, self.cpu())
            return False
        if elapsed < _CHOOSE_AT:
            return False
        share = (self.cpu() - self.mark[1]) / max(elapsed - self.mark[0], 1e-9)
        self.choice = share < _PREFIX_BELOW_CPU
        return self.choice


def _prefix(pieces: List[Piece], total: int) -> int:
    """How far the file is written without a gap."""
    for piece in pieces:
        if piece.pos < piece.end:
            return piece.pos
    return total


class _PrefixHasher:
    """Hashes the file from its start as far as it is written, reading it back."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.hasher = hashlib.sha256()
        self.at = 0
        self.buffer = bytearray(CHUNK_SIZE)

    def catch_up(self, upto: int) -> None:
        view = memoryview(self.buffer)
        while self.at < upto:
            want = view[: min(CHUNK_SIZE, upto - self.at)]
            if hasattr(os, "preadv"):
                got = os.preadv(self.f.fileno(), [want], self.at)
            else:  # pragma: no cover - Windows: only this thread reads this file
                self.f.seek(self.at)
                got = self.f.readinto(want) or 0
            if got <= 0:  # pragma: no cover - the file is preallocated to its size
                raise DownloadError("the partial file is shorter than its pieces say")
            self.hasher.update(view[:got])
            self.at += got

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def _write_at(f: IO[bytes], data: memoryview, offset: int) -> None:
    """Write ``data`` at ``offset`` of this thread's own file, in :data:`WRITE_SLICE` writes."""
    if not hasattr(os, "pwrite"):  # pragma: no cover - Windows: the file is this thread's
        f.seek(offset)
        while data:
            data = data[f.write(data[:WRITE_SLICE]) or 0 :]
        return
    fd = f.fileno()
    while data:
        written = os.pwrite(fd, data[:WRITE_SLICE], offset)
        data = data[written:]
        offset += written


def _datasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)
    with contextlib.suppress(OSError):  # a later write or the final fsync reports it
        sync(fd)


def preallocate(part: Path, total: int) -> None:
    """Make ``part`` a file of ``total`` bytes, reserving the disk space when possible."""
    try:
        with open(part, "wb") as f:
            allocate = getattr(os, "posix_fallocate", None)
            if allocate is not None and total > 0:
                try:
                    allocate(f.fileno(), 0, total)
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # unsupported here
                        raise
            f.truncate(total)
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc.strerror or exc}") from exc
