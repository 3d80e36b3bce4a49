"""Model downloads and archive extraction: the public names.

The engines live in the private :mod:`together_finetune._transfer` package:
the resumable download (``stream``), the plan of a model download (``model``),
safe extraction (``archive``) and progress adapters (``progress``). Most code
wants :meth:`FineTunes.download <together_finetune.fine_tunes.FineTunes.download>`
and :meth:`Files.content <together_finetune.files.Files.content>` instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional, Union

from ._transfer.archive import extract_archive
from ._transfer.fetch import download_to_file as download_to_file  # importable as before
from ._transfer.progress import ProgressCallback
from ._transfer.pump import CHUNK_SIZE
from ._transfer.stream import DEFAULT_READ_TIMEOUT as DEFAULT_READ_TIMEOUT  # importable as before

if TYPE_CHECKING:  # pragma: no cover
    from .fine_tunes import FineTunes
    from .models import DownloadResult
    from .transport import Timeout

__all__ = ["CHUNK_SIZE", "ProgressCallback", "download_fine_tune", "extract_archive"]


def download_fine_tune(
    fine_tunes: FineTunes,
    job_id: str,
    *,
    checkpoint: Optional[str],
    checkpoint_step: Optional[int],
    output: Union[str, os.PathLike[str], None],
    overwrite: bool,
    extract: bool,
    progress: Union[bool, ProgressCallback, None],
    timeout: Optional[Timeout],
) -> DownloadResult:
    """Download a job's model or checkpoint: the same as :meth:`FineTunes.download`."""
    return fine_tunes.download(
        job_id,
        checkpoint=checkpoint,  # type: ignore[arg-type]
        checkpoint_step=checkpoint_step,
        output=output,
        overwrite=overwrite,
        extract=extract,
        progress=progress,
        timeout=timeout,
    )
