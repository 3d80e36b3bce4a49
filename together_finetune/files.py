"""``client.files``: upload, list, retrieve, delete and download data files.

Uploads use the flow the live API serves (not the spec's ``POST /files/upload``):
``POST /files`` with form fields only answers ``302`` to a presigned storage URL;
the bytes are ``PUT`` there, streamed from disk; ``POST /files/{id}/preprocess``
returns the file object. Files over :data:`MULTIPART_THRESHOLD` go up in parts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import ipaddress
import math
import os
import re
import threading
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    Union,
    cast,
)
from urllib.parse import urljoin, urlsplit

import attrs
import requests
import urllib3
from cattrs.gen import make_dict_structure_fn, override

from . import converter as _converter
from ._resource import FILE_ID_PREFIX, Resource, check_file_id, path_segment
from .converter import decode
from .dataset import MAX_FILE_SIZE, DatasetError, check_dataset
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    TogetherError,
)
from .transport import (
    RETRYABLE_STATUSES,
    Timeout,
    Transport,
    describe_transport_error,
    logger,
    parse_retry_after,
    redacted_copy,
)

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

#: Files larger than this (5 GiB) are uploaded in parts.
MULTIPART_THRESHOLD = 5 * (1 << 30)
#: Target size of one part (250 MiB); at most :data:`MAX_PARTS` parts.
PART_SIZE = 250 * (1 << 20)
MIN_PART_SIZE = 5 * (1 << 20)
MAX_PARTS = 250
#: Parts sent at once.
PART_CONCURRENCY = 4
#: Bytes read from disk per chunk.
CHUNK_SIZE = 1 << 20
#: Redirects followed for one PUT to storage.
MAX_REDIRECTS = 20

#: ``progress(bytes_sent, total)``.
UploadProgress = Callable[[int, int], None]

_FILE_TYPES = ("jsonl", "parquet", "csv")
_SERVER_FILE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
    }
)
_MAYBE_STORED = "The file may have been registered: check client.files.list() before trying again."


@attrs.frozen
class FileObject:
    """A file stored with Together (``FileResponse`` on the wire).

    :param id: the file ID (``file-...``), what ``training_file`` takes.
    :param filename: the name it was uploaded under.
    :param bytes: its size.
    :param created_at: when it was uploaded, in epoch seconds.
    :param purpose: ``"fine-tune"``, ``"eval"``, ...
    :param file_type: ``"jsonl"``, ``"parquet"`` or ``"csv"`` (``FileType`` on the wire).
    :param processed: whether the API has processed it (``Processed`` on the wire).
    :param processing_status: ``PENDING``, ``QUEUED``, ``RUNNING``, ``COMPLETED``,
        ``FAILED`` or ``INVALID_FORMAT`` (sent by the preprocess step).
    :param validation_report: the server's validation report, as sent.
    """

    id: str
    object: str = "file"
    filename: Optional[str] = None
    bytes: Optional[int] = None
    created_at: Optional[int] = None
    purpose: Optional[str] = None
    file_type: Optional[str] = None
    processed: Optional[bool] = None
    processing_status: Optional[str] = None
    validation_report: Optional[Any] = None


@attrs.frozen
class FileDeleteResult:
    """The answer to ``DELETE /files/{id}``."""

    id: str
    deleted: bool = True


class UploadError(TogetherError):
    """An upload failed between the API's steps (the storage PUT, a malformed answer)."""


def _structure_any(value: Any, _: Any) -> Any:
    return value


_converter.converter.register_structure_hook(
    FileObject,
    make_dict_structure_fn(
        FileObject,
        _converter.converter,
        file_type=override(rename="FileType"),
        processed=override(rename="Processed"),
        validation_report=override(struct_hook=_structure_any),
    ),
)


def _decode_file(body: Any) -> FileObject:
    """Decode a file object; the snake_case spellings are accepted too."""
    if isinstance(body, dict):
        data = dict(body)
        if "FileType" not in data and "file_type" in data:
            data["FileType"] = data.pop("file_type")
        if "Processed" not in data and "processed" in data:
            data["Processed"] = data.pop("processed")
        body = data
    return decode(body, FileObject)


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


