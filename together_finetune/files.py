"""``client.files``: upload, list, retrieve, delete and download data files.

Uploads use the flow the live API serves (not the spec's ``POST /files/upload``):
``POST /files`` with form fields only answers ``302`` to a presigned storage URL;
the bytes are ``PUT`` there, streamed from disk; ``POST /files/{id}/preprocess``
returns the file object. Files over :data:`MULTIPART_THRESHOLD` go up in parts.
The steps themselves live in the private ``_transfer.upload`` engine.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, List, Literal, Mapping, Optional, Union, cast

from ._checks import check_callback, check_flag
from ._polling import Deadline, check_poll_interval
from ._resource import (
    FILE_ID_PREFIX,
    Resource,
    check_file_id,
    path_segment,
)
from ._transfer.fetch import download_to_file
from ._transfer.progress import ProgressCallback, UploadCounter, download_progress
from ._transfer.progress import UploadProgress as UploadProgress  # importable as before
from ._transfer.upload import CHUNK_SIZE, MULTIPART_THRESHOLD, PartSizes, UploadSource, upload_file

# The engine owns the part sizes; importable from here as before.
from ._transfer.upload import MAX_PARTS as MAX_PARTS
from ._transfer.upload import MAX_REDIRECTS as MAX_REDIRECTS
from ._transfer.upload import MIN_PART_SIZE as MIN_PART_SIZE
from ._transfer.upload import PART_CONCURRENCY as PART_CONCURRENCY
from ._transfer.upload import PART_SIZE as PART_SIZE
from .converter import decode
from .dataset import MAX_FILE_SIZE, check_dataset
from .errors import APIResponseValidationError, DatasetError, UploadError, WaitTimeoutError
from .models import FileDeleteResult, FileObject, Listing
from .transport import Timeout, Transport

__all__ = [
    "CHUNK_SIZE",
    "FILE_ID_PREFIX",
    "MULTIPART_THRESHOLD",
    "FileDeleteResult",
    "FileObject",
    "Files",
    "UploadError",
    "check_file_id",
]

_FILE_TYPES = ("jsonl", "parquet", "csv")


def infer_file_type(path: Union[str, os.PathLike[str]]) -> str:
    """``jsonl``, ``parquet`` or ``csv`` from a file's extension; ``ValueError`` otherwise."""
    suffix = Path(os.fspath(path)).suffix.lower().lstrip(".")
    if suffix not in _FILE_TYPES:
        raise ValueError(
            f"cannot tell the file type of {os.fspath(path)!r} from its extension: "
            "use .jsonl, .parquet or .csv, or pass file_type="
        )
    return suffix


def sha256_file(path: Union[str, os.PathLike[str]]) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _refusal(found: FileObject) -> str:
    """Why the server refused a file: its ``error``, else the status."""
    report = found.validation_report
    status = found.processing_status.value if found.processing_status is not None else "?"
    reason = report.error if report is not None and report.error else None
    return f"file {found.id} is {status}: {reason}" if reason else f"file {found.id} is {status}"


