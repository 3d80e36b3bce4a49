"""Downloading from a presigned storage URL the API hands out, with the stream engine.

The stream engine's download, aimed at a URL from ``locate()`` instead of an API path:
no ``Authorization`` is sent (the key never reaches the storage host), the URL is
checked like an upload's (https, a public host), an expired URL (403/404) is asked
for again, and the file must have the size the API announced. Resume (``.part``),
the target lock and the atomic rename are the engine's. Messages never quote the URL:
its query string is the signature.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from ..errors import DownloadError
from .fetch import run_locked
from .lock import DEFAULT_LOCK_TIMEOUT
from .progress import ProgressCallback
from .segments import check_connections
from .stream import Stream, Target
from .upload import check_storage_url

if TYPE_CHECKING:  # pragma: no cover
    from ..transport import Timeout, Transport

__all__ = ["download_presigned", "safe_filename"]


def safe_filename(name: Optional[str], fallback: str) -> str:
    """A file name from server text that cannot leave its directory.

    Only the last path component is kept, characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, leading dots go (no hidden files, no ``..``).
    """
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    cleaned = cleaned.replace("..", "_")[:200]
    return cleaned if cleaned.strip("._-") else fallback


class _PresignedStream(Stream):
    """The engine's download from a URL ``locate()`` gives, without credentials."""

    def __init__(self, locate: Callable[[], str], *args: Any, **kwargs: Any) -> None:
        self.locate = locate  # before the engine asks for its first target
        super().__init__(*args, **kwargs)

    def _api_target(self) -> Tuple[str, Optional[Dict[str, Any]], bool]:
        url = self.locate()
        check_storage_url(url, self.transport.base_url, action="download from", error=DownloadError)
        return url, None, False  # the engine asks again after a 403 or 404


def download_presigned(
    transport: Transport,
    locate: Callable[[], str],
    *,
    source: str,
    output: Path,
    expected_size: Optional[int],
    overwrite: bool,
    label: str,
    progress: Optional[ProgressCallback] = None,
    timeout: Optional[Timeout] = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    connections: Optional[int] = None,
) -> Tuple[Path, int, str]:
    """Stream the file at the presigned URL ``locate()`` returns into ``output``.

    ``connections`` and ``lock_timeout`` mean what they mean for ``stream_download``.

    :param source: what the download is, stable across calls (an API path): a later
        call resumes the ``.part`` an earlier one left, although each call gets a
        freshly signed URL.
    :param expected_size: the size the API announced; a file of another size is an
        error and nothing is placed at ``output``.
    :returns: the path, the size and the sha256 hex digest.
    """
    check_connections(connections)
    if output.exists() and not overwrite:
        raise DownloadError(f"{output} already exists (pass overwrite=True to replace it)")
    try:  # as for a model download: missing parent directories are made
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot make the output directory {output.parent}: {exc.strerror or exc}"
        ) from exc
    target = Target(output.parent, None, output)

    def stream() -> _PresignedStream:
        built = _PresignedStream(
            locate,
            transport,
            source,
            None,
            target,
            progress,
            timeout,
            label=label,
            connections=connections,
        )
        built.announced = expected_size  # a file of another size ends the download
        return built

    # The engine's lock, as stream_download takes it: one download per target at a time.
    return run_locked(transport, target, stream, overwrite=overwrite, lock_timeout=lock_timeout)
