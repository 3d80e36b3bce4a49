"""Downloading a URL path into a file: the entry points of the download engine.

:func:`stream_download` locks the target (``lock.py``) and runs one :class:`~.stream.Stream`
(one connection, or ranged pieces over several: ``segments.py``); :func:`download_to_file`
checks a file path first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from ..errors import DownloadError
from .lock import DEFAULT_LOCK_TIMEOUT, TargetLock
from .progress import ProgressCallback
from .segments import check_connections
from .stream import Stream
from .target import Target, finished_meanwhile

if TYPE_CHECKING:  # pragma: no cover
    from ..transport import Timeout, Transport

__all__ = ["download_to_file", "run_locked", "stream_download"]


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
    connections: Optional[int] = None,
) -> Tuple[Path, int, str]:
    """Stream ``GET path`` into the file ``output`` with the same guarantees as model downloads.

    Resumable through ``<output>.part``, verified, fsynced and renamed into place.
    Returns the path, the size and the sha256 hex digest.
    """
    check_connections(connections)
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
        connections=connections,
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
    connections: Optional[int] = None,
) -> Tuple[Path, int, str]:
    """Stream ``GET path?params`` into ``target``, resuming a ``.part`` left for the same request.

    ``connections``: how many ranged connections fetch the file at once (``None``:
    :data:`DEFAULT_CONNECTIONS` for a file of :data:`AUTO_THRESHOLD` bytes or more whose
    server answers ``Range`` with ``206``, else one); see ``segments.py``.

    ``label`` names the download in messages. The target is locked for the download:
    another download of it waits up to ``lock_timeout`` seconds, then returns the file
    the first one finished (when ``overwrite`` is false and its size and sha256 match
    the first one's record) or downloads it itself. Returns the final path, the size
    and the sha256 hex digest.
    """
    check_connections(connections)

    def stream() -> Stream:
        return Stream(
            transport, path, params, target, progress, timeout, label=label, connections=connections
        )

    return run_locked(transport, target, stream, overwrite=overwrite, lock_timeout=lock_timeout)


def run_locked(
    transport: Transport,
    target: Target,
    stream: Callable[[], Stream],
    *,
    overwrite: bool,
    lock_timeout: float,
) -> Tuple[Path, int, str]:
    """Run the download ``stream()`` builds under the target's lock.

    A download of the same target that finished while this one waited for the lock is
    returned as it is (when ``overwrite`` is false and its record matches the file).
    """
    with TargetLock(target.part, timeout=lock_timeout, sleep=transport.sleep) as lock:
        if not overwrite and lock.record is not None:
            done = finished_meanwhile(lock.record, target)
            if done is not None:
                return done
        final, size, digest = stream().run(overwrite)
        lock.finished(final, size, digest)
        return final, size, digest
