"""Downloading from a presigned storage URL the API handed out, with the stream engine.

The URL is checked like an upload's (https, a public host) at every redirect hop,
the GETs carry no ``Authorization`` (the key never reaches the storage host), and
the bytes go through :func:`~together_finetune._transfer.stream.stream_download`:
resumable ``.part``, verified size, atomic rename. Error messages never quote the
URL: its query string is the signature.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Tuple
from urllib.parse import urljoin

import requests

from .._redact import describe_transport_error, redacted_copy
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    DownloadError,
    TogetherError,
    error_class_for_status,
)
from ..transport import RETRYABLE_STATUSES, parse_retry_after
from .progress import ProgressCallback
from .stream import Fetch, Target, stream_download
from .upload import MAX_REDIRECTS, _proxies_for, _strip_auth, check_storage_url

if TYPE_CHECKING:  # pragma: no cover
    from ..transport import Timeout, Transport

__all__ = ["download_presigned", "safe_filename", "storage_fetch"]

_REDIRECTS = (301, 302, 303, 307, 308)


def safe_filename(name: Optional[str], fallback: str) -> str:
    """A file name from server text that cannot leave its directory.

    Only the last path component is kept, characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, leading dots go (no hidden files, no ``..``).
    """
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    cleaned = cleaned.replace("..", "_")[:200]
    return cleaned if cleaned.strip("._-") else fallback


def storage_fetch(transport: Transport, url: str) -> Fetch:
    """The GET of a presigned URL for the stream engine: no credentials, checked hops,
    retried on a connection failure or a retryable status like API calls are.

    :raises DownloadError: the URL is not one to download from (checked at once).
    """
    check_storage_url(url, transport.base_url, action="download from", error=DownloadError)
    policy = transport.retry

    def fetch(headers: Dict[str, str], timeout: Tuple[float, float]) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            retry_after: Optional[float] = None
            try:
                response = _get(transport, url, headers, timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = APITimeoutError if isinstance(exc, requests.Timeout) else APIConnectionError
                # Never quote requests' message: it holds the presigned URL.
                error: TogetherError = kind(
                    f"download from storage failed: {describe_transport_error(exc)}"
                )
                error.__cause__ = redacted_copy(exc)
                retryable = True
            else:
                status = response.status_code
                if status < 300:
                    return response
                retry_after = parse_retry_after(response.headers)
                response.close()
                error = error_class_for_status(status)(
                    f"storage answered {status} to the download",
                    status_code=status,
                    response=response,
                )
                retryable = status in RETRYABLE_STATUSES
            if not retryable or attempt > policy.max_retries:
                error.attempts = attempt
                raise error
            transport.sleep(policy.wait(attempt, retry_after))

    return fetch


def _get(
    transport: Transport, url: str, headers: Dict[str, str], timeout: Tuple[float, float]
) -> requests.Response:
    for _ in range(MAX_REDIRECTS + 1):
        check_storage_url(url, transport.base_url, action="download from", error=DownloadError)
        response = transport.session.request(
            "GET",
            url,
            headers=headers,
            stream=True,
            auth=_strip_auth,
            allow_redirects=False,
            timeout=timeout,
            proxies=_proxies_for(url),  # type: ignore[arg-type]
        )
        location = response.headers.get("Location")
        if response.status_code in _REDIRECTS and location:
            response.close()
            url = urljoin(url, location)
            continue
        return response
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects from the storage host")


def download_presigned(
    transport: Transport,
    url: str,
    *,
    source: str,
    output: Path,
    expected_size: Optional[int],
    overwrite: bool,
    label: str,
    progress: Optional[ProgressCallback] = None,
    timeout: Optional[Timeout] = None,
) -> Tuple[Path, int, str]:
    """Stream the presigned ``url`` into the file ``output`` (its directory must exist).

    :param source: what the download is, stable across calls (an API path): a later
        call resumes the ``.part`` of an earlier one for the same source, although
        each call gets a freshly signed URL.
    :returns: the path, the size and the sha256 hex digest.
    """
    if output.exists() and not overwrite:
        raise DownloadError(f"{output} already exists (pass overwrite=True to replace it)")
    return stream_download(
        transport,
        source,
        params=None,
        target=Target(output.parent, None, output),
        overwrite=overwrite,
        label=label,
        progress=progress,
        timeout=timeout,
        fetch=storage_fetch(transport, url),
        expected_size=expected_size,
    )
