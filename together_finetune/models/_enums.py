"""Open string enums: values the library does not know yet are kept as they came."""

from __future__ import annotations

import enum
from typing import Any


class _OpenStrEnum(str, enum.Enum):
    """A ``str`` enum that keeps values it does not know.

    Lookup ignores case; an unknown value becomes a pseudo-member that still
    compares equal to its wire string, so a new server value never breaks
    decoding.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        members = cls._value2member_map_
        member = members.get(value.lower())
        if member is None:
            member = members.get(value.upper())
        if member is not None:
            return member
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value.upper()
        pseudo._value_ = value
        return pseudo

    def __str__(self) -> str:
        return str(self.value)


class FineTuneStatus(_OpenStrEnum):
    """Status of a fine-tuning job. ``job.status == "completed"`` holds."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPRESSING = "compressing"
    UPLOADING = "uploading"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    ERROR = "error"
    USER_ERROR = "user_error"
    COMPLETED = "completed"

    @property
    def is_terminal(self) -> bool:
        """True for statuses a job never leaves: completed, error, user_error, cancelled."""
        return self.value in _TERMINAL_STATUSES

    @property
    def is_failure(self) -> bool:
        """True for the terminal statuses that are not ``completed``."""
        return self.is_terminal and self.value != "completed"


_TERMINAL_STATUSES = frozenset({"completed", "error", "user_error", "cancelled"})


class FineTuneEventType(_OpenStrEnum):
    """Kind of a job event. The API sends these upper- or lower-case; both decode."""

    JOB_PENDING = "job_pending"
    JOB_START = "job_start"
    JOB_STOPPED = "job_stopped"
    MODEL_DOWNLOADING = "model_downloading"
    MODEL_DOWNLOAD_COMPLETE = "model_download_complete"
    TRAINING_DATA_DOWNLOADING = "training_data_downloading"
    TRAINING_DATA_DOWNLOAD_COMPLETE = "training_data_download_complete"
    VALIDATION_DATA_DOWNLOADING = "validation_data_downloading"
    VALIDATION_DATA_DOWNLOAD_COMPLETE = "validation_data_download_complete"
    WANDB_INIT = "wandb_init"
    TRAINING_START = "training_start"
    CHECKPOINT_SAVE = "checkpoint_save"
    BILLING_LIMIT = "billing_limit"
    EPOCH_COMPLETE = "epoch_complete"
    EVAL_COMPLETE = "eval_complete"
    TRAINING_COMPLETE = "training_complete"
    MODEL_COMPRESSING = "model_compressing"
    COMPRESSING_MODEL = "compressing_model"
    MODEL_COMPRESSION_COMPLETE = "model_compression_complete"
    MODEL_UPLOADING = "model_uploading"
    MODEL_UPLOAD_COMPLETE = "model_upload_complete"
    MODEL_UPLOADING_TO_HF = "model_uploading_to_hf"
    MODEL_UPLOAD_TO_HF_COMPLETE = "model_upload_to_hf_complete"
    JOB_COMPLETE = "job_complete"
    JOB_ERROR = "job_error"
    JOB_USER_ERROR = "job_user_error"
    CANCEL_REQUESTED = "cancel_requested"
    JOB_RESTARTED = "job_restarted"
    REFUND = "refund"
    WARNING = "warning"
    EARLY_STOPPED = "early_stopped"
    TOKENIZED_DATASET_UPLOAD_COMPLETE = "tokenized_dataset_upload_complete"


class FineTuneEventLevel(_OpenStrEnum):
    """Severity of an event (``Info``, ``info`` and ``INFO`` all decode to ``INFO``).

    The ``LEGACY_*`` members are levels older jobs carry (the spec's enum spells
    two of them with a stray ``i``, as the API does).
    """

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    LEGACY_INFO = "legacy_info"
    LEGACY_IWARNING = "legacy_iwarning"
    LEGACY_IERROR = "legacy_ierror"


class FileProcessingStatus(_OpenStrEnum):
    """Where the server is with checking an uploaded file (``processing_status``).

    Values it does not know yet are kept; lookup ignores case, and a member
    compares equal to its upper-case wire string (``status == "COMPLETED"``).
    """

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    INVALID_FORMAT = "INVALID_FORMAT"

    @property
    def is_final(self) -> bool:
        """True once the server is done: ``COMPLETED``, ``FAILED`` or ``INVALID_FORMAT``."""
        return self.value.upper() in ("COMPLETED", "FAILED", "INVALID_FORMAT")
