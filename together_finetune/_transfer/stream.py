"""The resumable download engine: one URL path streamed into a file, verified and atomic.

A download streams into ``<target>.part`` beside the target, hashing on the way. A
dropped connection resumes with ``Range`` (and ``If-Range``), retried by the one retry
engine (``_retry.py``), until the bytes match the announced total; only then is the file
fsynced and renamed into place. An interrupted download leaves its ``.part`` and notes
(``.part.json``: the server's validator, what it belongs to) for the next call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import urljoin

import requests
import urllib3.exceptions

from .._retry import Failure
from .._retry import call as retry_call
from ..errors import APIStatusError, DownloadError, TogetherError
from ..transport import normalize_timeout
from .lock import DEFAULT_LOCK_TIMEOUT, TargetLock
from .progress import ProgressCallback
from .target import (
    Target,
    checksum_header,
    content_length,
    finished_meanwhile,
    fsync_directory,
    origin,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..transport import Timeout, Transport

__all__ = ["CHUNK_SIZE", "DEFAULT_READ_TIMEOUT", "Target", "download_to_file", "stream_download"]

#: Bytes read from the socket per chunk (at least 1 MiB).
CHUNK_SIZE = 1 << 20
#: Seconds a single socket read may stall before the download resumes.
DEFAULT_READ_TIMEOUT = 120.0

_STREAM_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
)
#: Redirects followed to find the file (a presigned storage URL).
MAX_REDIRECTS = 10
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
#: Chunks read (and hashed) but not yet written.
_QUEUE_DEPTH = 4
#: Bytes written between background ``fdatasync`` calls (writeback overlaps the download).
#: Measured on the benchmark machine: 256 MiB beat 64, 128 and 512 MiB and no flush at all.
_FLUSH_EVERY = 256 * 1024 * 1024


def download_to_file(
    transport: Transport,
    path: str,
    output: Path,
    *,
    overwrite: bool,
    label: str,
    params: Optional[Dict[str, Any]] = None,
    progress: Optional[ProgressCallback] = None,
    timeout: Optional[Timeout] = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Tuple[Path, int, str]:
    """Stream ``GET path`` into the file ``output`` with the same guarantees as model downloads.

    Resumable through ``<output>.part``, verified, fsynced and renamed into place.
    Returns the path, the size and the sha256 hex digest.
    """
    if output.is_dir():
        raise DownloadError(f"{output} is a directory: give the path of the file to write")
    if not output.parent.is_dir():
        raise DownloadError(f"output directory {output.parent} does not exist")
    if output.exists() and not overwrite:
        raise DownloadError(f"{output} already exists (pass overwrite=True to replace it)")
    target = Target(output.parent, None, output)
    return stream_download(
        transport,
        path,
        params=params,
        target=target,
        overwrite=overwrite,
        label=label,
        progress=progress,
        timeout=timeout,
        lock_timeout=lock_timeout,
    )


def stream_download(
    transport: Transport,
    path: str,
    *,
    params: Optional[Dict[str, Any]],
    target: Target,
    overwrite: bool,
    label: str,
    progress: Optional[ProgressCallback] = None,
    timeout: Optional[Timeout] = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Tuple[Path, int, str]:
    """Stream ``GET path?params`` into ``target``, resuming a ``.part`` left for the same request.

    ``label`` names the download in messages. The target is locked for the download:
    another download of it waits up to ``lock_timeout`` seconds, then returns the file
    the first one finished (when ``overwrite`` is false and its size and sha256 match
    the first one's record) or downloads it itself. Returns the final path, the size
    and the sha256 hex digest.
    """
    with TargetLock(target.part, timeout=lock_timeout, sleep=transport.sleep) as lock:
        if not overwrite and lock.record is not None:
            done = finished_meanwhile(lock.record, target)
            if done is not None:
                return done
        stream = _Stream(transport, path, params, target, progress, timeout, label=label)
        final, size, digest = stream.run(overwrite)
        lock.finished(final, size, digest)
        return final, size, digest


class _Stream:
    """One download: the request/resume loop around a ``.part`` file."""

    def __init__(
        self,
        transport: Transport,
        path: str,
        params: Optional[Dict[str, Any]],
        target: Target,
        progress: Optional[ProgressCallback],
        timeout: Optional[Timeout],
        *,
        label: str,
        connections: Optional[int] = None,
    ) -> None:
        self.transport = transport
        self.path = path
        self.params = params
        self.label = label
        self.target = target
        self.progress = progress
        connect = transport.timeout[0]
        if timeout is not None:
            connect, read = normalize_timeout(timeout)
        else:
            read = DEFAULT_READ_TIMEOUT
        self.timeout = (connect, read)
        self.budget = transport.retry.download_resume_attempts
        self.hasher = hashlib.sha256()
        self.offset = 0
        self.total: Optional[int] = None
        self.validator: Optional[str] = None
        self.checksum: Optional[str] = None
        self.content_type: Optional[str] = None
        #: the furthest byte ever reached: only getting past it counts as progress
        self.furthest = 0
        #: the size first announced; a restart announcing another one ends the download
        self.announced: Optional[int] = None
        self.url, self.url_params, self.authorized = self._api_target()
        self.connections = connections

    # -- state kept beside the .part ----------------------------------------------------

    def _load_partial(self) -> None:
        part = self.target.part
        if not part.is_file():
            return
        try:
            meta = json.loads(self.target.meta.read_text())
        except (OSError, ValueError):
            meta = {}
        if not isinstance(meta, dict) or meta.get("source") != self._identity():
            # Not provably the same download (another job, step or file wrote it, or its
            # notes are gone): appending to it could stitch two files together.
            self._discard_part()
            return
        validator, content_type = meta.get("validator"), meta.get("content_type")
        total, checksum = meta.get("total"), meta.get("checksum")
        self.validator = validator if isinstance(validator, str) else None
        self.content_type = content_type if isinstance(content_type, str) else None
        self.total = total if isinstance(total, int) and not isinstance(total, bool) else None
        self.checksum = checksum if isinstance(checksum, str) else None
        try:
            with open(part, "rb") as f:  # hash what an earlier run already wrote
                for block in iter(lambda: f.read(CHUNK_SIZE), b""):
                    self.hasher.update(block)
                    self.offset += len(block)
        except OSError as exc:
            raise DownloadError(f"cannot read {part}: {exc.strerror or exc}") from exc
        if self.validator is None or (self.total is not None and self.offset > self.total):
            # Without a validator for If-Range, the server could not tell us that the file
            # changed; longer than the file it belongs to, it is useless.
            self._discard_part()

    def _identity(self) -> Dict[str, Any]:
        """What the ``.part`` belongs to: the endpoint and its parameters."""
        params = {str(k): str(v) for k, v in (self.params or {}).items()}
        return {"path": self.path, "params": dict(sorted(params.items()))}

    def _save_meta(self) -> None:
        meta = {
            "source": self._identity(),
            "validator": self.validator,
            "content_type": self.content_type,
            "total": self.total,
            "checksum": self.checksum,
        }
        with contextlib.suppress(OSError):  # only an optimisation for a later resume
            self.target.meta.write_text(json.dumps(meta))

    def _restart(self) -> None:
        self.hasher = hashlib.sha256()
        self.offset = 0
        self.total = None
        self.checksum = None

    # -- the loop -----------------------------------------------------------------------

    def run(self, overwrite: bool) -> Tuple[Path, int, str]:
        self._load_partial()
        self.furthest = self.offset
        retry_call(
            self._attempt,
            policy=self.transport.retry,
            sleep=self.transport.sleep,
            budget=self.budget,
            progress=lambda: self.furthest,
            give_up=self._give_up,
        )
        return self._finish(overwrite)

    def _give_up(self, failed: Failure, misses: int) -> TogetherError:
        """The error once the budget is spent: the last one, or where the download stopped."""
        if self.furthest == 0 and isinstance(failed.error, APIStatusError):
            return failed.error  # the API refused every time: its own error says most
        where = (
            f"download of {self.label} stopped at {self.offset} of "
            f"{self.total if self.total is not None else '?'} bytes after {misses - 1} resume "
            f"attempts without progress (furthest byte reached: {self.furthest}; last "
            f"problem: {failed.error})"
        )
        if self.validator is None:
            # Without a strong validator a later call could not tell whether the file changed.
            self._discard_part()
            return DownloadError(
                f"{where}; the server sent no strong ETag or Last-Modified, so the partial "
                "file could not be kept for a later resume"
            )
        if self.target.part.exists():
            return DownloadError(
                f"{where}; the partial file {self.target.part} is kept and the next download "
                "resumes from it"
            )
        return DownloadError(where)

    def _open(self, headers: Dict[str, str]) -> requests.Response:
        """One GET of the file (redirects followed by hand, once); a 2xx answer."""
        url, params, authorized = self.url, self.url_params, self.authorized
        what = f"GET {self.path}"
        for _ in range(MAX_REDIRECTS + 1):
            response = self.transport.attempt(
                "GET",
                url,
                headers=headers,
                params=params,
                timeout=self.timeout,
                what=what,
                authorized=authorized,
            )
            location = response.headers.get("Location")
            if response.status_code < 300:
                self.url, self.url_params, self.authorized = url, params, authorized
                return response
            response.close()
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                raise Failure(
                    DownloadError(f"{what} answered {response.status_code} without a file"),
                    retryable=False,
                    what=what,
                )
            following = urljoin(url, location)
            # Like requests: credentials never follow a redirect to another origin.
            authorized = authorized and origin(following) == origin(url)
            url, params = following, None
        raise Failure(
            DownloadError(f"{what}: more than {MAX_REDIRECTS} redirects"),
            retryable=False,
            what=what,
        )

    def _attempt(self) -> None:
        """One request; returns once the file is complete, else raises :class:`Failure`."""
        headers = {"Accept-Encoding": "identity"}
        if self.offset > 0:
            headers["Range"] = f"bytes={self.offset}-"
            if self.validator:
                headers["If-Range"] = self.validator
        what = f"GET {self.path}"
        try:
            response = self._open(headers)
        except Failure as failed:
            error = failed.error
            if isinstance(error, APIStatusError):
                if error.status_code == 416 and self.offset > 0:
                    self._unsatisfiable(error)
                    return
                if self.url != self.transport.url(self.path) and error.status_code in (403, 404):
                    # A presigned URL may have expired: ask the API for a fresh one.
                    self.url, self.url_params, self.authorized = self._api_target()
                    raise Failure(error, retryable=True, what=what) from failed.__cause__
            raise
        with response:
            try:
                mode = self._accept(response)
            except _Restart as exc:
                raise Failure(DownloadError(f"{what}: {exc}"), retryable=True, what=what) from None
            self._stream_body(response, mode)

    def _api_target(self) -> Tuple[str, Optional[Dict[str, Any]], bool]:
        return self.transport.url(self.path), self.params, True

    def _unsatisfiable(self, exc: APIStatusError) -> None:
        total = None
        if exc.response is not None:
            match = re.match(r"bytes\s+\*/(\d+)", exc.response.headers.get("Content-Range", ""))
            total = int(match.group(1)) if match else None
        announced = self.total
        if total is not None and announced is not None and total != announced:
            self._discard_part()
            raise Failure(
                DownloadError(
                    f"download of {self.label}: the server announced {announced} bytes "
                    f"but now says the file has {total}; the partial file was discarded"
                ),
                retryable=False,
            )
        if total is not None and total == self.offset:
            self.total = total
            return  # the .part already holds everything
        self._discard_part()  # it does not fit what the server has now: start over
        raise Failure(
            DownloadError(f"the server could not serve the rest of {self.label} (416)"),
            retryable=True,
            what=f"GET {self.path}",
        )

    def _accept(self, response: requests.Response) -> str:
        """Check the answer against what we asked for; return the file mode to write with."""
        headers = response.headers
        if self.content_type is None or response.status_code == 200:
            self.content_type = headers.get("Content-Type", "application/octet-stream")
        validator = headers.get("ETag") or headers.get("Last-Modified")
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != self.offset:
                self._restart()
                raise _Restart("the answer does not continue the partial file")
            total = None if match.group(3) == "*" else int(match.group(3))
            announced = self.total
            if announced is not None and total is not None and total != announced:
                self._discard_part()
                raise DownloadError(
                    f"the server's file changed size ({announced} -> {total} bytes) during "
                    f"the download of {self.label}; the partial file was discarded"
                )
            if total is not None:
                self.total = total
                self.announced = self.announced if self.announced is not None else total
            elif self.total is None:
                length = content_length(headers)
                self.total = self.offset + length if length is not None else None
        else:
            if self.offset:
                self._restart()  # a 200 to a Range request: the whole file again
            self.total = content_length(headers)
            self.checksum = checksum_header(headers)
            if self.announced is not None and self.total != self.announced:
                # A file that changes size on every restart could be fetched forever.
                self._discard_part()
                raise Failure(
                    DownloadError(
                        f"the server's file changed size ({self.announced} -> "
                        f"{self.total if self.total is not None else '?'} bytes) during the "
                        f"download of {self.label}; the partial file was discarded, try again"
                    ),
                    retryable=False,
                )
        if self.announced is None:
            self.announced = self.total
        if validator and not validator.startswith("W/"):
            self.validator = validator
        elif response.status_code != 206:
            self.validator = None
        self.target.resolve(self.content_type)
        self._save_meta()
        return "ab" if self.offset > 0 else "wb"

    def _stream_body(self, response: requests.Response, mode: str) -> None:
        part = self.target.part
        try:
            f: IO[bytes] = open(part, mode, buffering=0)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise DownloadError(
                f"cannot write {part}: {exc.strerror or exc}; the partial file is kept for a "
                "later resume"
            ) from exc
        with f:
            if self.progress is not None:
                self.progress(self.offset, self.total)
            try:
                complete = _pump(response, f, self)
            finally:
                try:
                    os.fsync(f.fileno())
                except OSError as exc:
                    raise DownloadError(
                        f"cannot write {part}: {exc.strerror or exc}; the partial file is kept "
                        "for a later resume"
                    ) from exc
        self.furthest = max(self.furthest, self.offset)
        what = f"GET {self.path}"
        if not complete:
            raise Failure(
                DownloadError(f"the connection broke at byte {self.offset}"),
                retryable=True,
                what=what,
            )
        if self.total is not None and self.offset < self.total:
            raise Failure(
                DownloadError(f"the answer ended at byte {self.offset} of {self.total}"),
                retryable=True,
                what=what,
            )

    def _advance(self, size: int) -> None:
        """Account for ``size`` more bytes once they are on disk (and hashed)."""
        self.offset += size
        if self.progress is not None:
            self.progress(self.offset, self.total)

    def _discard_part(self) -> None:
        self._restart()
        for leftover in (self.target.part, self.target.meta):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    def _finish(self, overwrite: bool) -> Tuple[Path, int, str]:
        part = self.target.part
        final = self.target.resolve(self.content_type or "")
        size = part.stat().st_size
        digest = self.hasher.hexdigest()
        if size != self.offset or (self.total is not None and size != self.total):
            announced = self.total if self.total is not None else self.offset
            self._discard_part()
            raise DownloadError(
                f"download of {self.label} is {size} bytes but the server announced "
                f"{announced}; nothing was written to {final}"
            )
        expected = self.checksum
        if expected is not None and expected != digest:
            self._discard_part()
            raise DownloadError(
                f"download of {self.label} has sha256 {digest} but the server sent "
                f"{expected}; nothing was written to {final}"
            )
        if final.exists() and not overwrite:
            raise DownloadError(f"{final} already exists (pass overwrite=True to replace it)")
        try:
            os.replace(part, final)
        except OSError as exc:
            raise DownloadError(
                f"cannot move the download into place at {final}: {exc.strerror or exc}; the "
                f"complete data is kept in {part}"
            ) from exc
        fsync_directory(final.parent)
        with contextlib.suppress(FileNotFoundError):
            self.target.meta.unlink()
        return final, size, digest


def _pump(response: requests.Response, f: IO[bytes], stream: _Stream) -> bool:
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
                _write_all(f, chunk)
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
                    f"cannot write {stream.target.part}: {exc.strerror or exc}; the partial "
                    "file is kept for a later resume"
                ) from exc
            stream._advance(size)

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
                    stream.hasher.update(chunk)
                    chunks.put(chunk)
                settle()
            complete = True
        except _STREAM_ERRORS:
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


def _write_all(f: IO[bytes], chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[f.write(view) :]


class _Restart(Exception):
    """Internal: the server's answer does not continue our file; start again."""
