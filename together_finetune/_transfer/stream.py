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
import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Dict, Optional, Tuple
from urllib.parse import urljoin

from .._retry import Failure
from .._retry import call as retry_call
from ..errors import APIStatusError, DownloadError, TogetherError
from ..transport import normalize_timeout
from .progress import ProgressCallback
from .pump import CHUNK_SIZE, pump
from .segments import (
    AUTO_THRESHOLD,
    DEFAULT_CONNECTIONS,
    Piece,
    PieceRun,
    _Expired,  # pyright: ignore[reportPrivateUsage]  # the engines' own signals
    _FileChanged,  # pyright: ignore[reportPrivateUsage]
    content_range,
    pieces_from_notes,
    plan_pieces,
    preallocate,
    resume_range,
)
from .target import (
    Target,
    checksum_header,
    content_length,
    fsync_directory,
    origin,
)

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ..transport import Timeout, Transport

__all__ = ["CHUNK_SIZE", "DEFAULT_READ_TIMEOUT", "Stream", "Target"]

#: Seconds a single socket read may stall before the download resumes.
DEFAULT_READ_TIMEOUT = 120.0
#: Redirects followed to find the file (a presigned storage URL).
MAX_REDIRECTS = 10


class Stream:
    """One download: the request/resume loop around a ``.part`` file (under its lock)."""

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
        #: the pieces of a parallel download (``None``: one stream)
        self.pieces: Optional[list[Piece]] = None
        #: the digest a parallel download computed (one stream hashes in ``hasher``)
        self.digest: Optional[str] = None

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
        if "pieces" in meta:
            self._load_pieces(meta["pieces"])
            return
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

    def _load_pieces(self, notes: Any) -> None:
        """Resume a parallel download: its pieces say what is on disk (no hashing yet)."""
        pieces = pieces_from_notes(notes, self.total)
        try:
            size = self.target.part.stat().st_size
        except OSError:
            size = -1
        if pieces is None or self.validator is None or size != self.total:
            self._discard_part()
            return
        self.pieces = pieces
        self.offset = sum(p.done for p in pieces)

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
        if self.pieces is not None:
            meta["pieces"] = [[p.start, p.end, p.pos] for p in self.pieces]  # type: ignore[assignment]
        with contextlib.suppress(OSError):  # only an optimisation for a later resume
            self.target.meta.write_text(json.dumps(meta))

    def _restart(self) -> None:
        self.hasher = hashlib.sha256()
        self.pieces = None
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
        if self.pieces is not None:
            self._attempt_pieces()
            return
        headers = {"Accept-Encoding": "identity"}
        if self.offset == 0 and self.connections != 1:
            headers["Range"] = "bytes=0-"  # the answer says whether pieces can be fetched
        elif self.offset > 0:
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
                if self._expired(error):
                    raise Failure(error, retryable=True, what=what) from failed.__cause__
            raise
        with response:
            try:
                mode = self._accept(response)
            except _Restart as exc:
                raise Failure(DownloadError(f"{what}: {exc}"), retryable=True, what=what) from None
            pieces = self._plan(response)
            if pieces is not None:
                self.pieces = pieces
                preallocate(self.target.part, self.total or 0)
                self._save_meta()
                self._run_pieces(response)
                return
            self._stream_body(response, mode)

    # -- parallel pieces (segments.py) ---------------------------------------------------

    def _plan(self, response: requests.Response) -> Optional[list[Piece]]:
        """The pieces to fetch in parallel after the first answer, or None: one stream."""
        if response.status_code != 206 or self.offset or self.total is None or not self.validator:
            return None  # no ranges, or no way to tell that the file stayed the same
        connections = self.connections
        if connections is None:
            connections = DEFAULT_CONNECTIONS if self.total >= AUTO_THRESHOLD else 1
        pieces = plan_pieces(self.total, connections) if connections > 1 else []
        return pieces if len(pieces) > 1 else None

    def _attempt_pieces(self) -> None:
        """Resume the unfinished pieces; the first request also resolves the redirects."""
        assert self.pieces is not None
        assert self.total is not None
        assert self.validator
        first, wanted = resume_range(self.pieces, self.total)
        headers = {"Accept-Encoding": "identity", "Range": wanted, "If-Range": self.validator}
        try:
            response: Optional[requests.Response] = self._open(headers)
        except Failure as failed:
            error = failed.error
            if isinstance(error, APIStatusError) and error.status_code == 416:
                self._changed("the server cannot serve the rest of the file (416)")
            if self._expired(error):
                raise Failure(error, retryable=True, what=failed.what) from failed.__cause__
            raise
        assert response is not None
        if response.status_code != 206:
            response.close()
            self._changed("the file changed on the server since the partial download")
        if first is None:
            found = content_range(response.headers)
            response.close()
            response = None
            if found is None or found[2] != self.total:
                self._changed("the file on the server is no longer the one on disk")
        self._run_pieces(response)

    def _run_pieces(self, first: Optional[requests.Response]) -> None:
        assert self.pieces is not None
        assert self.total is not None
        assert self.validator
        run = PieceRun(
            self.transport,
            target=(self.url, self.url_params, self.authorized),
            part=self.target.part,
            pieces=self.pieces,
            total=self.total,
            validator=self.validator,
            connections=self.connections or DEFAULT_CONNECTIONS,
            timeout=self.timeout,
            what=f"GET {self.path}",
            give_up=self._give_up,
            advance=self._advance_to,
            save=self._save_meta,
        )
        try:
            try:
                self.digest = run.run(first)
            finally:
                self.offset = run.done()
                self.furthest = max(self.furthest, self.offset)
        except _FileChanged as exc:
            self._changed(str(exc))
        except _Expired as exc:
            self._expired(exc.error)
            raise Failure(exc.error, retryable=True, what=f"GET {self.path}") from None
        except TogetherError as exc:  # a piece spent its budget: the download stops here
            raise Failure(exc, retryable=False) from exc

    def _changed(self, why: str) -> None:
        """The pieces belong to another version of the file: start again from nothing."""
        self._discard_part()
        raise Failure(
            DownloadError(f"download of {self.label}: {why}; starting again"),
            retryable=True,
            what=f"GET {self.path}",
        )

    def _expired(self, error: TogetherError) -> bool:
        """A presigned URL may have expired (403/404): the next try asks the API again."""
        if not isinstance(error, APIStatusError) or error.status_code not in (403, 404):
            return False
        if self.url == self.transport.url(self.path):
            return False
        self.url, self.url_params, self.authorized = self._api_target()
        return True

    def _advance_to(self, done: int) -> None:
        self.offset = done
        if self.progress is not None:
            self.progress(done, self.total)

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
            found = content_range(headers)
            if found is None or found[0] != self.offset:
                self._restart()
                raise _Restart("the answer does not continue the partial file")
            length = content_length(headers)
            if length is not None and length != found[1] - found[0] + 1:
                raise _Restart(f"the answer's Content-Length ({length}) contradicts its range")
            total = found[2]
            # The size seen so far, or, on a first answer, the size announced beforehand.
            announced = self.total if self.total is not None else self.announced
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
                now = self.total  # read before the discard resets it
                self._discard_part()
                raise Failure(
                    DownloadError(
                        f"the server's file changed size ({self.announced} -> "
                        f"{now if now is not None else '?'} bytes) during the "
                        f"download of {self.label}; the partial file was discarded, try again"
                    ),
                    retryable=False,
                )
        if response.status_code == 206 and self.offset == 0:
            self.checksum = checksum_header(headers)  # the probe of a fresh download
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
                complete = pump(response, f, self)
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

    def advance(self, size: int) -> None:
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
        digest = self.digest if self.pieces is not None and self.digest else self.hasher.hexdigest()
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


class _Restart(Exception):
    """Internal: the server's answer does not continue our file; start again."""
