"""The bodies this library sends: create and price-estimate requests."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import attrs

from .training import BatchSize, LRScheduler, MultimodalParams, TrainingMethod, TrainingType


def _names(value: Optional[Mapping[str, Any]]) -> str:
    """The repr of ``extra_body``: its keys only (a value may be a secret)."""
    return "None" if value is None else repr(sorted(value))


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
    gradient_accumulation_steps: Optional[int] = None
    early_stopping_enabled: Optional[bool] = None
    early_stopping_patience: Optional[int] = None
    early_stopping_min_delta: Optional[float] = None
    early_stopping_warmup_evals: Optional[int] = None
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
    #: Fields this version does not type yet, merged last into the body: a key
    #: replaces the field of the same name. Only the names show in the repr.
    extra_body: Optional[Mapping[str, Any]] = attrs.field(default=None, repr=_names)


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
