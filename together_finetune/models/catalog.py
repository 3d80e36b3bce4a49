"""What the API says about models: price estimates and training limits."""

from __future__ import annotations

from typing import List, Optional

import attrs

from ._base import WireObject
from ._display import summarized


@summarized("estimated_total_price", "allowed_to_proceed", "unavailable_reason")
@attrs.frozen
class PriceEstimate(WireObject):
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
class TrainingLimits(WireObject):
    """Batch-size (and, for LoRA, rank) limits of one training type."""

    max_batch_size: Optional[int] = None
    min_batch_size: Optional[int] = None
    max_batch_size_dpo: Optional[int] = None
    max_rank: Optional[int] = None
    default_rank: Optional[int] = None
    target_modules: Optional[List[str]] = None


@summarized("model_name", "max_num_epochs", "supports_vision")
@attrs.frozen
class ModelLimits(WireObject):
    """What a base model allows for fine-tuning.

    ``full_training`` is ``None`` when the model cannot be fully fine-tuned;
    ``lora_training.default_rank`` is the rank a job gets when
    ``LoRATraining()`` names none; ``supports_vision`` says whether
    ``MultimodalParams(train_vision=True)`` is allowed.
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
