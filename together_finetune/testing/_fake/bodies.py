"""Download bodies: exact or synthetic bytes, served with ``Range``/``If-Range``/``ETag``.

Both servers send bodies through one :class:`BodyServer`, so its knobs (ignore ``Range``,
announce a wrong length, add a checksum header, cut the body short, cap each connection's
bandwidth) govern redirected downloads and file contents too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from typing import cast

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.errors import error_body
from together_finetune.testing._fake.http import CLOSE_AFTER, DropConnection, json_response
from together_finetune.testing.archive import synthetic_bytes

__all__ = ["Body", "BodyServer", "DownloadSpec", "pace"]

_CHUNK = 64 * 1024
_LAST_MODIFIED = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)


class Body:
    """A download body: exact bytes or a synthetic body generated on the fly."""

    def __init__(self, data: bytes | None = None, size: int | None = None) -> None:
        """Serve ``data``, or ``size`` bytes of :func:`synthetic_bytes` (give exactly one)."""
        if (data is None) == (size is None):
            raise ValueError("give exactly one of data= or size=")
        self.data = data
        self.size = len(data) if data is not None else int(size or 0)
        self._sha256: str | None = None

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        length = max(0, min(length, self.size - offset))
        if self.data is not None:
            return self.data[offset : offset + length]
        return synthetic_bytes(offset, length)

    def content_id(self) -> str:
        """A digest naming the content (cheap for synthetic bodies)."""
        if self.data is not None:
            return self.sha256()
        return hashlib.sha256(f"synthetic:{self.size}".encode()).hexdigest()

    def sha256(self) -> str:
        """The SHA-256 of the whole body, hex."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            for offset in range(0, self.size, 1024 * 1024):
                digest.update(self.read(offset, 1024 * 1024))
            self._sha256 = digest.hexdigest()
        return self._sha256


class _BodyStream:
    """A seekable iterable over a :class:`Body` (werkzeug's range wrapper seeks it)."""

    def __init__(self, body: Body) -> None:
        self._body = body
        self._position = 0

    def __iter__(self) -> _BodyStream:
        return self

    def __next__(self) -> bytes:
        chunk = self._body.read(self._position, _CHUNK)
        if not chunk:
            raise StopIteration
        self._position += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = offset if whence == 0 else self._position + offset
        return self._position

    def tell(self) -> int:
        return self._position


@dataclass
class DownloadSpec:
    """What to serve, and for which ``checkpoint``/``checkpoint_step`` (``None``: any)."""

    body: Body
    content_type: str = "application/octet-stream"
    etag: str | None = "auto"
    checkpoint: str | None = None
    step: int | None = None


class BodyServer:
    """Serves download bodies under the download knobs, and counts the bytes sent."""

    def __init__(self) -> None:
        """Start with every knob off."""
        #: answer 200 with the whole body even to Range requests
        self.ignores_range = False
        #: announce this Content-Length while sending the real bytes
        self.wrong_length: int | None = None
        #: answers also carry ``x-checksum-sha256`` (of the whole body, even for a range)
        self.checksum_header = False
        #: body bytes sent so far
        self.bytes_sent = 0
        #: cap of each answer's body, in bytes per second (``None``: as fast as possible)
        self.throttle: int | None = None
        self._etag_generation = 0
        self._cuts: list[list[int]] = []  # [after_bytes, times left]
        self._lock = threading.Lock()

    def cut(self, after_bytes: int, times: int) -> None:
        """Cut the next ``times`` bodies after ``after_bytes`` bytes (headers stay full)."""
        with self._lock:
            self._cuts.append([after_bytes, times])

    def change_etag(self) -> None:
        """Make later answers carry a different ETag and Last-Modified."""
        with self._lock:
            self._etag_generation += 1

    def serve(self, request: Request, spec: DownloadSpec) -> Response:
        """Answer ``request`` with ``spec``'s body, honouring Range, If-Range and the knobs."""
        with self._lock:
            generation = self._etag_generation
        body = spec.body
        response = Response(_BodyStream(body), status=200, direct_passthrough=True)
        response.headers["Content-Type"] = spec.content_type
        response.headers["Content-Length"] = str(body.size)
        if spec.etag == "auto":
            response.set_etag(body.content_id()[:32] + (f"-g{generation}" if generation else ""))
        elif spec.etag is not None:
            quoted = spec.etag.startswith(('"', "W/"))
            response.headers["ETag"] = spec.etag if quoted else f'"{spec.etag}"'
        response.headers["Last-Modified"] = format_datetime(
            _LAST_MODIFIED + _dt.timedelta(seconds=generation), usegmt=True
        )
        try:
            response.make_conditional(
                request, accept_ranges=not self.ignores_range, complete_length=body.size
            )
        except RequestedRangeNotSatisfiable:
            return json_response(
                416,
                error_body("Requested range not satisfiable", param="Range"),
                {"Content-Range": f"bytes */{body.size}"},
            )
        if self.ignores_range:
            response.headers["Accept-Ranges"] = "none"
        if self.checksum_header and response.status_code in (200, 206):  # the whole body's
            response.headers["x-checksum-sha256"] = body.sha256()
        if self.wrong_length is not None:
            response.headers["Content-Length"] = str(self.wrong_length)
            request.environ[CLOSE_AFTER] = True
        if request.method != "HEAD" and response.status_code in (200, 206):
            chunks = cast("Iterable[bytes]", response.response)
            response.response = self._counted(chunks, self._take_cut())
        return response

    def _take_cut(self) -> int | None:
        with self._lock:
            for entry in self._cuts:
                if entry[1] > 0:
                    entry[1] -= 1
                    return entry[0]
        return None

    def _counted(self, chunks: Iterable[bytes], cut: int | None) -> Iterator[bytes]:
        # Counted before each write, so a client that has read every byte never sees a
        # count that lags behind it.
        sent = 0
        started = time.monotonic()
        for chunk in chunks:
            pace(self.throttle, started, sent + len(chunk))
            if cut is not None and sent + len(chunk) >= cut:
                chunk = chunk[: cut - sent]
                if chunk:
                    self._count(len(chunk))
                    yield chunk
                raise DropConnection()
            self._count(len(chunk))
            yield chunk
            sent += len(chunk)

    def _count(self, size: int) -> None:
        with self._lock:
            self.bytes_sent += size


def pace(throttle: int | None, started: float, total: int) -> None:
    """Sleep until ``total`` bytes may have passed since ``started`` at ``throttle`` bytes/s.

    Each answer is paced on its own, so the cap is per connection, like object storage's.
    """
    if throttle:
        delay = started + total / throttle - time.monotonic()
        if delay > 0:
            time.sleep(delay)
