"""Files stored with the API."""

from __future__ import annotations

from typing import Any, Optional

import attrs

from ._display import summarized


@summarized("id", "filename", "bytes", "purpose", "processing_status", "created_at")
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
