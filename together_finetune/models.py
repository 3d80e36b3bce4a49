"""Every data class of the library, as frozen attrs classes.

The API's objects first (attribute names are the wire names), then the
library's own results (:class:`DownloadResult`, :class:`DatasetReport`). The
mapping from JSON lives in :mod:`together_finetune.converter` and nowhere else.
Decoding is forward compatible: unknown keys are ignored, every field except
an object's identity is optional, and enum values the library does not know
yet are kept as they came.
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

import attrs

__all__ = [
    "DPO",
    "SFT",
    "BatchSize",
    "Checkpoint",
    "CosineLRScheduler",
    "DatasetProblem",
    "DatasetReport",
    "DeleteResult",
    "DownloadResult",
    "FileDeleteResult",
    "FileObject",
    "FineTune",
    "FineTuneEvent",
    "FineTuneEventLevel",
    "FineTuneEventType",
    "FineTuneProgress",
    "FineTuneRequest",
    "FineTuneStatus",
    "FullTraining",
    "LRScheduler",
    "LinearLRScheduler",
    "LoRATraining",
    "ModelLimits",
    "MultimodalParams",
    "PriceEstimate",
    "PriceEstimateRequest",
    "TrainingLimits",
    "TrainingMethod",
    "TrainingType",
    "UnknownLRScheduler",
    "UnknownTrainingMethod",
    "UnknownTrainingType",
]


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
        member = cls._value2member_map_.get(value.lower())
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


class FineTuneEventLevel(_OpenStrEnum):
    """Severity of an event (``Info``, ``info`` and ``INFO`` all decode to ``INFO``)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@attrs.frozen
class FullTraining:
    """Full-parameter training (``{"type": "Full"}`` on the wire)."""


@attrs.frozen
class LoRATraining:
    """LoRA adapter training (``{"type": "Lora", ...}`` on the wire).

    :param lora_r: adapter rank.
    :param lora_alpha: scaling; defaults to ``2 * lora_r``.
    :param lora_dropout: dropout in [0, 1); server default when ``None``.
    :param lora_trainable_modules: comma-separated module names, e.g. ``"all-linear"``.
    """

    lora_r: int = 8
    lora_alpha: int = attrs.field(
        default=attrs.Factory(lambda self: 2 * self.lora_r, takes_self=True)
    )
    lora_dropout: Optional[float] = None
    lora_trainable_modules: Optional[str] = None


@attrs.frozen
class UnknownTrainingType:
    """A training type this version of the library does not know, kept as sent."""

    type: str
    raw: Dict[str, Any] = attrs.field(factory=dict, eq=False)


TrainingType = Union[FullTraining, LoRATraining, UnknownTrainingType]


@attrs.frozen
class SFT:
    """Supervised fine-tuning (``{"method": "sft", ...}``).

    :param train_on_inputs: ``True``, ``False`` or ``"auto"`` (mask the inputs
        when the data set's format says which tokens are inputs).
    """

    train_on_inputs: Union[bool, Literal["auto"]] = "auto"


@attrs.frozen
class DPO:
    """Direct preference optimisation (``{"method": "dpo", ...}``); ``None`` fields are not sent."""

    dpo_beta: Optional[float] = None
    rpo_alpha: Optional[float] = None
    dpo_normalize_logratios_by_length: Optional[bool] = None
    dpo_reference_free: Optional[bool] = None
    simpo_gamma: Optional[float] = None


@attrs.frozen
class UnknownTrainingMethod:
    """A training method this version of the library does not know, kept as sent."""

    method: str
    raw: Dict[str, Any] = attrs.field(factory=dict, eq=False)


TrainingMethod = Union[SFT, DPO, UnknownTrainingMethod]


@attrs.frozen
class LinearLRScheduler:
    """Linear decay to ``min_lr_ratio`` × the learning rate."""

    min_lr_ratio: float = 0.0


@attrs.frozen
class CosineLRScheduler:
    """Cosine decay to ``min_lr_ratio`` × the learning rate over ``num_cycles`` cycles."""

    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5


@attrs.frozen
class UnknownLRScheduler:
    """A scheduler this library does not know, or the legacy empty one.

    Legacy jobs send ``lr_scheduler_type: ""`` with no arguments.
    """

    lr_scheduler_type: str
    lr_scheduler_args: Optional[Dict[str, Any]] = attrs.field(default=None, eq=False)


LRScheduler = Union[LinearLRScheduler, CosineLRScheduler, UnknownLRScheduler]

BatchSize = Union[int, Literal["max"]]


@attrs.frozen
class MultimodalParams:
    """Options for multimodal models."""

    train_vision: Optional[bool] = None


@attrs.frozen
class FineTuneProgress:
    """Estimated time to the job's next status change."""

    estimate_available: Optional[bool] = None
    seconds_remaining: Optional[float] = None


