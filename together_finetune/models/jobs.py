"""A fine-tuning job and what hangs off it: events, checkpoints, progress."""

from __future__ import annotations

from datetime import datetime
from typing import List, Literal, Optional, Union

import attrs

from ._base import WireObject
from ._display import summarized
from ._enums import FineTuneEventLevel, FineTuneEventType, FineTuneStatus
from .training import BatchSize, LRScheduler, MultimodalParams, TrainingMethod, TrainingType


@attrs.frozen
class FineTuneProgress(WireObject):
    """Estimated time to the job's next status change."""

    estimate_available: Optional[bool] = None
    seconds_remaining: Optional[float] = None


@summarized("created_at", "level", "type", "step", "message")
@attrs.frozen
class FineTuneEvent(WireObject):
    """One entry of a job's event log.

    :ivar early_stopping_best_step: on an ``early_stopped`` event, the step of the
        best evaluation (the halt step when ``early_stopping_best_metric_value`` is
        ``None``: no finite improving evaluation was recorded).
    :ivar early_stopping_best_metric_value: the best validation loss seen.
    :ivar tokenized_dataset_path: where the tokenized data set was stored (on
        ``tokenized_dataset_upload_complete``).
    """

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
    early_stopping_best_step: Optional[int] = None
    early_stopping_best_metric_value: Optional[float] = None
    tokenized_dataset_path: Optional[str] = None


@summarized("id", "status", "model", "steps_completed", "total_steps", "created_at")
@attrs.frozen
class FineTune(WireObject):
    """A fine-tuning job, as returned by create, list, retrieve and cancel.

    Only ``id`` and ``status`` are always present; list and create answers
    carry fewer fields than retrieve.

    :ivar total_price: what the job cost, as the API sends it: an integer in
        nanodollars (:attr:`total_price_usd` gives dollars).
    :ivar early_stopped: whether early stopping halted the job.
    :ivar early_stopping_best_metric: the best validation loss seen (``None``: no
        finite improving evaluation was recorded).
    :ivar early_stopping_best_step: the step of that evaluation (the halt step
        when the metric is ``None``).
    :ivar model_object_name: the output model's entry in Together's model
        registry (``<project>/<model>``), with ``model_object_id`` (``ml_...``) and
        ``model_object_revision_id`` (``rv_...``).
    :ivar adapter_object_name: the same for the LoRA adapter
        (``<project>/<model>-adapter``), with its ID and revision ID.
    :ivar wandb_entity: the Weights & Biases team or user the run was logged under.
    :ivar tokenized_dataset_path: where the tokenized training data was stored,
        and ``tokenized_dataset_uploaded_at`` when (see
        :meth:`FineTunes.download_tokenized_dataset
        <together_finetune.fine_tunes.FineTunes.download_tokenized_dataset>`).
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
    wandb_entity: Optional[str] = None
    wandb_url: Optional[str] = None
    wandb_base_url: Optional[str] = None
    trainingfile_numlines: Optional[int] = None
    trainingfile_size: Optional[int] = None
    token_count: Optional[int] = None
    param_count: Optional[int] = None
    total_price: Optional[int] = None
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
    gradient_accumulation_steps: Optional[int] = None
    early_stopping_enabled: Optional[bool] = None
    early_stopping_patience: Optional[int] = None
    early_stopping_min_delta: Optional[float] = None
    early_stopping_warmup_evals: Optional[int] = None
    early_stopped: Optional[bool] = None
    early_stopping_best_metric: Optional[float] = None
    early_stopping_best_step: Optional[int] = None
    model_object_id: Optional[str] = None
    model_object_name: Optional[str] = None
    model_object_revision_id: Optional[str] = None
    adapter_object_id: Optional[str] = None
    adapter_object_name: Optional[str] = None
    adapter_object_revision_id: Optional[str] = None
    tokenized_dataset_path: Optional[str] = None
    tokenized_dataset_uploaded_at: Optional[datetime] = None

    @property
    def total_price_usd(self) -> Optional[float]:
        """:attr:`total_price` in dollars (the wire integer is nanodollars); ``None`` if absent."""
        return None if self.total_price is None else self.total_price / 1e9

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change (see :attr:`FineTuneStatus.is_terminal`)."""
        return self.status.is_terminal


@summarized("step", "checkpoint_type", "created_at", "path")
@attrs.frozen
class Checkpoint(WireObject):
    """A saved model version of a job (intermediate or final).

    :ivar checkpoint: ``"model"`` or ``"adapter"``: what this checkpoint is, the
        selector the download endpoint takes.
    :ivar object_name: its entry in Together's model registry, with
        ``object_id`` (``ml_...``) and ``object_revision_id``.
    """

    step: Optional[int] = None
    path: Optional[str] = None
    created_at: Optional[datetime] = None
    checkpoint_type: Optional[str] = None
    checkpoint: Optional[str] = None
    object_id: Optional[str] = None
    object_name: Optional[str] = None
    object_revision_id: Optional[str] = None


@attrs.frozen
class DeleteResult(WireObject):
    """The answer to a delete."""

    message: Optional[str] = None