class _FileSlice:
    """``length`` bytes of a file from ``offset``, as an iterable body with a length.

    ``requests`` sends it with ``Content-Length`` and reads it chunk by chunk, so
    memory stays flat whatever the size.
    """

    def __init__(
        self, path: Path, offset: int, length: int, on_chunk: Callable[[int], None]
    ) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self.on_chunk = on_chunk

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        remaining = self.length
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while remaining > 0:
                chunk = f.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise UploadError(f"{self.path} became shorter while it was being uploaded")
                remaining -= len(chunk)
                yield chunk
                self.on_chunk(len(chunk))


def _proxies_for(url: str) -> Dict[str, Optional[str]]:
    """Proxies for a storage URL by the environment (``NO_PROXY`` included), not the API's.

    The session resolves proxies once, for the API's host; ``None`` values drop the
    session's entries for a host that ``NO_PROXY`` exempts.
    """
    import requests.utils

    found: Dict[str, Optional[str]] = {"http": None, "https": None}
    found.update(requests.utils.get_environ_proxies(url))
    return found


def _strip_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Auth hook for storage requests: never send credentials (not even from ``.netrc``)."""
    request.headers.pop("Authorization", None)
    return request


class _Progress:
    """Thread-safe byte counter; a retried chunk is counted again only once it passes the mark."""

    def __init__(self, total: int, callback: Optional[UploadProgress]) -> None:
        self.total = total
        self.callback = callback
        self.done = 0
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Make every part still being sent stop at its next chunk."""
        self._cancelled.set()

    def add(self, size: int) -> None:
        if self._cancelled.is_set():
            raise UploadError("upload cancelled: another part failed or the upload was interrupted")
        with self._lock:
            self.done = min(self.total, self.done + size)
            done = self.done
        if self.callback is not None:
            self.callback(done, self.total)

    def rewind(self, size: int) -> None:
        with self._lock:
            self.done = max(0, self.done - size)


