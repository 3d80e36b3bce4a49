"""Files stored with the API."""

from __future__ import annotations

from typing import Optional

import attrs

from ._base import WireObject
from ._display import summarized
from ._enums import FileProcessingStatus


@attrs.frozen
class ValidationReport(WireObject):
    """What the server found when it checked an uploaded data file.

    :ivar valid: whether the file can be trained on.
    :ivar dataset_format: the format it detected, e.g. ``"CONVERSATION"``.
    :ivar error: why the file is invalid (with ``error_type``, e.g. ``"INVALID_FORMAT"``).
    :ivar nlines: lines (samples) in the file.
    :ivar dataset_has_parallel_tool_calls: and the other ``dataset_*`` flags say
        which features the data set uses.
    """

    valid: Optional[bool] = None
    dataset_format: Optional[str] = None
    dataset_has_message_weights: Optional[bool] = None
    dataset_has_parallel_tool_calls: Optional[bool] = None
    dataset_has_reasoning: Optional[bool] = None
    dataset_has_sample_weights: Optional[bool] = None
    dataset_has_tools: Optional[bool] = None
    dataset_is_multimodal: Optional[bool] = None
    error: Optional[str] = None
    error_type: Optional[str] = None
    file_id: Optional[str] = None
    nlines: Optional[int] = None


@summarized("id", "filename", "bytes", "purpose", "processing_status", "created_at")
@attrs.frozen
class FileObject(WireObject):
    """A file stored with Together (``FileResponse`` on the wire).

    :param id: the file ID (``file-...``), what ``training_file`` takes.
    :param filename: the name it was uploaded under.
    :param bytes: its size.
    :param created_at: when it was uploaded, in epoch seconds.
    :param purpose: ``"fine-tune"``, ``"eval"``, ...
    :param file_type: ``"jsonl"``, ``"parquet"`` or ``"csv"`` (``FileType`` on the wire).
    :param processed: whether the API has processed it (``Processed`` on the wire).
    :param processing_status: ``PENDING``, ``QUEUED``, ``RUNNING``, ``COMPLETED``,
        ``FAILED`` or ``INVALID_FORMAT`` (sent by the preprocess step; see
        :meth:`Files.wait_until_processed <together_finetune.files.Files.wait_until_processed>`).
    :param validation_report: what the server's check of the file found, once it ran.
    """

    id: str
    object: str = "file"
    filename: Optional[str] = None
    bytes: Optional[int] = None
    created_at: Optional[int] = None
    purpose: Optional[str] = None
    file_type: Optional[str] = None
    processed: Optional[bool] = None
    processing_status: Optional[FileProcessingStatus] = None
    validation_report: Optional[ValidationReport] = None


@attrs.frozen
class FileDeleteResult(WireObject):
    """The answer to ``DELETE /files/{id}``."""

    id: str
    deleted: bool = True