class Files(Resource):
    """The ``client.files`` namespace: data files for fine-tuning.

    The attributes :attr:`multipart_threshold`, :attr:`part_size` and
    :attr:`min_part_size` can be lowered (tests do) to exercise the multipart flow
    with small files.

    Every method that sends a request also takes ``extra_headers=`` and
    ``extra_query=``, and those whose request has a JSON body ``extra_body=``: sent as
    given, merged last into each request to the API (a key replaces the field or
    parameter of the same name), for what this version does not type yet.
    ``extra_headers`` cannot set ``Authorization``.
    """

    def __init__(
        self, transport: Transport, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(transport)
        self._clock = clock
        #: files larger than this many bytes are uploaded in parts
        self.multipart_threshold = MULTIPART_THRESHOLD
        #: target size of one part
        self.part_size = PART_SIZE
        #: smallest part (except the last)
        self.min_part_size = MIN_PART_SIZE

    # -- simple endpoints ------------------------------------------------------------------

    def list(
        self,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Listing[FileObject]:
        """Every file of the account (``GET /files``)."""
        sender = self._sender(self._extras(extra_headers, extra_query))

        def decoded(body: Any) -> List[FileObject]:
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise APIResponseValidationError(
                    f"GET /files: expected an object with a 'data' list, got {str(body)[:100]}",
                    body=body,
                )
            return decode(body["data"], List[FileObject], consume=True)

        return Listing(sender.request_json("GET", "/files", timeout=timeout, then=decoded))

    def retrieve(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FileObject:
        """One file's metadata (``GET /files/{id}``)."""
        extras = self._extras(extra_headers, extra_query)
        path = self._file_path(id)
        return cast("FileObject", self._get(path, FileObject, extras=extras, timeout=timeout))

    def delete(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FileDeleteResult:
        """Delete a file (``DELETE /files/{id}``)."""
        extras = self._extras(extra_headers, extra_query)
        path = self._file_path(id)
        return cast(
            "FileDeleteResult",
            self._call("DELETE", path, FileDeleteResult, extras=extras, timeout=timeout),
        )

    def content(
        self,
        id: str,
        output: Union[str, os.PathLike[str]],
        *,
        overwrite: bool = False,
        progress: Union[bool, ProgressCallback, None] = None,
        timeout: Optional[Timeout] = None,
        lock_timeout: float = 300.0,
        connections: Optional[int] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Path:
        """Download a file's content to ``output`` (``GET /files/{id}/content``).

        Same engine as model downloads: the bytes stream into ``<output>.part``, a
        dropped connection resumes, the size is verified, and the file is renamed into
        place only when complete, so ``output`` never holds a partial file.

        :param progress: ``True`` for a progress bar on stderr (needs the
            ``progress`` extra), or a callback ``(bytes_done, total)``.
        :param lock_timeout: seconds to wait while another download writes ``output``.
        :param connections: ranged connections fetching the file at once (1 to 32);
            by default 4 for 64 MiB or more when the server answers ``Range``, else 1.
        :returns: the path written.
        :raises DownloadError: ``output`` exists (without ``overwrite``), its directory
            does not, or the download could not be completed.
        """
        path = self._file_path(id, "/content")
        extras = self._extras(extra_headers, extra_query)
        check_flag(overwrite, "overwrite")
        target = Path(os.fspath(output))
        with download_progress(progress, target.name) as callback:
            final, _size, _digest = download_to_file(
                self._sender(extras),
                path,
                target,
                overwrite=overwrite,
                label=id,
                progress=callback,
                timeout=timeout,
                lock_timeout=lock_timeout,
                connections=connections,
            )
        return final

    def wait_until_processed(
        self,
        id: str,
        *,
        timeout: Optional[float] = 600.0,
        poll_interval: float = 2.0,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FileObject:
        """Poll an uploaded file until the server has checked it; return it once valid.

        Reads ``GET /files/{id}`` until ``processing_status`` is final. A file
        without a ``processing_status`` (purposes the server does not check) is
        returned as it is.

        :param timeout: seconds to wait in all (``None``: for ever); then
            :class:`WaitTimeoutError`.
        :param poll_interval: seconds between reads.
        :returns: the file, ``COMPLETED``.
        :raises DatasetError: the server refused the file (``FAILED`` or
            ``INVALID_FORMAT``); the message is the server's ``error`` and
            ``.file`` the file object with its ``validation_report``.
        """
        file_id = check_file_id(id)
        extras = self._extras(extra_headers, extra_query)
        check_poll_interval(poll_interval)
        deadline = Deadline(self._clock, timeout)
        while True:
            found = self.retrieve(file_id, extra_headers=extras.headers, extra_query=extras.query)
            status = found.processing_status
            if status is None or status == "COMPLETED":
                return found
            if status.is_final:
                raise DatasetError(message=_refusal(found), file=found)
            if deadline.passed():
                raise WaitTimeoutError(
                    f"file {file_id} was still {status.value} after waiting {timeout:g} s",
                    job=None,
                )
            self._transport.sleep(deadline.pause(poll_interval))

    # -- upload ----------------------------------------------------------------------------

    def upload(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        purpose: str = "fine-tune",
        file_type: Optional[str] = None,
        check: bool = True,
        if_exists: Literal["return", "error"] = "return",
        progress: Optional[UploadProgress] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> FileObject:
        """Upload a data file and return its :class:`FileObject`.

        1. With ``check=True`` (the default) :func:`check_dataset` runs first; a file
           that fails raises :class:`DatasetError` (with the report) and nothing is sent.
        2. ``POST /files`` registers the file (name, type, purpose, sha256) and answers
           with a presigned storage URL; the URL is checked before any byte goes out.
        3. The bytes are ``PUT`` there, streamed from disk with ``Content-Length`` and
           without the API key; a failed ``PUT`` is retried (it only overwrites the
           same object).
        4. ``POST /files/{id}/preprocess`` returns the file object.

        Files over 5 GiB go up in parts (``/files/multipart/...``, up to four parts at
        once; an upload that fails midway is aborted). Memory stays flat whatever the
        size. ``POST /files`` and the preprocess step are not idempotent: like job
        creation, they are retried only where the server certainly did nothing.

        :param purpose: ``"fine-tune"`` (the default), ``"eval"``, ``"batch-api"``, ...
            (:data:`~together_finetune.dataset.PURPOSES`). The fine-tuning formats are
            checked for ``"fine-tune"`` only; a purpose this version does not know is
            sent as given, and the API decides.
        :param file_type: ``"jsonl"``, ``"parquet"`` or ``"csv"``; by default from the
            extension.
        :param if_exists: when the API already holds an identical file (``409``):
            ``"return"`` it (the default) or raise :class:`ConflictError`.
        :param progress: called as ``progress(bytes_sent, total)``.
        :param extra_headers: headers added to each request to the API (not to storage).
        :param extra_query: query parameters added likewise.
        :raises DatasetError: the local check failed (nothing was sent).
        :raises UploadError: the storage upload failed or the API answered unexpectedly.
        """
        source = Path(os.fspath(path))
        extras = self._extras(extra_headers, extra_query)
        if if_exists not in ("return", "error"):
            raise ValueError(f"if_exists must be 'return' or 'error', got {if_exists!r}")
        check_callback(progress, "progress")
        check_flag(check, "check")
        if not isinstance(purpose, str) or not purpose.strip():
            raise ValueError(f"purpose must be a non-empty string, got {purpose!r}")
        if file_type is None:
            file_type = infer_file_type(source)
        elif file_type not in _FILE_TYPES:
            raise ValueError(f"file_type must be 'jsonl', 'parquet' or 'csv', got {file_type!r}")
        if not source.is_file():
            raise ValueError(f"{source} is not a regular file")
        size = source.stat().st_size
        if size == 0:
            raise ValueError(f"{source} is empty")
        if size > MAX_FILE_SIZE:
            raise ValueError(f"{source} is {size} bytes; at most {MAX_FILE_SIZE} are accepted")
        if check:
            report = check_dataset(source, purpose=purpose, file_type=file_type)
            if not report.ok:
                raise DatasetError(report)
        body = upload_file(
            self._sender(extras),
            UploadSource(source, size, purpose, file_type, sha256_file(source)),
            sizes=PartSizes(self.multipart_threshold, self.part_size, self.min_part_size),
            if_exists=if_exists,
            counter=UploadCounter(size, progress),
            timeout=timeout,
        )
        return decode(body, FileObject)

    def _file_path(self, file_id: str, suffix: str = "") -> str:
        return "/files/" + path_segment(check_file_id(file_id)) + suffix