class Files(Resource):
    """The ``client.files`` namespace: data files for fine-tuning.

    The attributes :attr:`multipart_threshold`, :attr:`part_size` and
    :attr:`min_part_size` can be lowered (tests do) to exercise the multipart flow
    with small files.
    """

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        #: files larger than this many bytes are uploaded in parts
        self.multipart_threshold = MULTIPART_THRESHOLD
        #: target size of one part
        self.part_size = PART_SIZE
        #: smallest part (except the last)
        self.min_part_size = MIN_PART_SIZE

    # -- simple endpoints ------------------------------------------------------------------

    def list(self, *, timeout: Optional[Timeout] = None) -> List[FileObject]:
        """Every file of the account (``GET /files``)."""
        body = self._transport.request_json("GET", "/files", timeout=timeout)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise APIResponseValidationError(
                f"GET /files: expected an object with a 'data' list, got {str(body)[:100]}",
                body=body,
            )
        return [_decode_file(item) for item in body["data"]]

    def retrieve(self, id: str, *, timeout: Optional[Timeout] = None) -> FileObject:
        """One file's metadata (``GET /files/{id}``)."""
        path = self._file_path(id)
        return _decode_file(self._transport.request_json("GET", path, timeout=timeout))

    def delete(self, id: str, *, timeout: Optional[Timeout] = None) -> FileDeleteResult:
        """Delete a file (``DELETE /files/{id}``)."""
        path = self._file_path(id)
        return cast(
            "FileDeleteResult", self._call("DELETE", path, FileDeleteResult, timeout=timeout)
        )

    def content(
        self,
        id: str,
        output: Union[str, os.PathLike[str]],
        *,
        overwrite: bool = False,
        timeout: Optional[Timeout] = None,
    ) -> Path:
        """Download a file's content to ``output`` (``GET /files/{id}/content``).

        Same engine as model downloads: the bytes stream into ``<output>.part``, a
        dropped connection resumes, the size is verified, and the file is renamed into
        place only when complete, so ``output`` never holds a partial file.

        :returns: the path written.
        :raises DownloadError: ``output`` exists (without ``overwrite``), its directory
            does not, or the download could not be completed.
        """
        from .download import download_to_file

        final, _size, _digest = download_to_file(
            self._transport,
            self._file_path(id, "/content"),
            Path(os.fspath(output)),
            overwrite=overwrite,
            label=id,
            timeout=timeout,
        )
        return final

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

        :param file_type: ``"jsonl"``, ``"parquet"`` or ``"csv"``; by default from the
            extension.
        :param if_exists: when the API already holds an identical file (``409``):
            ``"return"`` it (the default) or raise :class:`ConflictError`.
        :param progress: called as ``progress(bytes_sent, total)``.
        :raises DatasetError: the local check failed (nothing was sent).
        :raises UploadError: the storage upload failed or the API answered unexpectedly.
        """
        source = Path(os.fspath(path))
        if if_exists not in ("return", "error"):
            raise ValueError(f"if_exists must be 'return' or 'error', got {if_exists!r}")
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
        checksum = sha256_file(source)
        counter = _Progress(size, progress)
        if size > self.multipart_threshold:
            uploaded = self._upload_multipart(
                source, size, purpose, file_type, checksum, if_exists, counter, timeout
            )
        else:
            uploaded = self._upload_single(
                source, size, purpose, file_type, checksum, if_exists, counter, timeout
            )
        return uploaded

    def _upload_single(
        self,
        source: Path,
        size: int,
        purpose: str,
        file_type: str,
        checksum: str,
        if_exists: str,
        counter: _Progress,
        timeout: Optional[Timeout],
    ) -> FileObject:
        fields = {
            "purpose": purpose,
            "file_name": source.name,
            "file_type": file_type,
            "checksum": checksum,
        }
        body, content_type = urllib3.encode_multipart_formdata(fields)
        try:
            response = self._transport.request(
                "POST",
                "/files",
                content=body,
                headers={"Content-Type": content_type},
                idempotent=False,
                allow_redirects=False,
                uncertain_hint=_MAYBE_STORED,
                timeout=timeout,
            )
        except ConflictError as exc:
            return self._existing(exc, if_exists, timeout)
        try:
            location = response.headers.get("Location")
            file_id = response.headers.get("X-Together-File-Id")
        finally:
            response.close()
        if not location or not file_id:
            raise UploadError(
                f"POST /files answered {response.status_code} without "
                f"{'Location' if not location else 'X-Together-File-Id'}",
                request_id=response.headers.get("x-request-id"),
            )
        file_id = self._server_file_id(file_id)
        self._put(location, source, 0, size, {}, counter, timeout)
        preprocess = "/files/" + path_segment(file_id) + "/preprocess"
        return _decode_file(
            self._transport.request_json(
                "POST",
                preprocess,
                idempotent=False,
                uncertain_hint=(
                    f"The file {file_id} is uploaded; call client.files.retrieve({file_id!r}) "
                    "to see whether it was processed."
                ),
                timeout=timeout,
            )
        )

    def _upload_multipart(
        self,
        source: Path,
        size: int,
        purpose: str,
        file_type: str,
        checksum: str,
        if_exists: str,
        counter: _Progress,
        timeout: Optional[Timeout],
    ) -> FileObject:
        num_parts = max(1, min(MAX_PARTS, math.ceil(size / self.part_size)))
        part_size = max(math.ceil(size / num_parts), self.min_part_size)
        num_parts = math.ceil(size / part_size)
        try:
            started = self._transport.request_json(
                "POST",
                "/files/multipart/initiate",
                json_body={
                    "file_name": source.name,
                    "file_size": size,
                    "num_parts": num_parts,
                    "purpose": purpose,
                    "file_type": file_type,
                    "checksum": checksum,
                },
                idempotent=False,
                uncertain_hint=_MAYBE_STORED,
                timeout=timeout,
            )
        except ConflictError as exc:
            return self._existing(exc, if_exists, timeout)
        if not isinstance(started, dict):
            raise UploadError(f"POST /files/multipart/initiate answered {str(started)[:100]}")
        upload_id = started.get("upload_id")
        file_id = started.get("file_id")
        if not isinstance(upload_id, str) or not upload_id or not isinstance(file_id, str):
            raise UploadError(
                "POST /files/multipart/initiate answered without upload_id or file_id"
            )
        abort = {"upload_id": upload_id, "file_id": file_id}
        try:
            file_id = self._server_file_id(file_id)
            parts = _parse_parts(started.get("parts"), num_parts)
            etags = self._put_parts(source, size, part_size, parts, counter, timeout)
        except BaseException:
            self._abort(abort, timeout)
            raise
        try:
            done = self._transport.request_json(
                "POST",
                "/files/multipart/complete",
                json_body={
                    "upload_id": upload_id,
                    "file_id": file_id,
                    "parts": [
                        {"part_number": number, "etag": etags[number]} for number in sorted(etags)
                    ],
                },
                idempotent=False,
                uncertain_hint=_MAYBE_STORED,
                timeout=timeout,
            )
        except APIStatusError as exc:
            # Only a refusal proves the parts were not assembled; after a dropped
            # connection or a 5xx the file may exist, and an abort could break it.
            if 400 <= exc.status_code < 500:
                self._abort(abort, timeout)
            raise
        if isinstance(done, dict) and isinstance(done.get("file"), dict):
            done = done["file"]
        return _decode_file(done)

    def _put_parts(
        self,
        source: Path,
        size: int,
        part_size: int,
        parts: List[Tuple[int, str, Dict[str, str]]],
        counter: _Progress,
        timeout: Optional[Timeout],
    ) -> Dict[int, str]:
        def send(number: int, url: str, headers: Dict[str, str]) -> Tuple[int, str]:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            response_headers = self._put(url, source, offset, length, headers, counter, timeout)
            etag = response_headers.get("ETag", "").strip().strip('"')
            if not etag:
                raise UploadError(f"storage answered part {number} without an ETag")
            return number, etag

        etags: Dict[int, str] = {}
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=PART_CONCURRENCY, thread_name_prefix="together-upload"
        ) as pool:
            futures = [pool.submit(send, number, url, headers) for number, url, headers in parts]
            try:
                for future in concurrent.futures.as_completed(futures):
                    number, etag = future.result()
                    etags[number] = etag
            except BaseException:
                # Parts not started are dropped; parts being sent stop at their next chunk,
                # so leaving the pool does not wait for hundreds of MiB to go out.
                counter.cancel()
                for future in futures:
                    future.cancel()
                raise
        return etags

    def _abort(self, body: Dict[str, Any], timeout: Optional[Timeout]) -> None:
        """Best effort: tell the API to drop the parts of a failed multipart upload."""
        with contextlib.suppress(TogetherError):
            self._transport.request(
                "POST", "/files/multipart/abort", json_body=body, idempotent=True, timeout=timeout
            ).close()

    def _existing(
        self, exc: ConflictError, if_exists: str, timeout: Optional[Timeout]
    ) -> FileObject:
        body = exc.body
        file_id = body.get("file_id") if isinstance(body, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise exc
        if if_exists == "error":
            raise ConflictError(
                f"an identical file already exists: {file_id}",
                status_code=exc.status_code,
                body=exc.body,
                request_id=exc.request_id,
            ) from exc
        file_id = self._server_file_id(file_id)
        logger.info("an identical file already exists: %s", file_id)
        return _decode_file(
            self._transport.request_json("GET", "/files/" + path_segment(file_id), timeout=timeout)
        )

    # -- the PUT to storage ----------------------------------------------------------------

    def _put(
        self,
        url: str,
        source: Path,
        offset: int,
        length: int,
        headers: Mapping[str, str],
        counter: _Progress,
        timeout: Optional[Timeout],
    ) -> Mapping[str, str]:
        """PUT bytes to a presigned URL (retried, redirects replayed); the answer's headers."""
        transport = self._transport
        policy = transport.retry
        send_timeout = timeout if timeout is not None else transport.timeout
        attempt = 0
        while True:
            attempt += 1
            sent = 0

            def on_chunk(size: int) -> None:
                nonlocal sent
                sent += size
                counter.add(size)

            retry_after: Optional[float] = None
            try:
                status, answer = self._put_once(
                    url, source, offset, length, headers, on_chunk, send_timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure: Optional[requests.RequestException] = exc
            else:
                failure = None
                if status == 200:
                    return answer
                error: TogetherError = UploadError(
                    f"storage answered {status} to the upload PUT of {source.name}"
                )
                retry_after = parse_retry_after(answer)
                retryable = status in RETRYABLE_STATUSES and (
                    retry_after is None or retry_after <= policy.max_retry_after
                )
            if failure is not None:
                error_cls = (
                    APITimeoutError if isinstance(failure, requests.Timeout) else APIConnectionError
                )
                # Never quote requests' message: it holds the presigned URL and its signature.
                error = error_cls(
                    f"upload PUT of {source.name} to storage failed: "
                    f"{describe_transport_error(failure)}"
                )
                error.__cause__ = redacted_copy(failure)
                retryable = True
            counter.rewind(sent)
            if not retryable or attempt > policy.max_retries:
                error.attempts = attempt
                raise error
            wait = policy.wait(attempt, retry_after)
            logger.info(
                "retrying the upload PUT of %s in %.2f s (attempt %d of %d)",
                source.name,
                wait,
                attempt,
                policy.max_retries + 1,
            )
            transport.sleep(wait)

    def _put_once(
        self,
        url: str,
        source: Path,
        offset: int,
        length: int,
        headers: Mapping[str, str],
        on_chunk: Callable[[int], None],
        timeout: Any,
    ) -> Tuple[int, Mapping[str, str]]:
        session = self._transport.session
        for _ in range(MAX_REDIRECTS + 1):
            self._check_storage_url(url)
            send_headers = {
                "Content-Length": str(length),
                "Content-Type": "application/octet-stream",
            }
            send_headers.update(headers)
            response = session.request(
                "PUT",
                url,
                data=_FileSlice(source, offset, length, on_chunk),
                headers=send_headers,
                auth=_strip_auth,
                allow_redirects=False,
                timeout=timeout,
                # None values drop the session's entries (requests' merge_setting).
                proxies=_proxies_for(url),  # type: ignore[arg-type]
            )
            with response:
                location = response.headers.get("Location")
                if response.status_code in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    continue
                # Read the (small) answer so the connection goes back to the pool.
                response.content  # noqa: B018
                return response.status_code, response.headers
        raise UploadError(f"more than {MAX_REDIRECTS} redirects while uploading {source.name}")

    def _check_storage_url(self, url: str) -> None:
        """Refuse presigned URLs that could leak the file somewhere it should not go."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise UploadError(f"the API handed out a malformed upload URL: {exc}") from exc
        local_api = urlsplit(self._transport.base_url).scheme == "http"
        if parts.scheme != "https" and not (parts.scheme == "http" and local_api):
            raise UploadError(f"refusing to upload to a non-https URL ({parts.scheme}://...)")
        if not host:
            raise UploadError("refusing to upload to a URL without a host name")
        host = host.lower().rstrip(".")
        if host in _METADATA_HOSTS:
            raise UploadError(f"refusing to upload to a cloud metadata host ({host})")
        try:
            address: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]] = (
                ipaddress.ip_address(host)
            )
        except ValueError:
            address = None
        if address is not None and address.is_link_local:
            raise UploadError(f"refusing to upload to a link-local address ({host})")
        private = host == "localhost" or (address is not None and not address.is_global)
        if private and not local_api:
            raise UploadError(f"refusing to upload to a non-public address ({host})")

    # -- helpers ---------------------------------------------------------------------------

    def _file_path(self, file_id: str, suffix: str = "") -> str:
        return "/files/" + path_segment(check_file_id(file_id)) + suffix

    @staticmethod
    def _server_file_id(file_id: str) -> str:
        if not _SERVER_FILE_ID.match(file_id):
            raise UploadError(f"the API handed out a malformed file ID: {file_id[:80]!r}")
        return file_id


def _parse_parts(value: Any, expected: int) -> List[Tuple[int, str, Dict[str, str]]]:
    if not isinstance(value, list) or len(value) != expected:
        raise UploadError(
            f"the API announced {len(value) if isinstance(value, list) else 'no'} "
            f"upload parts where {expected} were asked for"
        )
    parts: List[Tuple[int, str, Dict[str, str]]] = []
    for item in value:
        if not isinstance(item, dict):
            raise UploadError(f"malformed upload part: {str(item)[:80]}")
        number = item.get("PartNumber", item.get("part_number"))
        url = item.get("URL", item.get("UploadURL"))
        headers = item.get("Headers") or {}
        if not isinstance(number, int) or not 1 <= number <= expected or not isinstance(url, str):
            raise UploadError(f"malformed upload part: {str(item)[:80]}")
        if not isinstance(headers, dict):
            raise UploadError(f"malformed headers for upload part {number}")
        parts.append((number, url, {str(k): str(v) for k, v in headers.items()}))
    if sorted(number for number, _, _ in parts) != list(range(1, expected + 1)):
        raise UploadError("the API announced upload parts that are not numbered 1 to n")
    return parts
