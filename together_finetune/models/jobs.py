"""A fine-tuning job and what hangs off it: events, checkpoints, progress."""

from __future__ import annotations

from datetime import datetime
from typing import List, Literal, Optional, Union

import attrs

from ._display import summarized
from ._enums import FineTuneEventLevel, FineTuneEventType, FineTuneStatus
from .training import BatchSize, LRScheduler, MultimodalParams, TrainingMethod, TrainingType


@attrs.frozen
class FineTuneProgress:
    """Estimated time to the job's next status change."""

    estimate_available: Optional[bool] = None
    seconds_remaining: Optional[float] = None


@summarized("created_at", "level", "type", "step", "message")
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


@summarized("id", "status", "model", "steps_completed", "total_steps", "created_at")
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


@summarized("step", "checkpoint_type", "created_at", "path")
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