@attrs.frozen
class FineTuneEvent:
    """One entry of a job's event log."""

    message: Optional[str] = None
    type: Optional[FineTuneEventType] = None
    level: Optional[FineTuneEventLevel] = None
    created_at: Optional[datetime] = None
    object: Optional[str] = None
    param_count: Optional[int] = None
    token_count: Optional[int] = None
    total_steps: Optional[int] = None
    wandb_url: Optional[str] = None
    step: Optional[int] = None
    checkpoint_path: Optional[str] = None
    model_path: Optional[str] = None
    training_offset: Optional[int] = None
    hash: Optional[str] = None


@attrs.frozen
class FineTune:
    """A fine-tuning job, as returned by create, list, retrieve and cancel.

    Only ``id`` and ``status`` are always present; list and create answers
    carry fewer fields than retrieve.
    """

    id: str
    status: FineTuneStatus
    model: Optional[str] = None
    training_file: Optional[str] = None
    validation_file: Optional[str] = None
    model_output_name: Optional[str] = None
    model_output_path: Optional[str] = None
    adapter_output_name: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    training_type: Optional[TrainingType] = None
    training_method: Optional[TrainingMethod] = None
    lr_scheduler: Optional[LRScheduler] = None
    n_epochs: Optional[int] = None
    n_checkpoints: Optional[int] = None
    n_evals: Optional[int] = None
    batch_size: Optional[BatchSize] = None
    learning_rate: Optional[float] = None
    warmup_ratio: Optional[float] = None
    max_grad_norm: Optional[float] = None
    weight_decay: Optional[float] = None
    eval_steps: Optional[int] = None
    train_on_inputs: Optional[Union[bool, Literal["auto"]]] = None
    packing: Optional[bool] = None
    max_seq_length: Optional[int] = None
    random_seed: Optional[int] = None
    suffix: Optional[str] = None
    multimodal_params: Optional[MultimodalParams] = None
    from_checkpoint: Optional[str] = None
    from_hf_model: Optional[str] = None
    hf_model_revision: Optional[str] = None
    hf_output_repo_name: Optional[str] = None
    wandb_project_name: Optional[str] = None
    wandb_name: Optional[str] = None
    wandb_url: Optional[str] = None
    wandb_base_url: Optional[str] = None
    trainingfile_numlines: Optional[int] = None
    trainingfile_size: Optional[int] = None
    token_count: Optional[int] = None
    param_count: Optional[int] = None
    total_price: Optional[float] = None
    epochs_completed: Optional[int] = None
    steps_completed: Optional[int] = None
    total_steps: Optional[int] = None
    evals_completed: Optional[int] = None
    queue_depth: Optional[int] = None
    job_id: Optional[str] = None
    user_id: Optional[str] = None
    owner_address: Optional[str] = None
    progress: Optional[FineTuneProgress] = None
    events: Optional[List[FineTuneEvent]] = None

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change (see :attr:`FineTuneStatus.is_terminal`)."""
        return self.status.is_terminal


@attrs.frozen
class Checkpoint:
    """A saved model version of a job (intermediate or final)."""

    step: Optional[int] = None
    path: Optional[str] = None
    created_at: Optional[datetime] = None
    checkpoint_type: Optional[str] = None


@attrs.frozen
class DeleteResult:
    """The answer to a delete."""

    message: Optional[str] = None


@attrs.frozen
class PriceEstimate:
    """What a job would cost, or why that cannot be estimated yet.

    ``estimation_available`` is False when the API could not estimate
    (``unavailable_reason`` says why, e.g. ``"train_file_not_validated"``).
    """

    estimation_available: bool = True
    estimated_total_price: Optional[float] = None
    allowed_to_proceed: Optional[bool] = None
    user_limit: Optional[float] = None
    estimated_train_token_count: Optional[float] = None
    estimated_eval_token_count: Optional[float] = None
    unavailable_reason: Optional[str] = None


@attrs.frozen
class TrainingLimits:
    """Batch-size (and, for LoRA, rank) limits of one training type."""

    max_batch_size: Optional[int] = None
    min_batch_size: Optional[int] = None
    max_batch_size_dpo: Optional[int] = None
    max_rank: Optional[int] = None
    default_rank: Optional[int] = None
    target_modules: Optional[List[str]] = None


@attrs.frozen
class ModelLimits:
    """What a base model allows for fine-tuning.

    ``full_training`` is ``None`` when the model cannot be fully fine-tuned.
    """

    model_name: str
    full_training: Optional[TrainingLimits] = None
    lora_training: Optional[TrainingLimits] = None
    max_num_epochs: Optional[int] = None
    max_num_evals: Optional[int] = None
    max_num_checkpoints: Optional[int] = None
    max_seq_length_sft: Optional[int] = None
    max_seq_length_dpo: Optional[int] = None
    min_max_seq_length: Optional[int] = None
    default_gradient_accumulation_steps: Optional[int] = None
    supports_full_training: Optional[bool] = None
    max_learning_rate: Optional[float] = None
    min_learning_rate: Optional[float] = None
    supports_vision: Optional[bool] = None
    supports_tools: Optional[bool] = None
    supports_reasoning: Optional[bool] = None
    merge_output_lora: Optional[bool] = None


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


@attrs.frozen
class FineTuneRequest:
    """The body of ``POST /fine-tunes``; ``None`` fields are not sent.

    Built by :meth:`FineTunes.create <together_finetune.fine_tunes.FineTunes.create>`;
    secrets are kept out of the repr.
    """

    training_file: str
    model: Optional[str] = None
    validation_file: Optional[str] = None
    n_epochs: Optional[int] = None
    n_checkpoints: Optional[int] = None
    n_evals: Optional[int] = None
    batch_size: Optional[BatchSize] = None
    learning_rate: Optional[float] = None
    lr_scheduler: Optional[LRScheduler] = None
    warmup_ratio: Optional[float] = None
    max_grad_norm: Optional[float] = None
    weight_decay: Optional[float] = None
    random_seed: Optional[int] = None
    suffix: Optional[str] = None
    packing: Optional[bool] = None
    max_seq_length: Optional[int] = None
    training_type: Optional[TrainingType] = None
    training_method: Optional[TrainingMethod] = None
    multimodal_params: Optional[MultimodalParams] = None
    from_checkpoint: Optional[str] = None
    from_hf_model: Optional[str] = None
    hf_model_revision: Optional[str] = None
    hf_api_token: Optional[str] = attrs.field(default=None, repr=False)
    hf_output_repo_name: Optional[str] = None
    wandb_api_key: Optional[str] = attrs.field(default=None, repr=False)
    wandb_base_url: Optional[str] = None
    wandb_project_name: Optional[str] = None
    wandb_name: Optional[str] = None
    wandb_entity: Optional[str] = None


@attrs.frozen
class PriceEstimateRequest:
    """The body of ``POST /fine-tunes/estimate-price``; ``None`` fields are not sent."""

    training_file: str
    model: Optional[str] = None
    validation_file: Optional[str] = None
    n_epochs: Optional[int] = None
    n_evals: Optional[int] = None
    training_type: Optional[TrainingType] = None
    training_method: Optional[TrainingMethod] = None
    from_checkpoint: Optional[str] = None


@attrs.frozen
class DownloadResult:
    """Where a download landed.

    :ivar path: the complete file (or the directory it was extracted into).
    :ivar size: bytes of the downloaded file.
    :ivar sha256: hex digest of the downloaded file, computed while streaming.
    """

    id: str
    checkpoint_step: Optional[int]
    path: Path
    size: int
    sha256: str = ""
    checkpoint: Optional[str] = None


@attrs.frozen
class DatasetProblem:
    """One problem (or warning) found in a data set.

    :param line: the line it is on, counted from 1 (``None``: the file as a whole).
    :param message: what is wrong.
    """

    line: Optional[int]
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@attrs.frozen
class DatasetReport:
    """What :func:`~together_finetune.dataset.check_dataset` found.

    :param path: the file checked.
    :param format: ``"general"``, ``"instruction"``, ``"conversational"``,
        ``"preference"``, ``"tokenized"`` (Parquet), ``"csv"``, or ``None`` when
        no format could be detected.
    :param num_examples: examples (non-blank lines; rows for CSV; ``None`` for
        Parquet, whose rows are not counted without ``pyarrow``).
    :param problems: every error (what the server certainly refuses), in file order.
    :param warnings: what may or may not be accepted by the server, in file order;
        at most the first 1000 are kept.
    :param warnings_omitted: warnings found beyond those kept in :attr:`warnings`.
    """

    path: str
    format: Optional[str]
    num_examples: Optional[int]
    problems: Tuple[DatasetProblem, ...] = ()
    warnings: Tuple[DatasetProblem, ...] = ()
    warnings_omitted: int = 0

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings do not count)."""
        return not self.problems

    @property
    def warning_count(self) -> int:
        """Every warning found, kept or not."""
        return len(self.warnings) + self.warnings_omitted

    def summary(self, limit: int = 10) -> str:
        """A readable account of the report, listing at most ``limit`` problems and
        ``limit`` warnings."""
        warned = self.warning_count
        if self.ok:
            head = f"{self.path}: {self.format} format, {self.num_examples} examples, no problems"
            if warned:
                head += f", {_plural(warned, 'warning')}"
            lines = [head]
        else:
            count = len(self.problems)
            head = f"{self.path}: {_plural(count, 'problem')}"
            if warned:
                head += f", {_plural(warned, 'warning')}"
            lines = [head]
            lines += [f"  - {problem}" for problem in self.problems[:limit]]
            if count > limit:
                lines.append(f"  ... and {count - limit} more")
        lines += [f"  warning: {warning}" for warning in self.warnings[:limit]]
        if warned > limit:
            lines.append(f"  ... and {warned - limit} more warnings")
        return "\n".join(lines)
