"""The storage upload: register a file, ``PUT`` its bytes to presigned URLs, finish it.

The flow the live API serves (not the spec's ``POST /files/upload``): ``POST /files``
with form fields only answers ``302`` to a presigned storage URL; the bytes are
``PUT`` there, streamed from disk; ``POST /files/{id}/preprocess`` returns the file
object. Files over the multipart threshold go up in parts (``/files/multipart/...``).
The engine returns the file object's JSON; the caller decodes it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import math
import re
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Type,
    Union,
)
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from .._network import certificate_failure
from .._redact import describe_transport_error, redacted_copy
from .._retry import Failure
from .._retry import call as retry_call
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    TogetherError,
    UploadError,
)
from ..transport import RETRYABLE_STATUSES, Timeout, Transport, logger, parse_retry_after
from .progress import UploadCounter

__all__ = [
    "CHUNK_SIZE",
    "MAX_PARTS",
    "MIN_PART_SIZE",
    "MULTIPART_THRESHOLD",
    "PART_SIZE",
    "PartSizes",
    "UploadSource",
    "check_storage_url",
    "upload_file",
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


class UploadSource(NamedTuple):
    """A checked local file and what the API is told about it."""

    path: Path
    size: int
    purpose: str
    file_type: str
    checksum: str


class PartSizes(NamedTuple):
    """When a file goes up in parts, and how big they are."""

    multipart_threshold: int = MULTIPART_THRESHOLD
    part_size: int = PART_SIZE
    min_part_size: int = MIN_PART_SIZE


def upload_file(
    transport: Transport,
    source: UploadSource,
    *,
    sizes: PartSizes,
    if_exists: str,
    counter: UploadCounter,
    timeout: Optional[Timeout],
) -> Any:
    """Upload ``source`` and return the JSON of the file object the API answered with.

    :param if_exists: on a ``409`` for an identical file: ``"return"`` that file's JSON,
        or ``"error"`` to raise :class:`ConflictError`.
    """
    upload = _Upload(transport, source, counter, if_exists, timeout)
    if source.size > sizes.multipart_threshold:
        return upload.multipart(sizes)
    return upload.single()


class _Upload:
    """One upload's steps, sharing the transport, the source and the byte counter."""

    def __init__(
        self,
        transport: Transport,
        source: UploadSource,
        counter: UploadCounter,
        if_exists: str,
        timeout: Optional[Timeout],
    ) -> None:
        self.transport = transport
        self.source = source
        self.counter = counter
        self.if_exists = if_exists
        self.timeout = timeout

    def single(self) -> Any:
        source = self.source
        fields = {
            "purpose": source.purpose,
            "file_name": source.path.name,
            "file_type": source.file_type,
            "checksum": source.checksum,
        }
        body, content_type = urllib3.encode_multipart_formdata(fields)
        try:
            response = self.transport.request(
                "POST",
                "/files",
                content=body,
                headers={"Content-Type": content_type},
                idempotent=False,
                allow_redirects=False,
                uncertain_hint=_MAYBE_STORED,
                timeout=self.timeout,
            )
        except ConflictError as exc:
            return self.existing(exc)
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
        file_id = _server_file_id(file_id)
        self.put(location, 0, source.size, {})
        return self.transport.request_json(
            "POST",
            "/files/" + quote(file_id, safe="") + "/preprocess",
            idempotent=False,
            uncertain_hint=(
                f"The file {file_id} is uploaded; call client.files.retrieve({file_id!r}) "
                "to see whether it was processed."
            ),
            timeout=self.timeout,
        )

    def multipart(self, sizes: PartSizes) -> Any:
        source = self.source
        size = source.size
        num_parts = max(1, min(MAX_PARTS, math.ceil(size / sizes.part_size)))
        part_size = max(math.ceil(size / num_parts), sizes.min_part_size)
        num_parts = math.ceil(size / part_size)
        try:
            started = self.transport.request_json(
                "POST",
                "/files/multipart/initiate",
                json_body={
                    "file_name": source.path.name,
                    "file_size": size,
                    "num_parts": num_parts,
                    "purpose": source.purpose,
                    "file_type": source.file_type,
                    "checksum": source.checksum,
                },
                idempotent=False,
                uncertain_hint=_MAYBE_STORED,
                timeout=self.timeout,
            )
        except ConflictError as exc:
            return self.existing(exc)
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
            file_id = _server_file_id(file_id)
            parts = _parse_parts(started.get("parts"), num_parts)
            etags = self.put_parts(part_size, parts)
        except BaseException:
            self.abort(abort)
            raise
        try:
            done = self.transport.request_json(
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
                timeout=self.timeout,
            )
        except APIStatusError as exc:
            # Only a refusal proves the parts were not assembled; after a dropped
            # connection or a 5xx the file may exist, and an abort could break it.
            if 400 <= exc.status_code < 500:
                self.abort(abort)
            raise
        if isinstance(done, dict) and isinstance(done.get("file"), dict):
            done = done["file"]
        return done

    def put_parts(
        self, part_size: int, parts: List[Tuple[int, str, Dict[str, str]]]
    ) -> Dict[int, str]:
        size = self.source.size

        def send(number: int, url: str, headers: Dict[str, str]) -> Tuple[int, str]:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            response_headers = self.put(url, offset, length, headers)
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
                self.counter.cancel()
                for future in futures:
                    future.cancel()
                raise
        return etags

    def abort(self, body: Dict[str, Any]) -> None:
        """Best effort: tell the API to drop the parts of a failed multipart upload."""
        with contextlib.suppress(TogetherError):
            self.transport.request(
                "POST",
                "/files/multipart/abort",
                json_body=body,
                idempotent=True,
                timeout=self.timeout,
            ).close()

    def existing(self, exc: ConflictError) -> Any:
        """The JSON of the identical file a 409 names (or the error, as asked)."""
        body = exc.body
        file_id = body.get("file_id") if isinstance(body, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise exc
        if self.if_exists == "error":
            raise ConflictError(
                f"an identical file already exists: {file_id}",
                status_code=exc.status_code,
                body=exc.body,
                request_id=exc.request_id,
            ) from exc
        file_id = _server_file_id(file_id)
        logger.info("an identical file already exists: %s", file_id)
        return self.transport.request_json(
            "GET", "/files/" + quote(file_id, safe=""), timeout=self.timeout
        )

    # -- the PUT to storage ----------------------------------------------------------------

    def put(
        self, url: str, offset: int, length: int, headers: Mapping[str, str]
    ) -> Mapping[str, str]:
        """PUT bytes to a presigned URL (retried, redirects replayed); the answer's headers."""
        transport = self.transport
        name = self.source.path.name
        send_timeout = self.timeout if self.timeout is not None else transport.timeout

        def attempt() -> Mapping[str, str]:
            sent = 0

            def on_chunk(size: int) -> None:
                nonlocal sent
                sent += size
                self.counter.add(size)

            what = f"the upload PUT of {name}"
            try:
                status, answer = self.put_once(url, offset, length, headers, on_chunk, send_timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.counter.rewind(sent)
                untrusted = certificate_failure(exc, url)
                if untrusted is not None:  # it cannot heal by itself: never retried
                    raise Failure(untrusted, retryable=False, what=what) from redacted_copy(exc)
                error_cls = (
                    APITimeoutError if isinstance(exc, requests.Timeout) else APIConnectionError
                )
                # Never quote requests' message: it holds the presigned URL and its signature.
                error = error_cls(
                    f"upload PUT of {name} to storage failed: {describe_transport_error(exc)}"
                )
                raise Failure(error, retryable=True, what=what) from redacted_copy(exc)
            if status == 200:
                return answer
            self.counter.rewind(sent)
            retry_after = parse_retry_after(answer)
            retryable = status in RETRYABLE_STATUSES and (
                retry_after is None or retry_after <= transport.retry.max_retry_after
            )
            raise Failure(
                UploadError(f"storage answered {status} to the upload PUT of {name}"),
                retryable=retryable,
                retry_after=retry_after,
                what=what,
            )

        return retry_call(
            attempt,
            policy=transport.retry,
            sleep=transport.sleep,
            budget=transport.retry.max_retries,
        )

    def put_once(
        self,
        url: str,
        offset: int,
        length: int,
        headers: Mapping[str, str],
        on_chunk: Callable[[int], None],
        timeout: Any,
    ) -> Tuple[int, Mapping[str, str]]:
        source = self.source.path
        for _ in range(MAX_REDIRECTS + 1):
            check_storage_url(url, self.transport.base_url)
            send_headers = {
                "Content-Length": str(length),
                "Content-Type": "application/octet-stream",
            }
            send_headers.update(headers)
            # The transport's adapter picks the proxy for this URL (NO_PROXY included).
            response = self.transport.send(
                "PUT",
                url,
                data=_FileSlice(source, offset, length, on_chunk),
                headers=send_headers,
                auth=_strip_auth,
                allow_redirects=False,
                timeout=timeout,
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


def check_storage_url(
    url: str,
    api_base_url: str,
    *,
    action: str = "upload to",
    error: Type[TogetherError] = UploadError,
) -> None:
    """Refuse presigned URLs that could leak the file somewhere it should not go.

    Plain http is allowed only when the API itself is plain http, and private addresses
    only when the API itself is on a private address or plain http (a local fake server).

    :param action: how messages name what was refused (``"download from"``).
    :param error: what is raised (:class:`DownloadError` for downloads).
    :raises UploadError: naming what is wrong with the URL (never the URL itself).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        kind = "upload" if action == "upload to" else "download"
        raise error(f"the API handed out a malformed {kind} URL: {exc}") from exc
    api = urlsplit(api_base_url)
    local_api = api.scheme == "http"
    private_api = local_api or not _is_public(api.hostname or "")
    if parts.scheme != "https" and not (parts.scheme == "http" and local_api):
        raise error(f"refusing to {action} a non-https URL ({parts.scheme}://...)")
    if not host:
        raise error(f"refusing to {action} a URL without a host name")
    host = host.lower().rstrip(".")
    if host in _METADATA_HOSTS:
        raise error(f"refusing to {action} a cloud metadata host ({host})")
    try:
        address: Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]] = (
            ipaddress.ip_address(host)
        )
    except ValueError:
        address = None
    if address is not None and address.is_link_local:
        raise error(f"refusing to {action} a link-local address ({host})")
    private = host == "localhost" or (address is not None and not address.is_global)
    if private and not private_api:
        raise error(f"refusing to {action} a non-public address ({host})")


def _is_public(host: str) -> bool:
    """Whether ``host`` is a public name or address (not loopback or private)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True


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


def _strip_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Auth hook for storage requests: never send credentials (not even from ``.netrc``)."""
    request.headers.pop("Authorization", None)
    return request


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
