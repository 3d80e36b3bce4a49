"""Progress adapters: a tqdm bar or a callback for downloads, a byte counter for uploads."""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Generator, Optional, Union

from ..errors import TogetherError, UploadError

__all__ = [
    "ProgressCallback",
    "UploadCounter",
    "UploadProgress",
    "check_progress",
    "download_progress",
]

#: ``progress(bytes_done, total)``; ``total`` is ``None`` when the server did not say.
ProgressCallback = Callable[[int, Optional[int]], None]
#: ``progress(bytes_sent, total)``.
UploadProgress = Callable[[int, int], None]


def check_progress(progress: Union[bool, ProgressCallback, None]) -> None:
    """Refuse a ``progress`` argument no download can use, before anything is sent.

    :raises ValueError: not ``True``, ``False``, ``None`` or a callable.
    :raises TogetherError: ``True`` without tqdm installed (the ``progress`` extra).
    """
    if progress is True:
        import importlib.util

        if importlib.util.find_spec("tqdm") is None:
            raise TogetherError(
                "progress=True needs tqdm: pip install 'together-finetune[progress]'"
            )
    elif progress is not None and progress is not False and not callable(progress):
        raise ValueError("progress must be True, False, None or a callable (done, total)")


@contextlib.contextmanager
def download_progress(
    progress: Union[bool, ProgressCallback, None], name: str
) -> Generator[Optional[ProgressCallback], None, None]:
    """The callback for a download's ``progress`` argument, for the ``with`` block.

    ``True`` draws a tqdm bar on stderr named ``name``, closed when the block ends
    (however it ends); a callable is used as it is; ``None``/``False`` give ``None``.
    """
    check_progress(progress)
    if progress is not True:
        yield progress or None
        return
    from tqdm.auto import tqdm

    bar = tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=name[:40], leave=True)

    def update(done: int, total: Optional[int]) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


class UploadCounter:
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
        """Count ``size`` bytes sent; raises :class:`UploadError` once cancelled."""
        if self._cancelled.is_set():
            raise UploadError("upload cancelled: another part failed or the upload was interrupted")
        with self._lock:
            self.done = min(self.total, self.done + size)
            done = self.done
        if self.callback is not None:
            self.callback(done, self.total)

    def rewind(self, size: int) -> None:
        """Take back ``size`` bytes of an attempt that failed (they will be sent again)."""
        with self._lock:
            self.done = max(0, self.done - size)
